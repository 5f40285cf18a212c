"""Inference from any exported form (.keras, SavedModel, .tflite) on images of any size."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tfpose3d import contract, skeleton
from tfpose3d.data.images import read_rgb
from tfpose3d.export import form_of


def load_image(path: str | os.PathLike) -> tuple[np.ndarray, float, np.ndarray]:
    """Read an image of any size for the model.

    The image is padded with black to a centred square (nothing is cut off),
    then resized to 225x225 (bilinear). Returns the 225 px image, the scale
    and the offset that map its pixels back to the original:
    original = joints_225 / scale - offset.
    """
    rgb = read_rgb(path)
    h, w = rgb.shape[:2]
    side = max(h, w)
    offset = np.array([(side - w) // 2, (side - h) // 2], np.float32)
    square = np.zeros((side, side, 3), np.uint8)
    square[int(offset[1]) : int(offset[1]) + h, int(offset[0]) : int(offset[0]) + w] = rgb
    size = contract.IMAGE_SIZE
    resized = np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.BILINEAR))
    return resized, size / side, offset


class Predictor:
    """Run the serving contract of a `.keras` file, a SavedModel folder or a `.tflite` file.

    Args:
        path: the model; its form is recognised by `tfpose3d.export.form_of`.
        threads: CPU threads for TFLite.

    Example:
    >>> predictor = Predictor("export/tfpose3d/1")
    >>> predictor(images)["pose_3d"].shape   # images: uint8 [N, 225, 225, 3]
    (N, 17, 3)
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        form = form_of(self.path)
        self.kind = form.runtime
        self._run = form.open(self.path, threads)

    def __call__(self, images: Any) -> dict[str, np.ndarray]:
        batch = contract.check_images(images)
        return contract.check_outputs(self._run(batch), len(batch))


def predict_files(model: str | os.PathLike, images: list[str], out_dir: str | os.PathLike, threads: int | None = None) -> list[dict]:
    """Predict each image; write <stem>_pose.png into out_dir; return JSON-ready results."""
    from tfpose3d import viz

    loaded = [load_image(p) for p in images]  # all read (and checked) before anything is written
    predictor = Predictor(model, threads)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out-dir {out_dir} is a file; a folder is needed")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for path, (image, scale, offset) in zip(images, loaded):
        out = predictor(image)
        joints = out["joints_2d"][0] / scale - offset
        figure = out_dir / f"{Path(path).stem}_pose.png"
        viz.pose_figure(image, out["joints_2d"][0], out["pose_3d"][0], figure)
        results.append({
            "image": str(path), "figure": str(figure), "joint_names": list(skeleton.JOINT_NAMES),
            "pose_3d_mm": np.round(out["pose_3d"][0], 1).tolist(),
            "joints_2d_px": np.round(joints, 1).tolist(),
        })
    return results


def to_json(results: list[dict]) -> str:
    return json.dumps(results, indent=2)
