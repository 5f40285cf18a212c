import json

import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.data import body, camera, mocap, pipeline, raster, records, render
from tfpose3d.data.options import RenderOptions, motion_split
from tfpose3d.data.sources import RecordsSource, open_source


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
        assert np.all(s["joints_3d"][:, 2] > 1000)  # a metre or more away, in front of the camera
        assert s["image"].shape == (225, 225, 3) and s["image"].std() > 2  # not blank (low light is dark)


def test_manifest_and_same_seed_same_bytes(rendered, tmp_path):
    manifest = json.loads((rendered / "dataset.json").read_text())
    assert manifest["count"] == 24 and manifest["seed"] == 3 and manifest["joint_names"] == list(skeleton.JOINT_NAMES)
    assert "Bandai Namco" in manifest["source"]
    (tmp_path / "plain").mkdir()
    assert rendered.stat().st_mode == (tmp_path / "plain").stat().st_mode  # readable as any folder made with mkdir
    again = tmp_path / "again"
    records.write_rendered("bandai-namco", again, count=24, seed=3, split="test", workers=1, progress=False)
    name = manifest["shards"][0]
    assert (again / name).read_bytes() == (rendered / name).read_bytes()
    other = tmp_path / "other"
    records.write_rendered("bandai-namco", other, count=24, seed=4, split="test", workers=1, progress=False)
    assert (other / name).read_bytes() != (rendered / name).read_bytes()


def _draw(xy, z, faces):
    depth = np.full((20, 20), np.inf, np.float32)
    face_id = np.full((20, 20), -1, np.int32)
    weights = np.zeros((20, 20, 3), np.float32)
    raster.rasterize(np.asarray(xy, np.float32), np.asarray(z, np.float32), np.asarray(faces, np.int32), depth, face_id, weights)
    return depth, face_id, weights


def test_each_records_body_and_frame_can_be_drawn_again(rendered):
    manifest = json.loads((rendered / "dataset.json").read_text())
    poses = mocap.load_motion("bandai-namco").select(motion_split("test"))
    assert manifest["frames_in_split"] == len(poses)
    model = body.default_model()
    J = skeleton.JOINT_INDEX
    # Bones whose two joints ride one bone of the rig keep the rest body's length in every pose.
    rigid = [(J["pelvis"], J["r_hip"]), (J["r_knee"], J["r_ankle"]), (J["l_elbow"], J["l_wrist"])]
    for i, sample in enumerate(read_all(rendered)):  # one shard: the records are in the stream's order
        _, frame, shape = render.draw(manifest["seed"], i, manifest["frames_in_split"])
        rest = model.body(shape).joints
        for a, b in rigid:
            np.testing.assert_allclose(np.linalg.norm(sample["joints_3d"][a] - sample["joints_3d"][b]),
                                       np.linalg.norm(rest[a] - rest[b]), rtol=1e-4)
        assert sample["action"].decode() == poses.actions[poses.clip[frame]]


def test_rasteriser_keeps_the_nearest_surface_and_interpolates_in_perspective():
    xy = np.array([[2.0, 2], [18, 2], [2, 18]] * 2)
    for near_first in (True, False):
        faces = [[0, 1, 2], [3, 4, 5]] if near_first else [[3, 4, 5], [0, 1, 2]]
        depth, face_id, _ = _draw(xy, [1000] * 3 + [2000] * 3, faces)
        near = 0 if near_first else 1
        assert face_id[5, 5] == near and depth[5, 5] == 1000
        assert face_id[17, 17] == -1 and np.isinf(depth[17, 17])  # outside both triangles
    # A tilted triangle: depth is the plane's, 1 / (screen-linear 1/z); weights interpolate in 3D.
    z = np.array([1000.0, 3000.0, 1000.0])
    depth, face_id, weights = _draw(xy[:3], z, [[0, 1, 2]])
    w = np.linalg.solve(np.array([[2.0, 18, 2], [2, 2, 18], [1, 1, 1]]), [10.5, 2.5, 1])  # pixel (10, 2), by hand
    assert depth[2, 10] == pytest.approx(1.0 / (w[0] / 1000 + w[1] / 3000 + w[2] / 1000), rel=1e-5)
    # The interpolated depth attribute agrees with the depth buffer: weights are perspective-correct.
    z_attr = raster.interpolate(z[:, None], np.array([[0, 1, 2]]), face_id, weights)[:, 0]
    np.testing.assert_allclose(z_attr, depth[face_id >= 0], rtol=1e-5)
    np.testing.assert_allclose(weights[face_id >= 0].sum(-1), 1.0, atol=1e-5)


