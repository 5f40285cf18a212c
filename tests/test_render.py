import json

import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.data import mocap, pipeline, records, render


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "ds"
    records.write_rendered("bandai-namco", out, count=24, seed=3, split="test", workers=2, progress=False)
    return out


def read_all(path):
    return list(pipeline.records_dataset(path, 225, shuffle=False).as_numpy_iterator())


def test_labels_project_within_half_a_pixel(rendered):
    samples = read_all(rendered)
    assert len(samples) == 24
    for s in samples:
        uv = render.project(s["joints_3d"].astype(np.float64), s["intrinsics"].astype(np.float64))
        assert np.abs(uv - s["joints_2d"]).max() < 0.5
        assert np.all(s["joints_3d"][:, 2] > 2000)  # metres away, in front of the camera
        assert s["image"].shape == (225, 225, 3) and s["image"].std() > 10


def test_manifest_and_same_seed_same_bytes(rendered, tmp_path):
    manifest = json.loads((rendered / "dataset.json").read_text())
    assert manifest["count"] == 24 and manifest["seed"] == 3 and manifest["joint_names"] == list(skeleton.JOINT_NAMES)
    assert "Bandai Namco" in manifest["source"]
    again = tmp_path / "again"
    records.write_rendered("bandai-namco", again, count=24, seed=3, split="test", workers=1, progress=False)
    name = manifest["shards"][0]
    assert (again / name).read_bytes() == (rendered / name).read_bytes()
    other = tmp_path / "other"
    records.write_rendered("bandai-namco", other, count=24, seed=4, split="test", workers=1, progress=False)
    assert (other / name).read_bytes() != (rendered / name).read_bytes()


def test_body_occludes_by_depth():
    # Two discs at one pixel: the nearer one's colour wins whichever is drawn first.
    image = np.zeros((20, 20, 3), np.float32)
    near = (np.array([0.0, 0, 1000]), np.array([0.0, 0, 1000]), 50.0, 50.0, "a")
    far = (np.array([0.0, 0, 2000]), np.array([0.0, 0, 2000]), 50.0, 50.0, "b")
    materials = {"a": np.array([255.0, 0, 0]), "b": np.array([0.0, 255, 0])}
    k = np.array([100.0, 100.0, 10.0, 10.0])
    render.draw_capsules(image, [near, far], k, materials, np.array([0, 0, -1.0]), 0.3)
    assert image[10, 10, 0] > 200 and image[10, 10, 1] == 0
    image[:] = 0
    render.draw_capsules(image, [far, near], k, materials, np.array([0, 0, -1.0]), 0.3)
    assert image[10, 10, 0] > 200 and image[10, 10, 1] == 0


def test_rendered_body_covers_its_joints():
    poses = mocap.load_poses("bandai-namco")
    rng = np.random.default_rng(7)
    s = render.render_pose(poses.joints[1000], rng)
    # The body occupies a good part of the crop and every joint lies inside it.
    assert np.all((s.joints_2d > 0) & (s.joints_2d < 225))
    assert np.ptp(s.joints_2d[:, 1]) > 80


def test_render_cli_errors(tmp_path, capsys, rendered):
    assert main(["data", "render", "--out", str(rendered), "--count", "5"]) == 2
    assert "already holds a dataset" in capsys.readouterr().err
    assert main(["data", "render", "--out", str(tmp_path / "x"), "--count", "0"]) == 2
    assert "count must be positive" in capsys.readouterr().err
    assert main(["data", "render", "--poses", "nope", "--out", str(tmp_path / "y"), "--count", "5"]) == 2
    assert not (tmp_path / "y").exists() and not (tmp_path / "x").exists()
