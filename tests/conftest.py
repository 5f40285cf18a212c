import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A tiny rendered dataset: train/ (64 images), test/ (20 images of held-out clips) and val/ (12 more)."""
    from tfpose3d.data import records

    root = tmp_path_factory.mktemp("data")
    records.write_rendered("bandai-namco", root / "train", 64, seed=0, split="train", workers=1, progress=False)
    records.write_rendered("bandai-namco", root / "test", 20, seed=1, split="test", workers=1, progress=False)
    records.write_rendered("bandai-namco", root / "val", 12, seed=2, split="val", workers=1, progress=False)
    return root