def test_every_look_renders_and_things_in_front_hide_joints():
    poses = mocap.load_motion("bandai-namco")
    model = body.default_model()
    shaped = model.body()
    vertices, joints = poses.pose(shaped, 2000)
    for name, look in render.LOOKS.items():
        s = render.render_body(shaped, vertices, joints, np.random.default_rng(1), look=look)
        assert s.image.shape == (225, 225, 3) and s.image.dtype == np.uint8, name
    hidden = 0
    for seed in range(40):
        s = render.render_body(shaped, vertices, joints, np.random.default_rng(seed), look=render.Look(occluders=1.0))
        x, y = np.clip(s.joints_2d.astype(int), 0, 224).T
        inside = np.all((s.joints_2d >= 0) & (s.joints_2d < 225), axis=1)
        # A joint marked visible lies inside the crop on a pixel no occluder covers (the body or background
        # shows there); every joint outside the crop is marked invisible.
        assert not s.visibility[~inside].any()
        hidden += int((inside & (s.visibility == 0)).sum())
        assert s.mask[y[s.visibility > 0], x[s.visibility > 0]].mean() > 0.8
    assert hidden > 20  # occluders do hide joints


def test_scene_photos_ship_with_their_licences():
    from pathlib import Path

    from tfpose3d.data import scenes

    pool = scenes.photos()
    notes = (Path(scenes.__file__).parent / "SCENES.md").read_text()
    rows = [line for line in notes.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(pool) == len(rows) >= 100
    assert all(("CC0" in r or "Public" in r or "CC-BY" in r or "CC BY" in r) for r in rows)
    assert all(max(p.shape[:2]) <= 512 and p.shape[2] == 3 for p in pool)
    crop = scenes.photo_crop(np.random.default_rng(0), 64)
    assert crop.shape == (64, 64, 3) and crop.std() > 5


def test_rendered_body_covers_its_joints():
    poses = mocap.load_motion("bandai-namco")
    model = body.default_model()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        shaped = model.body(body.sample_shape(rng))
        s = render.render_body(shaped, *poses.pose(shaped, 1000 + 500 * seed), rng, look=render.LOOKS["plain"])
        # The body fills a good part of the crop and every joint is drawn on the body.
        assert np.all((s.joints_2d > 0) & (s.joints_2d < 225))
        assert np.ptp(s.joints_2d[:, 1]) > 80 and 0.05 < s.mask.mean() < 0.6 and s.visibility.all()
        x, y = s.joints_2d.astype(int).T
        assert s.mask[y, x].sum() >= 16


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


def test_rendering_workers_start_where_tensorflow_left_garbage(tmp_path):
    """A forked worker that collected an inherited tf.data iterator hung in its thread pool's destructor, waiting
    for threads fork does not copy: the suite hung so when a test's traceback had kept one."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import tensorflow as tf
        from tfpose3d.data import records

        def garbage():
            iterator = iter(tf.data.Dataset.range(100).map(lambda x: x + 1, num_parallel_calls=2).prefetch(2))
            next(iterator)
            cycle = [iterator]
            cycle.append(cycle)  # freed only by the cyclic collector

        garbage()
        records.write_rendered("bandai-namco", r"{tmp_path / 'ds'}", count=8, seed=0, split="test", workers=2,
                               progress=False)
    """)
    (tmp_path / "garbage.py").write_text(script)  # run as `python -c` it did not hang
    subprocess.run([sys.executable, str(tmp_path / "garbage.py")], check=True, capture_output=True, timeout=120)  # a hang
    assert json.loads((tmp_path / "ds" / "dataset.json").read_text())["count"] == 8


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
    assert "truncated or corrupt TFRecord shard (truncated record at " in err and shard.name in err
    assert "{{" not in err and "[Op:" not in err and not run.exists()  # none of TensorFlow's wrapping


