import h5py
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfpose3d.cli import error_line
from tfpose3d.data import camera, h36m
from tfpose3d.data.sources import open_source

CAMERA = "54138969"
FX, FY, CX, CY = camera.H36M_INTRINSICS[CAMERA][:4]


def make_h36m(root, frames=130, subjects=h36m.TRAIN_SUBJECTS + h36m.TEST_SUBJECTS, seed=0):
    """Write the extracted-frames layout: one action per subject, 32 joints, small JPEG frames."""
    rng = np.random.default_rng(seed)
    for subject in subjects:
        action = root / subject / "Walking-1"
        (action / "imageSequence" / CAMERA).mkdir(parents=True)
        pose3d = np.c_[rng.uniform(-400, 400, (frames, 32, 2)), rng.uniform(4000, 5000, (frames, 32, 1))]
        # Joint 32-index k carries marker value k in x so the 32 -> 17 mapping is visible.
        pose3d[:, :, 0] += np.arange(32) * 1e-3
        pose2d = np.stack([FX * pose3d[..., 0] / pose3d[..., 2] + CX, FY * pose3d[..., 1] / pose3d[..., 2] + CY], -1)
        frame = np.arange(frames) * 5 + 1
        with h5py.File(action / "annot.h5", "w") as f:
            f["pose/3d"], f["pose/2d"], f["frame"] = pose3d, pose2d, frame
            f["camera"] = np.full(frames, int(CAMERA))
            f[f"intrinsics/{CAMERA}"] = [FX, CX, FY, CY]
        for n in frame:
            Image.fromarray(np.full((100, 100, 3), n % 255, np.uint8)).save(action / "imageSequence" / CAMERA / f"img_{n:06d}.jpg")
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_h36m(tmp_path_factory.mktemp("h36m"))


def test_protocol_subjects_and_test_subsampling(root):
    train = h36m.load_index(root, "train")
    test = h36m.load_index(root, "test")
    assert set(train.subjects) == {"S1", "S5", "S6", "S7", "S8"} and len(train) == 5 * 130
    assert set(test.subjects) == {"S9", "S11"} and len(test) == 2 * 3  # rows 0, 64, 128
    assert test.images[1].name == f"img_{64 * 5 + 1:06d}.jpg" and test.actions[0] == "Walking"


def test_32_to_17_mapping(root):
    index = h36m.load_index(root, "test")
    with h5py.File(root / "S9" / "Walking-1" / "annot.h5") as f:
        raw = f["pose/3d"][0]
    np.testing.assert_allclose(index.joints_3d[0], raw[[0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]], rtol=1e-6)


def test_samples_are_cropped_with_consistent_labels(root):
    samples = list(h36m.h36m_samples(root, "test", image_size=96).as_numpy_iterator())
    assert len(samples) == 6
    for s in samples:
        assert s["image"].shape == (96, 96, 3)
        np.testing.assert_allclose(camera.project(s["joints_3d"], s["intrinsics"]), s["joints_2d"], atol=0.05)
        assert s["joints_2d"].min() > 0 and s["joints_2d"].max() < 96
        # Framed as the renders the models learn from: the joints' box is 1 / 1.45 of the crop, centred.
        lo, hi = s["joints_2d"].min(0), s["joints_2d"].max(0)
        assert (hi - lo).max() == pytest.approx(96 / 1.45, rel=1e-4)
        np.testing.assert_allclose((lo + hi) / 2, [48, 48], atol=1e-3)


def test_missing_and_corrupt_files_are_named(tmp_path):
    root = make_h36m(tmp_path / "a", frames=3)
    (root / "S9" / "Walking-1" / "annot.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"S9/Walking-1/annot.h5"):
        h36m.load_index(root, "test")
    (root / "S9" / "Walking-1" / "annot.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"S9/Walking-1/annot.h5.*corrupt"):
        h36m.load_index(root, "test")
    with pytest.raises(FileNotFoundError, match="S5"):
        h36m.load_index(make_h36m(tmp_path / "b", frames=2, subjects=("S1",)), "train")
    root = make_h36m(tmp_path / "c", frames=2)
    bad = root / "S11" / "Walking-1" / "imageSequence" / CAMERA / "img_000001.jpg"
    bad.write_bytes(b"junk")
    with pytest.raises(tf.errors.OpError) as info:
        list(h36m.h36m_samples(root, "test", 64).as_numpy_iterator())
    # What the CLI prints: the file and the problem on one line, none of TensorFlow's traceback.
    assert error_line(info.value) == f"{bad}: not a readable image (UnidentifiedImageError)"
    bad.unlink()
    with pytest.raises(FileNotFoundError, match=r"1 test frame\(s\) missing, e.g. .*img_000001.jpg"):
        open_source(f"h36m:{root}").check()


def test_h36m_source_serves_the_protocol_splits(root):
    source = open_source(f"h36m:{root}")
    source.check()
    assert source.spec == f"h36m:{root}"
    test = list(source.samples("test", 32).as_numpy_iterator())
    assert len(test) == 6 and {s["subject"] for s in test} == {b"S9", b"S11"}
    assert all(s["visibility"].tolist() == [1.0] * 17 for s in test)
