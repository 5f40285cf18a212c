"""Human3.6M in the common extracted-frames layout, through the same pipeline as rendered data.

Layout (as written by the widely used h36m-fetch scripts)::

    ROOT/S1/Directions-1/annot.h5            per subject and action
        pose/3d       (N, 32, 3) joints in camera coordinates, mm
        pose/2d       (N, 32, 2) joints in image pixels
        camera        (N,)       camera id (e.g. 54138969)
        frame         (N,)       frame number (1-based)
        intrinsics/<camera id>   (4,) fx, cx, fy, cy
    ROOT/S1/Directions-1/imageSequence/<camera id>/img_000001.jpg

Protocol: train on S1, S5, S6, S7, S8; test on S9, S11, every 64th stored
frame by default. The 32 motion-capture joints map to the 17 of
`tfpose3d.skeleton` by `H36M_32_TO_17`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.data import camera, pipeline, render
from tfpose3d.data.images import crop_region, read_rgb
from tfpose3d.data.sources import Source

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
H36M_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


@dataclasses.dataclass
class H36MIndex:
    """Every selected frame: image path and labels in the full image."""

    images: list[Path]
    joints_3d: np.ndarray  # (N, 17, 3) mm, camera frame
    joints_2d: np.ndarray  # (N, 17, 2) pixels of the full image
    intrinsics: np.ndarray  # (N, 4) fx, fy, cx, cy
    actions: list[str]
    subjects: list[str]

    def __len__(self) -> int:
        return len(self.images)


def _read_annotation(path: Path) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            needed = ("pose/3d", "pose/2d", "camera", "frame")
            missing = [k for k in needed if k not in f]
            if missing:
                raise ValueError(f"{path}: missing dataset(s) {missing}")
            data = {k: np.asarray(f[k]) for k in needed}
            data["intrinsics"] = {cam: np.asarray(f["intrinsics"][cam]) for cam in f.get("intrinsics", {})}
    except OSError as err:
        raise ValueError(f"{path}: unreadable or corrupt annotation file ({err})") from None
    n = len(data["frame"])
    if data["pose/3d"].shape != (n, 32, 3) or data["pose/2d"].shape != (n, 32, 2) or len(data["camera"]) != n:
        raise ValueError(f"{path}: expected pose/3d (N, 32, 3), pose/2d (N, 32, 2) and N cameras for N={n} frames")
    return data


def load_index(root: str | Path, split: str = "train", every: int | None = None) -> H36MIndex:
    """Index the frames of `split` ("train" or "test") under `root`.

    Args:
        every: keep every n-th stored frame; default 1 for train, 64 for test.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Human3.6M root {root} is not a folder")
    every = every or (64 if split == "test" else 1)
    subjects = TRAIN_SUBJECTS if split == "train" else TEST_SUBJECTS
    images, j3d, j2d, intr, actions, subs = [], [], [], [], [], []
    for subject in subjects:
        subject_dir = root / subject
        if not subject_dir.is_dir():
            raise FileNotFoundError(f"Human3.6M subject folder {subject_dir} is missing")
        action_dirs = sorted(p for p in subject_dir.iterdir() if p.is_dir())
        if not action_dirs:
            raise FileNotFoundError(f"{subject_dir} holds no action folders")
        for action_dir in action_dirs:
            annot = action_dir / "annot.h5"
            if not annot.is_file():
                raise FileNotFoundError(f"{annot} is missing")
            data = _read_annotation(annot)
            for row in range(0, len(data["frame"]), every):
                camera = str(int(data["camera"][row]))
                if camera not in data["intrinsics"]:
                    raise ValueError(f"{annot}: no intrinsics/{camera}")
                fx, cx, fy, cy = data["intrinsics"][camera]
                images.append(action_dir / "imageSequence" / camera / f"img_{int(data['frame'][row]):06d}.jpg")
                j3d.append(data["pose/3d"][row, list(H36M_32_TO_17)])
                j2d.append(data["pose/2d"][row, list(H36M_32_TO_17)])
                intr.append((fx, fy, cx, cy))
                actions.append(action_dir.name.split("-")[0].split(" ")[0])
                subs.append(subject)
    return H36MIndex(images, np.array(j3d, np.float32), np.array(j2d, np.float32), np.array(intr, np.float32), actions, subs)


def crop_frame(image: np.ndarray, joints_2d: np.ndarray, intrinsics: np.ndarray, size: int = IMAGE_SIZE) -> tuple:
    """Square crop around the 2D joints, framed as the renderer frames a body (`crop_margin` times the joints'
    box) but not turned, so that the crop's intrinsics stay a pinhole camera's; scaled to `size`, labels follow."""
    corner, scale, new_intrinsics = camera.square_crop(joints_2d.min(0), joints_2d.max(0),
                                                       render.H36M_CAMERAS.crop_margin, size, intrinsics)
    region = camera.Region(tuple(corner + size / scale / 2), size / scale)
    return crop_region(image, region, size), ((joints_2d - corner) * scale).astype(np.float32), new_intrinsics.astype(np.float32)


def h36m_samples(root: str | Path, split: str, image_size: int, every: int | None = None) -> tf.data.Dataset:
    """Samples in the same form as `pipeline.records_dataset`: cropped images and labels."""
    index = load_index(root, split, every)
    if not index.images:
        raise ValueError(f"{root}: no {split} frames")

    visible = np.ones(len(H36M_32_TO_17), np.float32)

    def generate():
        for i in range(len(index)):
            image, uv, k = crop_frame(read_rgb(index.images[i]), index.joints_2d[i], index.intrinsics[i], image_size)
            yield {"image": image, "joints_3d": index.joints_3d[i], "joints_2d": uv, "visibility": visible,
                   "intrinsics": k, "action": index.actions[i], "subject": index.subjects[i]}

    spec = pipeline.sample_spec(tf.TensorSpec([image_size, image_size, 3], tf.uint8, name="image"))
    return tf.data.Dataset.from_generator(generate, output_signature=spec)


class H36MSource(Source):
    """Human3.6M under ROOT ("h36m:ROOT"): protocol subjects, every 64th test frame."""

    scheme = "h36m"

    def check(self, splits: Sequence[str] = ("train", "test")) -> None:
        for split in splits:
            index = load_index(self.target, split)
            missing = [str(p) for p in index.images if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"{len(missing)} {split} frame(s) missing, e.g. {missing[0]}")

    def validation_split(self) -> str:
        # The protocol has two subject sets; holding a training subject out would change what "S1-S8" means.
        return "test"

    def samples(self, split, image_size, shuffle=False, seed=0, cache=False):
        ds = h36m_samples(self.target, split, image_size)
        ds = ds.cache() if cache else ds
        # Frames come in subject/action order; the buffer spans a few actions of one subject.
        return ds.shuffle(4096, seed=seed) if shuffle else ds
