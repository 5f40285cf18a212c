import json

import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.data import camera, mocap, pipeline, records, render


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
        uv = camera.project(s["joints_3d"].astype(np.float64), s["intrinsics"].astype(np.float64))
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
    assert "--count: must be at least 1, got 0" in capsys.readouterr().err
    assert main(["data", "render", "--poses", "nope", "--out", str(tmp_path / "y"), "--count", "5"]) == 2
    assert not (tmp_path / "y").exists() and not (tmp_path / "x").exists()


def test_same_seed_same_bytes_across_processes(rendered, tmp_path):
    """Another process (other hash seed, one worker) writes byte-identical shards."""
    import os
    import subprocess
    import sys

    out = tmp_path / "elsewhere"
    script = ("from tfpose3d.data import records; records.write_rendered('bandai-namco', r'%s', count=24, seed=3, "
              "split='test', workers=1, progress=False)" % out)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, env=env)
    shards = json.loads((rendered / "dataset.json").read_text())["shards"]
    for name in shards:
        assert (out / name).read_bytes() == (rendered / name).read_bytes()


def test_truncated_shard_is_named_before_anything_is_written(rendered, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    for split in ("train", "test"):
        shutil.copytree(rendered, data / split)
    shard = data / "train" / json.loads((rendered / "dataset.json").read_text())["shards"][0]
    shard.write_bytes(shard.read_bytes()[:-5000])
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--epochs", "1", "--steps-per-epoch", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfpose3d: error: ") and err.count("\n") == 1
    assert "truncated or corrupt TFRecord shard" in err and shard.name in err and not run.exists()


def test_data_command_inputs_are_checked(rendered, tmp_path, capsys):
    assert main(["data", "preview", "--data", str(rendered), "--out", str(tmp_path / "p.png"), "--count", "0"]) == 2
    assert "--count: must be at least 1, got 0" in capsys.readouterr().err
    assert main(["data", "preview", "--data", str(tmp_path), "--out", str(tmp_path / "p.png")]) == 2
    assert "no dataset.json" in capsys.readouterr().err
    assert main(["data", "preview", "--data", str(rendered), "--out", str(tmp_path / "p.jpg")]) == 2
    assert "must name a .png" in capsys.readouterr().err
    assert main(["data", "preview", "--data", str(rendered), "--out", str(tmp_path / "p.png"), "--count", "3"]) == 0
    assert (tmp_path / "p.png").stat().st_size > 10_000
    assert main(["data", "import-bvh", str(tmp_path), "--out", str(tmp_path / "x.npz")]) == 2
    assert "is a folder; pass BVH files" in capsys.readouterr().err
    assert main(["data", "import-bvh", str(tmp_path / "none.bvh"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "no such BVH file" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
