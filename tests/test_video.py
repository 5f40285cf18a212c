"""Whole photos and videos: the detector's framing, tracking, smoothing, video in and out, bad input."""

import dataclasses
import json
import struct
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from tfpose3d import ModelConfig, build_model, smooth
from tfpose3d.cli import main
from tfpose3d.data import mocap, render
from tfpose3d.data.camera import Region, turn_3d
from tfpose3d.data.images import crop_region, image_size
from tfpose3d.detect import Detection, crop_margin, iou, parse_box, pose_region
from tfpose3d.predict import SMALL_CROP, Person, Predictor, distinct, predict_photos, predict_video, track
from tfpose3d.skeleton import JOINT_NAMES
from tfpose3d.video import Frame, FrameReader, FrameWriter, Tracker

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-photos-dev"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.keras"
    keras.utils.set_random_seed(0)  # the same random network whichever tests ran before
    build_model(ModelConfig(image_size=64, grid_size=8, width=0.05, dropout=0.0)).save(path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Twelve frames of a held-out clip from a still camera, as an mp4 and as a folder of PNGs."""
    poses = mocap.load_motion("bandai-namco").select("test")
    look = dataclasses.replace(render.Look(), occluders=0.0, imaging=False)
    frames = [f.image for f in render.render_clip(poses, int(poses.clip[0]), 0, frames=12, size=128, look=look, follow=False)]
    root = tmp_path_factory.mktemp("clip")
    with FrameWriter(root / "clip.mp4", 30.0) as writer:
        for frame in frames:
            writer.write(frame)
    (root / "frames").mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "frames" / f"{i:04d}.png")
    return root, np.stack(frames)


# Smoothing


def test_one_euro_by_hand():
    f = smooth.OneEuro(rate=30.0, min_cutoff=1.0, beta=0.01, d_cutoff=1.0)
    assert f(np.array([0.0]))[0] == 0.0
    # Second frame by the paper's formulas: speed 300/s, smoothed with alpha(1 Hz); cutoff 1 + 0.01 |speed|.
    alpha = lambda cutoff: 1 / (1 + 30.0 / (2 * np.pi * cutoff))  # noqa: E731
    speed = alpha(1.0) * 300.0
    assert f(np.array([10.0]))[0] == pytest.approx(10.0 * alpha(1 + 0.01 * speed))


def _savitzky_golay_by_polyfit(values, radius, order):
    n = len(values)
    out = []
    for t in range(n):
        index = [abs(i) if i < n else 2 * (n - 1) - i for i in range(t - radius, t + radius + 1)]
        fit = np.polyfit(np.arange(-radius, radius + 1), values[index], order)
        out.append(np.polyval(fit, 0.0))
    return np.array(out)


@pytest.mark.parametrize("n,radius", [(30, 4), (9, 4), (6, 2), (2, 1)])
def test_window_matches_a_polynomial_fit_per_frame(n, radius):
    values = np.random.default_rng(n).normal(size=n)
    np.testing.assert_allclose(smooth.window(values, radius, 2), _savitzky_golay_by_polyfit(values, radius, 2), atol=1e-9)


def test_streamed_window_holds_a_window_and_leaves_no_frame_behind():
    stream = smooth.Window(radius=3)
    poses = np.random.default_rng(0).normal(size=(500, 17, 3))
    got = []
    for i, pose in enumerate(poses):
        got += stream.push(i, pose)
        assert len(stream._items) <= 2 * 3 + 2 and len(got) == max(0, i + 1 - 3)
    got += stream.flush()
    assert [i for i, _ in got] == list(range(500))
    np.testing.assert_allclose(np.stack([v for _, v in got]), smooth.window(poses, 3))


def test_smoothing_steadies_a_still_joint_and_follows_a_moving_one():
    t = np.arange(90) / 30.0
    noise = np.random.default_rng(0).normal(0, 15, len(t))
    jitter = lambda x, truth: np.abs(np.diff(x - truth, 2)).mean()  # acceleration the movement does not have  # noqa: E731
    still = np.full(len(t), 100.0)
    wave = 300 * np.sin(2 * np.pi * 0.7 * t)  # a wave of the arm, mm
    for kind in ("causal", "window"):
        assert jitter(smooth.run(smooth.smoother(kind, 30.0), still + noise), still) < jitter(still + noise, still) / 3
        followed = smooth.run(smooth.smoother(kind, 30.0), wave + noise)
        assert np.abs(followed - wave)[10:].mean() < 1.5 * np.abs(noise).mean(), kind
    # One Euro without its speed term lags the same wave by far more: the test can tell.
    lagging = smooth.run(smooth.Causal(30.0, beta=0.0), wave + noise)
    assert np.abs(lagging - wave)[10:].mean() > 3 * np.abs(noise).mean()


@pytest.mark.parametrize("kind,strength,message", [("median", 1.0, "unknown smoothing"), ("window", 0.0, "positive")])
def test_bad_smoothing_is_named(kind, strength, message):
    with pytest.raises(ValueError, match=message):
        smooth.smoother(kind, 30.0, strength)


# Detection and tracking


def test_boxes():
    assert iou(Detection((0, 0, 10, 10)), Detection((5, 0, 10, 10))) == pytest.approx(50 / 150)
    assert parse_box("1,2,3,4").box == (1, 2, 3, 4)
    for bad, message in (("1,2,3", "four numbers"), ("a,b,c,d", "four numbers"), ("0,0,0,5", "positive")):
        with pytest.raises(ValueError, match=message):
            parse_box(bad)


class _Person:
    """What the tracker reads of a `predict.Person`."""

    def __init__(self, joints_2d, confidence, box=Detection((0, 0, 1, 1))):
        self.joints_2d, self.confidence, self.box = np.asarray(joints_2d, float), confidence, box
        self.region = pose_region(self.joints_2d)


def test_tracker_crops_from_the_last_pose_and_detects_again_when_lost():
    tracker = Tracker(min_confidence=0.3)
    assert tracker.expected is None and tracker.choose([]) is None
    first = tracker.choose([Detection((100, 100, 50, 150), 0.9), Detection((0, 0, 20, 60), 0.8)])
    assert first.box == (100, 100, 50, 150) and tracker.id == 0
    joints = np.array([[110.0, 110.0], [140.0, 240.0]] * 8 + [[125.0, 175.0]])
    tracker.follow(_Person(joints, 0.5), 640, 480)
    assert tracker.expected == pose_region(joints)  # the next frame's crop: where the pose was
    tracker.follow(_Person(joints + 5, 0.1), 640, 480)  # unsure: lost
    assert tracker.expected is None
    near = Detection((108, 95, 50, 150), 0.6)
    assert tracker.choose([Detection((500, 0, 50, 150), 0.9), near]) is near and tracker.id == 0  # same person
    assert tracker.choose([Detection((500, 0, 50, 150), 0.9)]).box[0] == 500 and tracker.id == 1  # someone new
    tracker.follow(_Person(joints + [700, 0], 0.9), 640, 480)  # the pose left the image
    assert tracker.expected is None


# Photos and videos end to end


def test_a_person_is_cropped_twice_as_in_training_and_mapped_back(model_file):
    image = np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    box = Detection((200, 40, 80, 200))
    predictor = Predictor(model_file)
    person = predictor.predict_image(image, [box])[0]
    # First the box's upright crop, then the crop framed on that pose, turned on its torso (a plain box gives
    # way to it however far it moves the body: `on_the_body`).
    first = Region((240.0, 140.0), 200 * crop_margin())
    first_joints = first.from_crop(predictor(crop_region(image, first, 225)[None])["joints_2d"][0], 225)
    assert person.region == pose_region(first_joints)
    direct = predictor(crop_region(image, person.region, 225)[None])
    np.testing.assert_allclose(person.joints_2d, person.region.from_crop(direct["joints_2d"][0], 225), rtol=1e-5)
    np.testing.assert_allclose(person.pose_3d, turn_3d(direct["pose_3d"][0], person.region), rtol=1e-5, atol=1e-3)
    assert 0 <= person.confidence <= 1
    # Shown in a notebook, a person is its two 17-row arrays and a few fields: the crop's pixels are left out.
    assert "crop=" not in repr(person) and repr(person).count("\n") < 40 and "confidence=" in repr(person)


class _Fixed(Predictor):
    """The predictor with a network that gives every crop of its n-th call the n-th of `answers` (the last
    from then on): joints (17, 2) in crop pixels, a zero 3D pose and heatmaps sure of their peak."""

    def __init__(self, model_file, *answers, **kwargs):
        super().__init__(model_file, **kwargs)
        self.answers, self.calls = [np.asarray(a, np.float32) for a in answers], 0

    def __call__(self, images):
        n = len(images)
        joints = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        heatmaps = np.zeros((n, 17, 8, 8), np.float32)
        heatmaps[:, :, 0, 0] = 1.0
        return {"joints_2d": np.broadcast_to(joints, (n, 17, 2)), "pose_3d": np.zeros((n, 17, 3), np.float32),
                "heatmaps_2d": heatmaps}


@pytest.mark.parametrize("shift, detected, kept", [(0.07, True, "second"), (0.09, True, "first"), (0.5, False, "second")])
def test_a_second_crop_that_slides_off_the_body_gives_way_to_the_first(model_file, shift, detected, kept):
    # The first crop reads an upright body; the crop framed on it reads the same body `shift` of its height to
    # the right: for a detection (with its keypoints) 0.08 of it is where it has slid off; a plain box, loosely
    # framed, always gives way to the second.
    body = np.stack([np.full(17, 112.0), np.linspace(40.0, 200.0, 17)], 1)
    box = Detection((200, 40, 80, 200), 0.9)
    if detected:  # hips at the box's middle, the body circle through its top
        box = Detection.from_keypoints(np.array([[240.0, 140], [240, 40], [240, 80], [240, 60]]), 0.9)
    first_region = box.region(crop_margin())
    first = first_region.from_crop(body, 225)
    second_region = pose_region(first)
    second = first + [shift * np.ptp(first[:, 1]), 0.0]
    second_crop = second_region.into_crop(second, 225)
    predictor = _Fixed(model_file, body, second_crop, detector=lambda _: [box])
    person = predictor.predict_image(np.zeros((300, 500, 3), np.uint8))[0]
    expected = {"first": (first_region, first, body), "second": (second_region, second, second_crop)}[kept]
    assert person.region == expected[0]
    np.testing.assert_allclose(person.joints_2d, expected[1], atol=1e-3)
    np.testing.assert_allclose(person.crop_joints_2d, expected[2], atol=1e-3)  # the crop the joints come from


def test_at_border_is_where_the_estimated_body_reaches_the_edge(model_file):
    # A body upright in the crop: joints from 50 to 175 px across and 20 to 205 px down.
    predictor = _Fixed(model_file, np.array([[50.0, 20.0], [175.0, 205.0]] * 8 + [[112.0, 112.0]]))
    region = Region((100.0, 150.0), 225.0)  # upright, 1 image pixel a crop pixel: the joints span y 57.5-242.5
    # By hand: the body adds 7.5% of the joints' 185 px on each side, down to y 256.4, and reaches x 23.6 to 176.4.
    # A detection square wider than the photo (a body circle's) does not put an inside body at the border.
    wide = Detection((-37.0, 43.0, 554.0, 554.0))
    for height, cut in ((300, False), (258, False), (256, True)):
        image = np.zeros((height, 400, 3), np.uint8)
        assert predictor.estimate(image, [wide], [region])[0].at_border is cut, height


@pytest.mark.parametrize("height, small", [(40, True), (200, False)])
def test_a_small_person_is_named_as_less_sure(model_file, tmp_path, capsys, height, small):
    # The body's joints fill 160 px of each 225-px crop's height. By hand: the box's crop is 1.45 / 1.15 (the
    # body over its joints) times its height, the second crop 1.45 times the joints' 160 / 225 of that: 1.30
    # times the box's height, 52 px for a 40-px box, 260 for a 200-px one.
    body = np.stack([np.full(17, 112.0), np.linspace(40.0, 200.0, 17)], 1)
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(photo)
    result = predict_photos(_Fixed(model_file, body), [str(photo)], tmp_path / "out", f"100,50,{height // 2},{height}")
    side = result[0]["people"][0]["crop"]["side_px"]
    assert side == pytest.approx(1.30 * height, rel=0.01)
    assert ("person 0 is small" in capsys.readouterr().err) is small


def test_frames_of_another_size_are_followed_in_their_own_pixels(model_file):
    # The same scene at 320 x 240, then at twice that, then back; the detector finds the body only in the first
    # frame. Followed in each frame's own pixels, the joints are those of the scene kept at 320 x 240, doubled
    # in the large frame.
    body = np.stack([np.full(17, 112.0), np.linspace(40.0, 200.0, 17)], 1)

    def followed(sizes):
        found = iter([[Detection((100.0, 40.0, 60.0, 160.0), 0.9)]])
        predictor = _Fixed(model_file, body, detector=lambda image: next(found, []))
        frames = [Frame(i, i / 30, np.zeros((240 * k, 320 * k, 3), np.uint8)) for i, k in enumerate(sizes)]
        return [person for _, person in track(predictor, iter(frames))]

    same, resized = followed((1, 1, 1)), followed((1, 2, 1))
    assert all(person is not None and person.track_id == 0 for person in same + resized)
    for k, scale in enumerate((1, 2, 1)):
        np.testing.assert_allclose(resized[k].joints_2d, scale * same[k].joints_2d, rtol=1e-4)


def test_the_json_pose_has_one_decimal(model_file):
    pose = np.full((17, 3), -67.1, np.float32)  # a float32 rounded alone prints as -67.0999984741211
    person = Person(Detection((0, 0, 10, 10)), Region((5.0, 5.0), 10.0), np.zeros((17, 2)), pose, 0.5, False,
                    np.zeros((225, 225, 3), np.uint8), np.zeros((17, 2)))
    assert json.dumps(person.to_json()["pose_3d_mm"][0]) == "[-67.1, -67.1, -67.1]"


def test_a_followed_person_is_boxed_where_their_pose_is_in_every_frame(model_file):
    # Each crop reads the body 40 px right of its middle, its joints' longer side 1 / 1.45 of the crop, so the
    # next crop is as large and the followed person walks right, about 49 px a frame, toward the edge at 640.
    body = np.array([[70.0, 35.0], [155.0, 190.0]] * 8 + [[112.5, 112.5]]) + [40.0, 0.0]
    predictor = _Fixed(model_file, body, detector=lambda image: [Detection((80.0, 20.0, 80.0, 220.0), 0.9)])
    frames = [Frame(i, i / 30, np.zeros((260, 640, 3), np.uint8)) for i in range(10)]
    people = [person for _, person in track(predictor, iter(frames))]
    assert people[0].box.box == (80.0, 20.0, 80.0, 220.0)  # the first frame's: the detection
    assert people[-1].joints_2d[:, 0].min() > 500  # followed all the way
    for person in people[1:]:  # followed from the last pose
        assert np.all((person.joints_2d >= person.box.lo) & (person.joints_2d <= person.box.hi))
        assert person.box.score == 0.9  # the detection's, which found them
    cut = [person.at_border for person in people]
    assert not any(cut[:8]) and all(cut[8:])  # by hand: the body reaches x 628 in frame 7, 677 in frame 8


def test_an_array_photo_is_read_as_pixels_or_named(model_file):
    image = np.random.default_rng(2).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    box = [Detection((10, 10, 60, 100))]
    predictor = Predictor(model_file)
    expected = predictor.predict_image(image, box)[0].pose_3d
    # Floats and wider integers on the 0..255 scale are the same pixels.
    for same in (image.astype(np.float32), image.astype(np.int64)):
        np.testing.assert_array_equal(predictor.predict_image(same, box)[0].pose_3d, expected)
    for wrong, words in ((image / 255.0, "lies in \\[0, 1\\]"), (np.dstack([image, image[..., :1]]), "read_rgb"),
                         (image[..., 0], "read_rgb"), (image * 2.0, "\\[0, 255\\]"), (image.astype(str), "numeric")):
        with pytest.raises(ValueError, match=words):
            predictor.predict_image(wrong, box)


def test_a_body_found_twice_is_one_person():
    body = np.array([[0.0, 0.0], [0.0, 100.0]] * 8 + [[50.0, 50.0]])  # 100 px tall
    first, *others = (dataclasses.make_dataclass("P", ["joints_2d"])(j) for j in
                      (body, body + [3.0, 3.9], body + [3.0, 4.0], body * [1, -1] + [0, 100]))
    # Median joint distance 4.92 px is within a twentieth of the size, 5 px is not; a body upside down on the
    # same place (its joints at the other's joints' places, but not the same joints) is someone else.
    assert distinct([first, *others]) == [first, others[1], others[2]]
    assert distinct([others[0], first]) == [others[0]]  # the better (earlier) one stays


def test_photos_keep_each_detected_body_once_and_every_given_box(model_file):
    image = np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    box = Detection((200, 40, 80, 200), 0.9)
    predictor = Predictor(model_file, detector=lambda _: [box, box])
    assert len(predictor.predict_image(image)) == 1
    assert len(predictor.predict_image(image, [box, box])) == 2  # the user asked for both
    # A box as four numbers is the Detection of them; one that cannot be a person's is named.
    as_numbers = predictor.predict_image(image, [(200, 40, 80, 200)])[0]
    np.testing.assert_array_equal(as_numbers.joints_2d, predictor.predict_image(image, [Detection((200, 40, 80, 200))])[0].joints_2d)
    for bad, words in (((5000, 5000, 100, 100), r"lies wholly outside the 500x300 image"),
                       ((10, 10, -5, 100), r"the width and height positive"), ((10, 10, 0, 0), r"width and height positive"),
                       (Detection((10, 10, 50, np.nan)), r"must be finite"), ((1, 2, 3), r"or \(x, y, w, h\) in pixels")):
        with pytest.raises(ValueError, match=words):
            predictor.predict_image(image, [bad])


def test_what_is_not_an_image_is_named(model_file, tmp_path):
    predictor = Predictor(model_file)
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(photo)
    (tmp_path / "gone.png").symlink_to(tmp_path / "moved.png")
    for given, words in ((photo.read_bytes(), "not the file's bytes"), (tmp_path / "walk.mp4", "walk.mp4: a video; "),
                         (tmp_path / "gone.png", f"gone.png: a link to {tmp_path / 'moved.png'}, which does not exist")):
        with pytest.raises((ValueError, FileNotFoundError), match=words):
            predictor.predict_image(given)


def test_an_image_one_pixel_across_holds_nobody_and_a_box_given_there_is_estimated(model_file):
    # It stopped a whole batch of photos with an error that did not name it.
    predictor = Predictor(model_file)
    for shape in ((500, 1, 3), (1, 500, 3), (1, 1, 3)):
        image = np.full(shape, 90, np.uint8)
        assert predictor.predict_image(image) == []
        (person,) = predictor.predict_image(image, [(0, 0, shape[1], shape[0])])
        assert np.isfinite(person.pose_3d).all()


@pytest.mark.parametrize("source", ["clip.mp4", "frames"])
def test_video_poses_per_frame_smoothed_and_drawn(clip, model_file, tmp_path, source):
    root, frames = clip
    predictor = Predictor(model_file)
    summary = predict_video(predictor, root / source, tmp_path, box="20,10,60,110", smoothing="none",
                            video_out=tmp_path / "out.mp4", progress=False)
    lines = [json.loads(line) for line in (tmp_path / f"{Path(source).stem}_poses.jsonl").read_text().splitlines()]
    assert summary["frames"] == summary["frames_with_person"] == len(lines) == len(frames)
    assert [line["frame"] for line in lines] == list(range(len(frames)))
    assert lines[3]["time_s"] == pytest.approx(3 / 30)
    raw = np.array([line["pose_3d_mm"] for line in lines])
    if source == "frames":  # lossless frames: the same poses as the model on each frame
        expected = [predictor.predict_image(f, [Detection((20, 10, 60, 110))])[0].pose_3d for f in frames]
        np.testing.assert_allclose(raw, np.round(expected, 1), atol=0.051)
    assert FrameReader(tmp_path / "out.mp4").count == len(frames)
    predict_video(predictor, root / source, tmp_path, box="20,10,60,110", smoothing="window", progress=False)
    smoothed = [json.loads(line)["pose_3d_mm"] for line in (tmp_path / f"{Path(source).stem}_poses.jsonl").read_text().splitlines()]
    np.testing.assert_allclose(smoothed, smooth.window(raw, 4), atol=0.13)  # both sides rounded to 0.1 mm


def test_predict_flips_photos_by_default_and_not_videos(clip, model_file, tmp_path, capsys):
    root, frames = clip
    box = Detection((20, 10, 60, 110))
    plain, flipped = (Predictor(model_file, flip=flip).predict_image(frames[0], [box])[0].pose_3d for flip in (False, True))
    assert np.abs(plain - flipped).max() > 0.15  # apart by more than the JSON's 0.1 mm, so the test tells them apart
    for flag, photo_pose, video_pose in (([], flipped, plain), (["--no-flip"], plain, plain), (["--flip"], flipped, flipped)):
        out = tmp_path / "+".join(flag or ["default"])
        assert main(["predict", "--model", str(model_file), str(root / "frames" / "0000.png"), str(root / "frames"),
                     "--box", "20,10,60,110", "--smooth", "none", "--out-dir", str(out), *flag]) == 0
        captured = capsys.readouterr()
        photo, video = json.loads(captured.out)
        assert f"{root / 'frames'}: read as the frames of one video" in captured.err  # a folder is a video
        # Into a log, not a terminal: one line at the end, not one a frame.
        assert [line for line in captured.err.splitlines() if "frames done" in line] == [f"{root / 'frames'}: 12/12 frames done"]
        np.testing.assert_allclose(photo["people"][0]["pose_3d_mm"], photo_pose, atol=0.051)  # JSON keeps 0.1 mm
        first_frame = json.loads(Path(video["poses"]).read_text().splitlines()[0])
        np.testing.assert_allclose(first_frame["pose_3d_mm"], video_pose, atol=0.051)


def test_a_flag_no_input_uses_is_named(clip, model_file, tmp_path, capsys):
    root, _ = clip

    def notes(*inputs: Path, flags: list[str]) -> list[str]:
        assert main(["predict", "--model", str(model_file), *map(str, inputs), "--box", "20,10,60,110",
                     "--out-dir", str(tmp_path / "out"), *flags]) == 0
        return [line for line in capsys.readouterr().err.splitlines() if "is not used" in line]

    smoothing = ["--smooth", "causal", "--strength", "2", "--fps", "25"]
    assert notes(root / "frames" / "0000.png", flags=smoothing) == [
        "tfpose3d predict: --smooth causal is not used: no video among the inputs (photos are estimated each on its own)",
        "tfpose3d predict: --strength 2 is not used: no video among the inputs (photos are estimated each on its own)",
        "tfpose3d predict: --fps 25 is not used: no folder of frames among the inputs (a video file gives its own rate)"]
    assert notes(root / "clip.mp4", flags=smoothing) == [
        "tfpose3d predict: --fps 25 is not used: no folder of frames among the inputs (a video file gives its own rate)"]
    assert notes(root / "clip.mp4", root / "frames", flags=smoothing) == []
    assert notes(root / "frames" / "0000.png", flags=[]) == []  # the defaults are not named


def test_the_frames_before_a_broken_one_stay_valid(clip, model_file, tmp_path):
    root, frames = clip
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(6):
        Image.fromarray(frames[i]).save(broken / f"{i:04d}.png")
    (broken / "0003.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="frame 3"):
        predict_video(Predictor(model_file), broken, tmp_path / "out", box="whole", smoothing="window", progress=False)
    lines = (tmp_path / "out" / "broken_poses.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1, 2]


def mp4_boxes(data: bytes, start: int, end: int):
    """(type, offset, size) of the MP4 boxes in data[start:end]."""
    while start < end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        yield kind.decode(), start, size
        start += size


def with_frame_durations(data: bytes, durations: list[int]) -> bytes:
    """An .mp4 of one track (as OpenCV writes it: the index after the frames, so no offset into them moves) with
    its frames' durations (the track's time units) replaced: a video at a variable frame rate, as phones record."""
    spans, start, end = [], 0, len(data)
    for name in ("moov", "trak", "mdia", "minf", "stbl", "stts"):
        start, size = next((at, size) for kind, at, size in mp4_boxes(data, start, end) if kind == name)
        spans.append((start, size))
        start, end = start + 8, start + size
    body = struct.pack(">II", 0, len(durations)) + b"".join(struct.pack(">II", 1, d) for d in durations)
    at, size = spans[-1]
    out = bytearray(data[:at] + struct.pack(">I4s", 8 + len(body), b"stts") + body + data[at + size:])
    for at, size in spans[:-1]:  # the boxes around it grow with it
        struct.pack_into(">I", out, at, size + 8 + len(body) - spans[-1][1])
    return bytes(out)


def test_a_video_at_a_variable_frame_rate_keeps_each_frames_time_and_is_smoothed_at_it(clip, model_file, tmp_path,
                                                                                      monkeypatch):
    root, frames = clip
    assert [frame.time_s for frame in FrameReader(root / "clip.mp4")] == pytest.approx(np.arange(12) / 30)
    data = (root / "clip.mp4").read_bytes()
    moov = next(at for kind, at, _ in mp4_boxes(data, 0, len(data)) if kind == "moov")
    unit = struct.unpack(">I", data[data.index(b"stts", moov) + 16:][:4])[0]  # one frame at 30 frames/s
    # Six frames at 60 frames/s, then six at 20: the same length in all, as the file's header says.
    (tmp_path / "vfr.mp4").write_bytes(with_frame_durations(data, [unit // 2] * 6 + [unit * 3 // 2] * 6))
    times = [frame.time_s for frame in FrameReader(tmp_path / "vfr.mp4")]
    assert times == pytest.approx([i / 60 for i in range(7)] + [0.1 + i / 20 for i in range(1, 6)], abs=1e-6)

    # predict_video hands the smoother each frame's time, and the causal smoother filters at it.
    seen = []

    class Recording(smooth.Unsmoothed):
        def push(self, item, value, time_s=None):
            seen.append(time_s)
            return super().push(item, value, time_s)

    monkeypatch.setattr(smooth, "smoother", lambda *args: Recording())
    summary = predict_video(Predictor(model_file), tmp_path / "vfr.mp4", tmp_path, box="20,10,60,110", progress=False)
    assert seen == pytest.approx(times) and summary["frames_with_person"] == 12
    lines = [json.loads(line) for line in Path(summary["poses"]).read_text().splitlines()]
    assert [line["time_s"] for line in lines] == pytest.approx(times, abs=1e-4)
    causal, one_euro = smooth.Causal(30.0), smooth.OneEuro(30.0)  # 30: the file's mean rate, which the times replace
    values = np.linspace(0.0, 100.0, 12) ** 1.5
    out = [causal.push(i, np.array([v]), t)[0][1] for i, (v, t) in enumerate(zip(values, times))]
    np.testing.assert_allclose(out, [one_euro(np.array([v]), t) for v, t in zip(values, times)])
    untimed = smooth.OneEuro(30.0)
    assert np.abs(np.array(out) - [untimed(np.array([v])) for v in values]).max() > 1.0  # the times count


def test_a_folder_of_frames_is_read_in_the_order_of_its_numbers(tmp_path):
    for shade in (10, 2, 1, 0):  # written out of order; each frame's shade is its number
        Image.fromarray(np.full((8, 8, 3), shade, np.uint8)).save(tmp_path / f"frame{shade}.png")
    assert [int(frame.image[0, 0, 0]) for frame in FrameReader(tmp_path)] == [0, 1, 2, 10]


def test_bad_videos_and_photos_are_named(model_file, tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (tmp_path / "no_frames").mkdir()
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    out = tmp_path / "out"
    for inputs, message in (
        ([str(empty)], "empty file"),
        ([str(garbage)], "not a readable video"),
        ([str(tmp_path / "no_frames")], "no frames"),
        ([str(tmp_path / "missing.mp4")], "no such video"),
        ([str(blank)], "no person found in .*blank.png.*--box"),
        ([str(blank), "--box", "1,2,3"], "four numbers"),
        ([str(blank), "--smooth", "window", "--strength", "-1"], "argument --strength: must be a finite number above 0"),
    ):
        assert main(["predict", "--model", str(model_file), *inputs, "--out-dir", str(out)]) == 2, inputs
        err = capsys.readouterr().err
        assert __import__("re").search(message, err), (message, err)
        assert not out.exists()
    assert main(["predict", "--model", str(model_file), str(blank), "--box", "whole", "--out-dir", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["people"][0]["box_xywh"] == [0, 0, 300, 200] and (out / "blank_pose_0.png").exists()


def test_a_photo_with_nobody_keeps_the_others_poses_and_is_named(model_file, tmp_path, capsys, monkeypatch):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    person = tmp_path / "person.png"
    Image.fromarray(np.full((200, 300, 3), 200, np.uint8)).save(person)
    # The detector finds someone in the bright photo only; the grey one holds nobody.
    found = Detection((100, 20, 80, 160), 0.9)
    predictor = Predictor(model_file, detector=lambda image: [found] if image.mean() > 150 else [])
    monkeypatch.setattr("tfpose3d.predict.Predictor", lambda *args, **kwargs: predictor)
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_file), str(person), str(blank), "--out-dir", str(out)]) == 2
    captured = capsys.readouterr()
    assert [len(result["people"]) for result in json.loads(captured.out)] == [1, 0]
    assert (out / "person_pose_0.png").exists()
    error = [line for line in captured.err.splitlines() if line.startswith("tfpose3d: error:")]
    assert len(error) == 1 and f"no person found in {blank};" in error[0] and str(person) not in error[0]
    # Nobody in any photo: still one JSON entry a photo on stdout, and no folder made.
    assert main(["predict", "--model", str(model_file), str(blank), str(blank), "--out-dir", str(tmp_path / "none")]) == 2
    assert json.loads(capsys.readouterr().out) == [{"image": str(blank), "joint_names": list(JOINT_NAMES), "people": []}] * 2
    assert not (tmp_path / "none").exists()
    # A video in none of whose frames anybody is found says so as a photo does; its lines are written, empty.
    frames = tmp_path / "grey_clip"
    frames.mkdir()
    for k in range(3):
        Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(frames / f"{k:03d}.png")
    assert main(["predict", "--model", str(model_file), str(person), str(frames), "--out-dir", str(out)]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)[1]["frames_with_person"] == 0
    error = [line for line in captured.err.splitlines() if line.startswith("tfpose3d: error:")]
    assert len(error) == 1 and f"no person found in {frames};" in error[0] and str(person) not in error[0]
    lines = (out / "grey_clip_poses.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["pose_3d_mm"] is None for line in lines)
    # The same photo twice: each entry has pictures of its own.
    assert main(["predict", "--model", str(model_file), str(person), str(person), "--out-dir", str(out)]) == 0
    figures = [result["people"][0]["figure"] for result in json.loads(capsys.readouterr().out)]
    assert figures == [str(out / "person_pose_0.png"), str(out / "person_2_pose_0.png")]
    assert all(Path(figure).exists() for figure in figures)


def test_a_photos_pictures_are_the_last_runs_and_the_default_model_is_named(model_file, tmp_path, capsys, monkeypatch):
    photo = tmp_path / "two.png"
    Image.fromarray(np.full((200, 300, 3), 200, np.uint8)).save(photo)
    (tmp_path / "out").mkdir()
    keep = tmp_path / "out" / "two_pose_notes.png"  # not a picture predict writes: it stays
    keep.write_bytes(b"")
    runs = [[Detection((10, 20, 80, 160), 0.9), Detection((200, 20, 80, 160), 0.8)], [Detection((10, 20, 80, 160), 0.9)]]
    monkeypatch.setattr("tfpose3d.export.latest_export", lambda: model_file)
    for boxes, pictures in zip(runs, (["two_pose_0.png", "two_pose_1.png"], ["two_pose_0.png"])):
        predictor = Predictor(model_file, detector=lambda image, boxes=boxes: boxes)
        monkeypatch.setattr("tfpose3d.predict.Predictor", lambda *args, predictor=predictor, **kwargs: predictor)
        assert main(["predict", str(photo), "--out-dir", str(tmp_path / "out")]) == 0
        assert f"tfpose3d predict: model {model_file} (the newest export" in capsys.readouterr().err
        assert sorted(p.name for p in (tmp_path / "out").glob("two_pose_[0-9]*.png")) == pictures
    assert keep.exists()


def test_empty_and_enormous_images_are_named(model_file, tmp_path, capsys):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    enormous = tmp_path / "enormous.png"
    Image.new("1", (16_000, 16_000)).save(enormous)  # 256 megapixels in a few kB: refused from its header
    for path, message in ((empty, "empty file"), (enormous, "16000x16000 is 256 megapixels, over the 250 this reads")):
        assert main(["predict", "--model", str(model_file), str(path), "--box", "whole", "--out-dir", str(tmp_path / "o")]) == 2
        assert message in capsys.readouterr().err
    # A phone's 200-megapixel photo is read, past Pillow's own guard (an error past 179 megapixels, a warning
    # about a "DOS attack" past 89), which is left as it was.
    phone = tmp_path / "phone.png"
    Image.new("1", (16_320, 12_240)).save(phone)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_size(phone) == (16_320, 12_240)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485


@pytest.mark.skipif(not DEV.exists(), reason="no ../shared/data/real-photos-dev beside the repository")
def test_predict_finds_people_in_a_whole_photograph(model_file, tmp_path, capsys):
    photo = DEV / "images" / "posetrack18" / "009473_mpii_test_000000.jpg"
    assert main(["predict", "--model", str(model_file), str(photo), "--out-dir", str(tmp_path)]) == 0
    people = json.loads(capsys.readouterr().out)[0]["people"]
    assert len(people) >= 1 and (tmp_path / f"{photo.stem}_pose_0.png").exists()
    x, y, w, h = people[0]["box_xywh"]
    joints = np.asarray(people[0]["joints_2d_px"])  # in the photo's pixels, near the person's box
    assert np.all((joints[:, 0] > x - w) & (joints[:, 0] < x + 2 * w) & (joints[:, 1] > y - h / 2) & (joints[:, 1] < y + 1.5 * h))


def test_a_picture_that_cannot_be_written_leaves_no_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    from tfpose3d import viz

    plt.close("all")
    image, joints = np.zeros((64, 64, 3), np.uint8), np.full((17, 2), 32.0)
    with pytest.raises(FileNotFoundError):
        viz.pose_figure(image, joints, np.zeros((17, 3)), tmp_path / "missing" / "pose.png")
    assert plt.get_fignums() == []


def test_a_damaged_video_is_told_in_one_line(model_file, tmp_path, capfd):
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    assert main(["predict", "--model", str(model_file), str(damaged), "--box", "whole"]) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"tfpose3d: error: {damaged}: not a readable video (no frame could be decoded)"]  # no FFmpeg line