def test_data_command_inputs_are_checked(rendered, tmp_path, capsys):
    assert main(["data", "preview", "--data", str(rendered), "--out", str(tmp_path / "p.png"), "--count", "0"]) == 2
    assert "--count: must be at least 1, got 0" in capsys.readouterr().err
    assert main(["data", "preview", "--data", str(tmp_path), "--out", str(tmp_path / "p.png")]) == 2
    assert "no dataset.json" in capsys.readouterr().err
    assert main(["data", "preview", "--data", str(rendered), "--out", str(tmp_path / "p.jpg")]) == 2
    assert "must name a .png" in capsys.readouterr().err
    assert main(["data", "preview", "--data", str(rendered), "--out", str(tmp_path / "new" / "p.png"), "--count", "3"]) == 0
    assert (tmp_path / "new" / "p.png").stat().st_size > 10_000  # its folder made
    assert main(["data", "import-bvh", str(tmp_path), "--out", str(tmp_path / "x.npz")]) == 2
    assert "is a folder; pass BVH files" in capsys.readouterr().err
    assert main(["data", "import-bvh", str(tmp_path / "none.bvh"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "no such BVH file" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_varied_poses_only_in_training(tmp_path):
    def shard(look, split):
        out = tmp_path / f"{look}-{split}"
        records.write_rendered("bandai-namco", out, count=6, seed=5, split=split, workers=1, progress=False, look=look)
        return [(out / name).read_bytes() for name in json.loads((out / "dataset.json").read_text())["shards"]]

    # Held-out clips are measured as captured; training images show other poses (on the same bodies, cameras
    # and rooms, drawn from the same streams).
    assert shard("plain-poses", "test") == shard("plain", "test")
    assert shard("plain-poses", "val") == shard("plain", "val")
    assert shard("plain-poses", "train") != shard("plain", "train")


def test_val_split_is_a_third_draw_of_the_held_out_clips(tmp_path):
    source = open_source("mocap:bandai-namco", RenderOptions(8, 4, 3, root=tmp_path, look="plain"))
    assert source.validation_split() == "val"
    source.check()
    val, test = (json.loads((source.folder / split / "dataset.json").read_text()) for split in ("val", "test"))
    assert (val["split"], val["count"], val["seed"]) == ("val", 4, 5) and (test["count"], test["seed"]) == (4, 4)
    held_out = mocap.load_motion("bandai-namco").select("test")
    assert val["frames_in_split"] == test["frames_in_split"] == len(held_out)
    actions = {s["action"].decode() for s in source.samples("val", 32).as_numpy_iterator()}
    assert actions <= set(held_out.actions[held_out.clip])
    images = {split: [s["image"].tobytes() for s in source.samples(split, 32).as_numpy_iterator()] for split in ("val", "test")}
    assert not set(images["val"]) & set(images["test"])


def test_motion_sets_of_one_file_name_render_into_folders_of_their_own(tmp_path):
    shipped = mocap.SHIPPED["bandai-namco"].read_bytes()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    (tmp_path / "a" / "walk.npz").write_bytes(shipped)
    (tmp_path / "b" / "walk.npz").write_bytes(shipped[:-1] + bytes([shipped[-1] ^ 1]))  # one bit apart

    def folder(target):
        return open_source(f"mocap:{target}", RenderOptions(8, 4, 0, root=tmp_path, look="plain")).folder.name

    a, b = folder(tmp_path / "a" / "walk.npz"), folder(tmp_path / "b" / "walk.npz")
    assert a.startswith("walk-") and b.startswith("walk-") and a != b
    assert folder(tmp_path / "a" / "walk.npz") == a  # the same file, the same renders
    assert folder("bandai-namco").startswith("bandai-namco-") and folder("bandai-namco") != a  # the shipped set by name


def test_a_folder_without_val_validates_on_test(rendered, tmp_path):
    (tmp_path / "train").symlink_to(rendered)
    (tmp_path / "test").symlink_to(rendered)
    assert RecordsSource(str(tmp_path)).validation_split() == "test"
    (tmp_path / "val").symlink_to(rendered)
    assert RecordsSource(str(tmp_path)).validation_split() == "val"
    # One dataset folder has nothing to validate on but its own images.
    with pytest.raises(ValueError, match="is one dataset folder .* would validate on its own images"):
        RecordsSource(str(rendered)).validation_split()


def test_an_unknown_split_is_named_before_anything_is_read_or_written(rendered, tmp_path):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'val', 'test'\), got 'dev'"):
        records.write_rendered("bandai-namco", tmp_path / "out", 2, seed=0, split="dev", workers=1, progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="got 'dev'"):
        RecordsSource(str(rendered)).samples("dev", 32)
    with pytest.raises(ValueError, match="got 'dev'"):
        open_source("mocap:bandai-namco", RenderOptions(8, 4, root=tmp_path)).check(("dev",))


def test_the_seated_look_sits_a_share_of_training_poses_and_no_held_out_one():
    poses = mocap.load_motion("bandai-namco")
    J = skeleton.JOINT_INDEX

    def seated(joints: np.ndarray) -> bool:
        up = joints[J["thorax"]] - joints[J["pelvis"]]
        up /= np.linalg.norm(up)
        forward = np.cross(joints[J["l_hip"]] - joints[J["r_hip"]], up)  # the body faces along left x up
        for side in "lr":
            thigh, shin = (joints[J[f"{side}_{b}"]] - joints[J[f"{side}_{a}"]] for a, b in (("hip", "knee"), ("knee", "ankle")))
            thigh, shin = thigh / np.linalg.norm(thigh), shin / np.linalg.norm(shin)
            # Thigh ahead of the body and more than 40 degrees from straight down the trunk, knee bent by more
            # than 40 degrees.
            if thigh @ forward <= 0 or -thigh @ up > np.cos(np.radians(40)) or thigh @ shin > np.cos(np.radians(40)):
                return False
        return True

    def joints(look: str, split: str) -> np.ndarray:
        samples = render.render_indices(poses.select(motion_split(split)), 3, range(200), size=64,
                                        look=render.look_named(look, split))
        return np.stack([s["joints_3d"] for s in samples])

    plain, seated_look = joints("plain", "train"), joints("plain-seated", "train")
    assert np.mean([seated(j) for j in plain]) < 0.03  # a run's stride, now and then
    assert 0.12 < np.mean([seated(j) for j in seated_look]) < 0.3  # a fifth more, as `LOOKS` sets
    # Held-out renders are the captured poses, exactly as the plain look draws them.
    np.testing.assert_array_equal(joints("plain-seated", "test"), joints("plain", "test"))


@pytest.mark.parametrize("field, value", [("seated", 1.5), ("poses", -0.1), ("occluders", 2.0), ("photo_backgrounds", -1.0)])
def test_a_share_outside_zero_to_one_is_named(field, value):
    with pytest.raises(ValueError, match=f"Look.{field} is a share of images in \\[0, 1\\], got {value}"):
        render.Look(**{field: value})
