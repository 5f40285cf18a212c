"""Evaluation on real photographs: crops as the renderer frames a person, and the mean-2D baseline."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.config import ModelConfig
from tfpose3d.estimator import build_model
from tfpose3d.data import render
from tfpose3d.data.photos import crop_person, read_photos, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import evaluate_photos


def make_photos(folder, joints_list):
    (folder / "images").mkdir(parents=True)
    people = []
    for k, joints in enumerate(joints_list):
        image = np.full((120, 200, 3), 40, np.uint8)
        x, y = np.round(joints[skeleton.JOINT_INDEX["l_wrist"]]).astype(int)
        image[y - 1 : y + 2, x - 1 : x + 2] = (255, 0, 0)  # a red mark at the left wrist
        Image.fromarray(image).save(folder / "images" / f"{k}.png")
        people.append({"image": f"images/{k}.png", "set": "t",
                       "joints_2d": [None if np.isnan(j).any() else j.tolist() for j in joints]})
    (folder / "annotations.json").write_text(json.dumps({"joint_names": list(skeleton.JOINT_NAMES), "people": people}))


def person(rng):
    joints = rng.uniform([60, 20], [140, 100], (17, 2))
    joints[skeleton.JOINT_INDEX["spine"]] = np.nan  # not annotated
    return joints


def test_crop_frames_the_joints_like_the_renderer_turned_upright(tmp_path):
    joints = person(np.random.default_rng(0))
    make_photos(tmp_path, [joints])
    photo = np.asarray(Image.open(tmp_path / "images" / "0.png"))
    crop, moved = crop_person(photo, joints, 225, margin=1.45)
    # By hand: turn the joints about the origin so that hips -> shoulders points up (-y), frame their box.
    up = joints[[11, 14]].mean(0) - joints[[1, 4]].mean(0)
    a = np.arctan2(up[0], -up[1])  # the clockwise angle of the torso from straight up
    turn = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    seen = joints[np.isfinite(joints).all(1)] @ turn.T
    side = np.max(seen.max(0) - seen.min(0)) * 1.45
    corner = (seen.min(0) + seen.max(0)) / 2 - side / 2
    np.testing.assert_allclose(moved[np.isfinite(joints).all(1)], (seen - corner) * 225 / side, atol=1e-6)
    torso = moved[[11, 14]].mean(0) - moved[[1, 4]].mean(0)
    assert abs(torso[0]) < 1e-6 and torso[1] < 0
    assert np.isnan(moved[skeleton.JOINT_INDEX["spine"]]).all()
    # The red mark lands where its joint was mapped.
    x, y = np.floor(moved[skeleton.JOINT_INDEX["l_wrist"]]).astype(int)
    assert crop[y, x, 0] > 150 and crop[y, x, 1] < 100


def test_a_render_read_as_a_photo_is_framed_as_rendered(tmp_path):
    # The photo figures compare with the render figures only if a photographed person is framed as the renderer
    # frames a body: the renderer rolls its camera to stand the torso upright (then by a few degrees of
    # jitter), and cropping a plain render around its own labelled joints frames them the same way.
    from tfpose3d.data import records
    from tfpose3d.data.camera import upright_angle
    from tfpose3d.data.pipeline import records_dataset

    records.write_rendered("bandai-namco", tmp_path, 5, seed=0, split="test", workers=1, progress=False, look="plain")
    for sample in records_dataset(tmp_path, 128, shuffle=False).as_numpy_iterator():
        joints = sample["joints_2d"]
        assert abs(np.degrees(upright_angle(*skeleton.torso_ends(joints)))) < 4 * render.H36M_CAMERAS.roll_degrees
        _, moved = crop_person(sample["image"], joints, 128)
        extent = moved.max(0) - moved.min(0)
        assert extent.max() == pytest.approx(128 / 1.45, rel=1e-5)
        np.testing.assert_allclose((moved.max(0) + moved.min(0)) / 2, [64, 64], atol=1e-4)
        # The render's own box frames the joints the same, before the roll's jitter.
        own = joints.max(0) - joints.min(0)
        assert own.max() == pytest.approx(128 / 1.45, rel=0.02)


def test_photo_evaluation_against_the_mean_pose_by_hand(tmp_path):
    rng = np.random.default_rng(1)
    people = [person(rng) for _ in range(3)]
    make_photos(tmp_path / "photos", people)
    run = tmp_path / "run"  # a run folder, read through its model.keras like any exported form
    run.mkdir()
    build_model(ModelConfig(image_size=64, grid_size=8, width=0.05, dropout=0.0)).save(run / "model.keras")
    mean_2d = np.full((17, 2), 0.5)
    table = evaluate_photos(run, tmp_path / "photos", mean_2d, tmp_path / "out")
    # The mean-2D row by hand: each annotated joint's distance to the crop's centre, over the crop side.
    errors, per_person = [], []
    for joints in people:
        _, moved = crop_person(np.zeros((120, 200, 3), np.uint8), joints, 225)
        d = np.linalg.norm(moved / 225 - 0.5, axis=-1)
        errors += list(d[np.isfinite(d)])
        per_person.append(np.mean(d[np.isfinite(d)]))
    row = table.set_index("predictor").loc["mean 2D pose"]
    assert row["2D error (of crop side)"] == pytest.approx(np.mean(errors))
    people_table = pd.read_csv(tmp_path / "out" / "photos_per_person.csv")
    np.testing.assert_allclose(people_table["mean 2D pose"], per_person)
    # Grey photos hold nobody the detector can find: scoring its crops says so, and writes nothing.
    with pytest.raises(ValueError, match="found none of the 3 annotated people"):
        evaluate_photos(run, tmp_path / "photos", mean_2d, tmp_path / "detector", crops="detector")
    assert not (tmp_path / "detector").exists()
    assert people_table["annotated"].tolist() == [16] * 3 and people_table["tile"].tolist() == [0, 1, 2]
    assert row["PCK@0.1"] == pytest.approx(np.mean(np.array(errors) <= 0.1))
    assert row["joints"] == 16 * 3 and row["people"] == 3
    assert (tmp_path / "out" / "photos.png").stat().st_size > 1000
    # The picture meant for docs/ has the same skeletons on grey, and none of the photographs' pixels.
    with_photos = np.asarray(Image.open(tmp_path / "out" / "photos.png").convert("RGB"))
    skeletons = np.asarray(Image.open(tmp_path / "out" / "photos_skeletons.png").convert("RGB"))
    assert skeletons.shape == with_photos.shape
    for picture, grey in ((skeletons, True), (with_photos, False)):
        colours, counts = np.unique(picture[:225, :3 * 225].reshape(-1, 3), axis=0, return_counts=True)  # 3 tiles
        assert (tuple(colours[counts.argmax()]) == (48, 48, 48)) == grey


GOOD = [[float(10 + k), float(20 + 2 * k)] for k in range(17)]
NAMES = list(skeleton.JOINT_NAMES)


@pytest.mark.parametrize("content, words", [
    ('{"people": [', "not JSON"),
    ([1, 2], "a JSON object with 'joint_names' and 'people'"),
    ({"joint_names": NAMES, "people": {"a": 1}}, "a JSON object with 'joint_names' and 'people'"),
    ({"joint_names": ["a"], "people": []}, "got 1 names, 'a' first"),
    ({"joint_names": NAMES[::-1], "people": []}, "joint_names must be Human3.6M's 17 in its order"),
    ({"joint_names": NAMES, "people": []}, "no people"),
    ({"joint_names": NAMES, "people": [{"image": 5, "joints_2d": GOOD}]}, "person 0 (5): needs 'image' (a path)"),
    ({"joint_names": NAMES, "people": [{"image": "p.png", "joints_2d": GOOD[:14]}]}, "has 14 joints"),
    ({"joint_names": NAMES, "people": [{"image": "p.png", "joints_2d": [[1, 2, 3]] * 17}]}, "each joint is [x, y]"),
    ({"joint_names": NAMES, "people": [{"image": "p.png", "joints_2d": [["a", "b"]] * 17}]}, "each joint is [x, y]"),
    ({"joint_names": NAMES, "people": [{"image": "p.png", "joints_2d": [None] * 17}]}, "has no annotated joint"),
    ({"joint_names": NAMES, "people": [{"image": "p.png", "joints_2d": GOOD, "bbox": 5}]}, "bbox is [x, y, w, h]"),
    ({"joint_names": NAMES, "people": [{"image": "p.png", "joints_2d": GOOD, "bbox": [True, 0, 1, 1]}]}, "bbox is"),
])
def test_annotation_file_errors_name_the_file_and_the_problem(tmp_path, capsys, content, words):
    (tmp_path / "annotations.json").write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError) as info:
        read_photos(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'annotations.json'}: ") and words in str(info.value)
    # The command line prints the same, whole, on one line.
    assert main(["evaluate", str(tmp_path / "m.keras"), "--photos", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"tfpose3d: error: {info.value}"


def test_photo_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no annotations.json"):
        read_photos(tmp_path)
    make_photos(tmp_path / "boxes", [person(np.random.default_rng(0))] * 2)
    data = json.loads((tmp_path / "boxes" / "annotations.json").read_text())
    data["people"][0]["bbox"], data["people"][1]["bbox"] = [], [1, 2.5, 30, 40]  # empty: no box
    (tmp_path / "boxes" / "annotations.json").write_text(json.dumps(data))
    assert [p["box"] for p in read_photos(tmp_path / "boxes")] == [None, (1, 2.5, 30, 40)]
    # Joints in the pixels of another image: none lies in this 200 x 120 photo.
    make_photos(tmp_path, [person(np.random.default_rng(0)) * 10])
    with pytest.raises(ValueError, match=r"person 0 \(images/0.png\): none of the annotated joints lies in the 200x120 photo"):
        read_photos(tmp_path)
    # A joint cut off by the border, annotated where it would be, is scored; one far out is named.
    joints = person(np.random.default_rng(0))  # in x 60..140, y 20..100: the person reaches at most 80 px
    joints[skeleton.JOINT_INDEX["head"]] = [100, -20]
    make_photos(tmp_path / "cut", [joints])
    assert np.array_equal(read_photos(tmp_path / "cut")[0]["joints_2d"], joints, equal_nan=True)
    joints[skeleton.JOINT_INDEX["l_ankle"]] = [100, 1200]
    make_photos(tmp_path / "typo", [joints])
    with pytest.raises(ValueError, match=r"person 0 \(images/0.png\): l_ankle at \(100, 1200\) lies 1080 px outside "
                                         r"the 200x120 photo, farther than the person's joints inside it reach \(7\d px\)"):
        read_photos(tmp_path / "typo")


def test_training_logs_the_photo_error_that_evaluation_measures(tmp_path, data_dir, capsys):
    make_photos(tmp_path / "photos", [person(np.random.default_rng(k)) for k in range(3)])
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(data_dir), "--photos", str(tmp_path / "photos"),
                 "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "8", "--validation-steps", "1"]) == 0
    history = pd.read_csv(run / "history.csv")
    assert len(history) == 2 and history["photos_2d_error"].notna().all()
    # The last epoch's figures are those of the finished model, through the exported-form path of evaluate.
    mean_2d = training_mean_2d(open_source(str(data_dir)), 225)
    table = evaluate_photos(run, tmp_path / "photos", mean_2d, tmp_path / "out").set_index("predictor")
    error = table.loc["model", "2D error (of crop side)"]
    assert history["photos_2d_error"].iloc[-1] == pytest.approx(error, rel=1e-4)
    assert history["photos_vs_mean_2d"].iloc[-1] == pytest.approx(error / table.loc["mean 2D pose", "2D error (of crop side)"], rel=1e-4)
    # Its export, evaluated on the same photos, says what it was made from.
    assert main(["export", str(run), "--out", str(tmp_path / "served"), "--tflite", "none"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "served" / "tfpose3d" / "1"), "--photos", str(tmp_path / "photos"),
                 "--data", str(data_dir), "--out", str(tmp_path / "served-evaluation")]) == 0
    printed = capsys.readouterr().out
    assert f"tfpose3d/1: preset cpu-quick, from {run}, exported " in printed
    # Without --data, the export is measured against the data of the run its origin.json names: the same table.
    assert main(["evaluate", str(tmp_path / "served" / "tfpose3d" / "1"), "--photos", str(tmp_path / "photos"),
                 "--out", str(tmp_path / "served-evaluation")]) == 0
    again = capsys.readouterr().out
    assert f"tfpose3d/1: the data of {run}, the run it was trained in" in again
    assert again.split("| predictor")[1] == printed.split("| predictor")[1]
