"""The person detector (anchors, decoding, merging, tiles, HOG's squares) and the turned crops it gives."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

from tfpose3d.data.camera import Region, body_region, project, turn_3d, upright_angle
from tfpose3d.data.images import crop_region
from tfpose3d.data.photos import found_people
from tfpose3d.data import scenes
from tfpose3d.parts import PARTS, PartNetwork, peaks_in_image
from tfpose3d import detect
from tfpose3d.detect import (INPUT, Detection, PersonDetector, anchors, decode, parts_within, same_person, views,
                             weighted_nms)

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-photos-dev"


def test_anchors_as_mediapipe_lays_them():
    a = anchors()
    # 28x28 cells of stride 8 and 14x14 of stride 16 with two anchors each, 7x7 of stride 32 with six.
    assert a.shape == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 2) == (2254, 2)
    np.testing.assert_allclose(a[:3], [[0.5 / 28, 0.5 / 28], [0.5 / 28, 0.5 / 28], [1.5 / 28, 0.5 / 28]])
    np.testing.assert_allclose(a[2 * 28], [0.5 / 28, 1.5 / 28])  # row by row
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[-6:], [[6.5 / 7, 6.5 / 7]] * 6)


def test_decoding_by_hand():
    raw = np.zeros((2254, 12))
    scores = np.full(2254, -10.0)
    k = 1568 + 2 * (14 * 3 + 5)  # stride 16, row 3, column 5: centre (5.5/14, 3.5/14)
    scores[k] = math.log(0.9 / 0.1)  # a logit of 0.9
    raw[k] = [22.4, -11.2, 44.8, 33.6, 0, 0, 11.2, 22.4, 0, -22.4, 2.24, 0]
    s, boxes, points = decode(raw, scores, 0.5)
    cx, cy = 5.5 / 14, 3.5 / 14
    np.testing.assert_allclose(s, [0.9])
    # Centre offsets and sizes in input pixels, keypoints as offsets from the anchor, all over 224.
    np.testing.assert_allclose(boxes[0], [cx + 0.1 - 0.1, cy - 0.05 - 0.075, 0.2, 0.15])
    np.testing.assert_allclose(points[0], [[cx, cy], [cx + 0.05, cy + 0.1], [cx, cy - 0.1], [cx + 0.01, cy]])
    assert decode(raw, scores, 0.95)[0].size == 0


def test_weighted_merge_of_overlapping_detections():
    scores = np.array([0.6, 0.9, 0.8])
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 10.0, 10.0], [50.0, 50.0, 10.0, 10.0]])
    points = np.stack([np.full((4, 2), v) for v in (0.0, 3.0, 7.0)])
    merged = weighted_nms(scores, boxes, points, 0.3)
    assert [m[0] for m in merged] == [0.9, 0.8]
    np.testing.assert_allclose(merged[0][1], [0.6, 0, 10, 10])  # (0.9 * 1 + 0.6 * 0) / 1.5
    np.testing.assert_allclose(merged[0][2], np.full((4, 2), 1.8))
    np.testing.assert_allclose(merged[1][1], boxes[2])


def test_views_cover_the_image_at_each_level():
    width, height = 1920, 1080
    squares = views(width, height, 2)
    assert squares[0] == (0.0, -420.0, 1920.0)  # letterboxed as MediaPipe does
    for level, count in ((1, 3), (2, 5 * 2)):  # 1080 px squares 420 px apart; 720 px squares 300 and 360 apart
        side = 2 * height / (level + 1)
        tiles = [v for v in squares[1:] if v[2] == side]
        assert len(tiles) == count
        assert max(x + s for x, _, s in tiles) >= width and max(y + s for _, y, s in tiles) >= height


def test_a_turned_crop_puts_the_body_upright_and_maps_back():
    image = np.zeros((200, 300, 3), np.uint8)
    image[95:105, 40:60] = 255  # the hips, left
    image[95:105, 140:160] = 128  # the shoulders, right: a person lying
    angle = upright_angle(np.array([50.0, 100.0]), np.array([150.0, 100.0]))
    region = Region((100.0, 100.0), 160.0, angle)
    crop = crop_region(image, region, 64)
    hips, shoulders = (np.argwhere(crop[..., 0] == v).mean(0)[::-1] for v in (255, 128))
    assert shoulders[1] < hips[1] - 30 and abs(shoulders[0] - hips[0]) < 1  # straight above
    np.testing.assert_allclose(region.into_crop([[50.0, 100.0], [150.0, 100.0]], 64), [hips + 0.5, shoulders + 0.5], atol=0.6)
    np.testing.assert_allclose(region.from_crop(region.into_crop([[7.0, 9.0]], 64), 64), [[7.0, 9.0]])
    assert region.holds(np.array([[100.0, 100.0], [100.0, 10.0]])).tolist() == [True, False]


def test_turning_the_pose_back_is_a_roll_of_the_camera():
    # A camera whose principal point is the crop's centre: the crop of a turned region sees the points the
    # camera rolled by the region's angle sees, so turning those back gives the camera's own points.
    points = np.random.default_rng(0).normal(0, 300, (17, 3)) + [0, 0, 4000]
    intrinsics = np.array([1000.0, 1000.0, 320.0, 240.0])
    region = Region((320.0, 240.0), 400.0, 0.7)
    in_crop = region.into_crop(project(points, intrinsics), 256)
    k = 256 / 400
    rolled = turn_3d(points, Region(region.centre, 1.0, -region.angle))
    np.testing.assert_allclose(project(rolled, [1000 * k, 1000 * k, 128, 128]), in_crop, atol=1e-6)
    np.testing.assert_allclose(turn_3d(rolled, region), points, atol=1e-9)


def test_annotation_crops_turn_on_the_annotated_torso():
    joints = np.full((17, 2), np.nan)
    joints[[1, 4]] = [[100, 50], [100, 70]]  # hips
    joints[[11, 14]] = [[40, 50], [40, 70]]  # shoulders to the left: lying
    assert math.degrees(body_region(joints, 1.45).angle) == pytest.approx(-90)
    joints[[11, 14]] = np.nan  # without shoulders: upright, as the box alone says
    assert body_region(joints, 1.45).angle == 0.0


def _person(hips, shoulders, feet):
    joints = np.full((17, 2), np.nan)
    joints[[1, 4]], joints[[11, 14]], joints[[3, 6]] = hips, shoulders, feet
    return {"joints_2d": joints}


def test_people_are_matched_to_the_detection_on_their_torso():
    # Two people 100 px tall side by side: hips at y 50, shoulders at y 20, feet at y 100.
    left, right = _person([40, 50], [40, 20], [40, 100]), _person([140, 50], [140, 20], [140, 100])
    people = [left, right]
    big = Region((90.0, 60.0), 400.0)  # holds both
    on_left, on_right = np.array([[42.0, 52.0], [41.0, 21.0]]), np.array([[139.0, 50.0], [140.0, 22.0]])
    assert found_people(people, [big, big], [on_right, on_left]) == [1, 0]
    # One detection on the left person: the right one, whose joints it holds, is not found by it.
    assert found_people(people, [big], [on_left]) == [0, None]
    assert found_people(people, [big], [on_left], near=np.inf) == [0, None]  # one box, one person
    assert found_people([right], [big], [on_left], near=np.inf) == [0]  # the looser count takes it
    # A torso 21 px off (over a fifth of the 100 px height) is someone else; a crop too small holds too little.
    assert found_people([left], [big], [on_left + [21, 0]]) == [None]
    assert found_people([left], [Region((40.0, 50.0), 40.0)], [on_left]) == [None]
    assert found_people(people, [], []) == [None, None]


@pytest.mark.parametrize("shape", [(300, 400), (2000, 3), (2000, 30), (30, 2000)])
def test_nobody_in_a_blank_image(shape):
    # A strip squeezed whole into the part network's narrowest input read as ten people.
    assert PersonDetector()(np.full((*shape, 3), 128, np.uint8)) == []


def test_a_person_in_a_long_strip_is_seen_where_she_is():
    image = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    strip = np.concatenate([np.full((400, image.shape[1], 3), 90, np.uint8), image,
                            np.full((1200, image.shape[1], 3), 90, np.uint8)])  # over 2.8 times as tall as wide
    network = PartNetwork()
    alone, within = peaks_in_image(*network(image)), peaks_in_image(*network(strip))  # the strip is padded first
    for part in ("nose", "neck"):
        k = PARTS.index(part)
        nearest = np.linalg.norm(within[k][:, None] - (alone[k] + [0, 400]), axis=-1).min(0)
        assert nearest.min() < 10, part  # her nose and neck 400 px lower, in the strip's own pixels


def test_grace_hopper_found_upright_from_her_face():
    # A public-domain photograph that matplotlib ships: a portrait to the chest.
    image = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    (person,) = PersonDetector()(image)
    x, y, w, h = person.face
    assert 150 < x + w / 2 < 350 and 200 < y + h / 2 < 400 and person.score > 0.6
    hips, shoulders = person.keypoints[0], person.keypoints[2]
    assert hips[1] > image.shape[0] > shoulders[1] > y + h  # shoulders below the face, hips below the picture
    assert abs(math.degrees(person.region(1.0).angle)) < 10


def test_the_second_look_searches_around_each_person_and_adds_nobody_twice():
    image = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    detector = PersonDetector(around=1.5)
    searched, seen = [], []
    whole = detector.blazepose
    # A box in the picture's top left corner, where no part of her lies.
    nothing = Detection.from_keypoints(np.array([[30.0, 30], [30, 10], [30, 20], [30, 15]]), 0.9)

    def recorded(image, squares=None):
        searched.append(squares)
        found = whole(image, squares)
        # The closer look also finding the first person again, nudged, and a box on nothing.
        seen.append(found if squares is None else found + [dataclasses.replace(seen[0][0], score=0.99), nothing])
        return seen[-1]

    detector.blazepose = recorded
    people = detector(image)
    assert people[0] == seen[0][0]
    hips, radius = people[0].body_circle()
    assert searched[0] is None and len(searched[1]) == 1
    np.testing.assert_allclose(searched[1][0].centre, hips)
    assert searched[1][0].side == pytest.approx(3 * radius) and searched[1][0].angle == 0
    assert seen[1][-2] not in people and nothing not in people
    # What else it finds is added: a second, smaller box on her face and shoulders (a portrait's body circle
    # reaches far below the picture), which does not put the torso on hers.
    assert len(people) == 2 and people[1] in seen[1] and not same_person(people[1], people[0])
    assert PersonDetector(around=2)(np.full((300, 400, 3), 128, np.uint8)) == []
    # The whole image as one square is the default search; no square, nobody.
    letterboxed = Region((image.shape[1] / 2, image.shape[0] / 2), max(image.shape[:2]))
    assert [d.box for d in whole(image, [letterboxed])] == [d.box for d in whole(image)]
    assert whole(image, []) == []
    for wrong in (-1, np.nan, np.inf):
        with pytest.raises(ValueError, match="around must be"):
            PersonDetector(around=wrong)
    with pytest.raises(ValueError, match="around needs the part network"):
        PersonDetector(around=2, parts=False)


def test_the_crowd_pass_looks_again_larger_only_in_a_crowd_and_adds_nobody_twice(monkeypatch):
    def person(x):
        return Detection.from_keypoints(np.array([[x, 200.0], [x, 0], [x, 100], [x, 50]]), 0.5)

    # Stand-ins for the part network's two looks: each gives the people its maps are joined into.
    people_in = {"normal": [person(100.0), person(300.0)], "larger": [person(105.0), person(500.0)]}
    monkeypatch.setattr(detect, "from_maps", lambda maps, scale: list(people_in[maps]))
    monkeypatch.setattr(detect, "peaks_in_image", lambda maps, scale: [])
    image = np.zeros((240, 320, 3), np.uint8)
    for crowd, expected in ((2, [100.0, 300.0, 500.0]), (3, [100.0, 300.0])):
        detector = PersonDetector(crowd=crowd)
        sides = []
        detector.blazepose = lambda image: []
        detector.parts = lambda image: ("normal", None)
        detector.crowd_parts = lambda image, side: sides.append(side) or ("larger", None)
        assert [float(p.keypoints[0, 0]) for p in detector(image)] == expected
        # Seen larger once, and only where the first look found a crowd; the person at 105 is the one at 100.
        assert sides == ([detect.CROWD_SIDE] if crowd == 2 else [])
    assert PersonDetector(parts=False).crowd_parts is None and PersonDetector(crowd=0).crowd_parts is None
    for wrong in (-1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="crowd must be"):
            PersonDetector(crowd=wrong)


def test_a_blazepose_box_without_a_persons_parts_is_dropped():
    # The shipped scene photograph 96 (SCENES.md: a kitten; looked at: on a wooden plank), which BlazePose's
    # detector takes for a person at MediaPipe's floor; the part network sees too few parts in its circle.
    kitten = scenes.photos()[96]
    assert len(PersonDetector(parts=False)(kitten)) == 1
    assert PersonDetector()(kitten) == []


def test_parts_within_counts_parts_not_peaks():
    person = Detection.from_keypoints(np.array([[100.0, 100], [100, 0], [100, 50], [100, 25]]), 0.9)  # radius 100
    inside, outside = np.array([[150.0, 150]]), np.array([[250.0, 100]])
    assert parts_within(person, [inside, np.concatenate([inside, inside]), outside, np.zeros((0, 2))]) == 2
    assert parts_within(person, [np.array([[100.0, 199]]), np.array([[100.0, 201]])]) == 1


@pytest.mark.skipif(not DEV.exists(), reason="no ../shared/data/real-photos-dev beside the repository")
def test_the_parts_find_the_dancing_couple_and_the_crowd_more_than_blazepose_alone():
    annotations = json.loads((DEV / "annotations.json").read_text())

    def found(name, **options):
        people = [{**p, "joints_2d": np.array([j or [np.nan] * 2 for j in p["joints_2d"]], float)}
                  for p in annotations["people"] if name in p["image"]]
        image = np.asarray(Image.open(DEV / people[0]["image"]).convert("RGB"))
        found = PersonDetector(**options)(image)
        return sum(m is not None for m in found_people(people, [d.region(1.0) for d in found], [d.torso() for d in found]))

    assert found("009473") == 2
    # All 7 of the crowded frame: the last, a wheelchair user small among spectators, only in the crowd pass.
    assert found("012834") == 7
    assert found("012834", crowd=0) == 6 > found("012834", parts=False)


def test_the_detector_input_is_scaled_as_mediapipe_scales_it():
    detector = PersonDetector(parts=False)
    seen = {}
    detector._interpreter.set_tensor = lambda index, value: seen.setdefault("input", value)
    detector._interpreter.invoke = lambda: None
    detector.raw(np.full((INPUT, INPUT, 3), 255, np.uint8))
    np.testing.assert_allclose(seen["input"], 1.0)


def test_the_shipped_detector_is_the_wheels_file():
    import hashlib

    from tfpose3d.detect import ASSET, ASSET_SHA256

    assert hashlib.sha256(ASSET.read_bytes()).hexdigest() == ASSET_SHA256


@pytest.mark.parametrize("code", [
    "from tfpose3d.detect import PersonDetector; PersonDetector(parts=False)(np.zeros((200, 300, 3), np.uint8))",
    "from tfpose3d.parts import PartNetwork; PartNetwork().raw(np.zeros((1, 368, 368, 3)))",
], ids=["detector", "part network"])
def test_litert_prints_nothing_on_the_users_terminal(code):
    # LiteRT announces its XNNPACK delegate once a process, on the first allocation: a fresh process shows it.
    code = "import numpy as np; " + code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr and "INFO" not in done.stderr, done.stderr
