"""Real photographs of people with annotated 2D joints: for measuring models trained on renders, never for training.

`PhotoSet.load` reads a folder in the form of `../shared/data/real-photos-dev` (its SOURCE.md), frames each
person as the renderer frames its bodies (`crop_person`), and scores 2D joints against the annotations, so one
set of crops serves `tfpose3d evaluate --photos`, the per-epoch watch of `tfpose3d train --photos` and the
benchmarks.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfpose3d import contract, skeleton
from tfpose3d.data import render
from tfpose3d.data.images import crop_square, read_rgb

if TYPE_CHECKING:  # sources is tf.data; photos are also scored where TensorFlow is not installed
    from tfpose3d.data.sources import Source

PCK_FRACTION = 0.1  # of the crop side


def read_photos(folder: str | os.PathLike) -> list[dict]:
    """People in real photographs with 2D joints (`annotations.json` as in real-photos-dev, see its SOURCE.md).

    Each entry: `image` (path), `joints_2d` (17, 2) float with NaN where a joint is not annotated, `set`, and
    `box` (x, y, w, h) where the file gives the person's box (else None).
    """
    folder = Path(folder)
    path = folder / "annotations.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no annotations.json (a folder of photos with 2D joints is needed)")
    try:
        data = json.loads(path.read_text())
        if tuple(data["joint_names"]) != skeleton.JOINT_NAMES:
            raise ValueError("joint_names differ from the Human3.6M order")
        people = [{"image": folder / p["image"], "set": p.get("set", ""), "box": tuple(p["bbox"]) if p.get("bbox") else None,
                   "joints_2d": np.array([j if j is not None else [np.nan, np.nan] for j in p["joints_2d"]], np.float64)}
                  for p in data["people"]]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a photo annotation file ({err.__class__.__name__}: {err})") from None
    if not people:
        raise ValueError(f"{path}: no people")
    return people


def crop_person(image: np.ndarray, joints_2d: np.ndarray, size: int, margin: float = render.H36M_CAMERAS.crop_margin) -> tuple[np.ndarray, np.ndarray]:
    """A square crop around the annotated joints, as the renderer frames a person; returns it and the joints in it."""
    seen = joints_2d[np.isfinite(joints_2d).all(1)]
    crop, corner, scale = crop_square(image, seen.min(0), seen.max(0), margin, size)
    return crop, (joints_2d - corner) * scale


def training_mean_2d(source: Source, image_size: int, count: int = 5000) -> np.ndarray:
    """The mean 2D pose of a source's training samples, as a fraction of the image side."""
    joints = [s["joints_2d"] / image_size for s in source.samples("train", image_size).take(count).as_numpy_iterator()]
    return np.mean(joints, axis=0)


@dataclasses.dataclass(frozen=True)
class PhotoSet:
    """The people of a photo folder, cropped once.

    Attributes:
        people: `read_photos` entries.
        crops: (N, 225, 225, 3) uint8, each person framed as the renderer frames a body.
        joints_2d: (N, 17, 2) annotated joints as fractions of the crop side, NaN where not annotated.
    """

    people: list[dict]
    crops: np.ndarray
    joints_2d: np.ndarray

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "PhotoSet":
        people = read_photos(folder)
        size = contract.IMAGE_SIZE
        crops, joints = zip(*(crop_person(read_rgb(p["image"]), p["joints_2d"], size) for p in people))
        return cls(people, np.stack(crops), np.stack(joints) / size)

    def distances(self, joints_2d: np.ndarray) -> np.ndarray:
        """(N, 17) distance of `joints_2d` (N or 1, 17, 2; fractions of the side) from each annotated joint, NaN elsewhere."""
        return np.linalg.norm(np.asarray(joints_2d, np.float64) - self.joints_2d, axis=-1)

    def score(self, joints_2d: np.ndarray) -> dict[str, float]:
        """Mean 2D error over the annotated joints (a fraction of the crop side) and PCK at `PCK_FRACTION`."""
        error = self.distances(joints_2d)
        error = error[np.isfinite(error)]
        return {"2D error": float(error.mean()), f"PCK@{PCK_FRACTION:g}": float((error <= PCK_FRACTION).mean()),
                "joints": int(error.size)}
