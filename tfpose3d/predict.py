"""Inference from any exported form (.keras, SavedModel, .tflite) on images of any size."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tfpose3d import skeleton
from tfpose3d.data.images import read_rgb
from tfpose3d.export import SERVING_SIZE, SIGNATURE, serving_function
from tfpose3d.model import INFERENCE_OUTPUTS


def check_images(images: Any) -> np.ndarray:
    """Validate a batch for the serving signature: uint8 [N, 225, 225, 3], N >= 1.

    Floats are accepted when finite, within [0, 255] (they are rounded). A
    single image (rank 3) becomes a batch of one. Anything else raises a
    ValueError that names the problem.
    """
    array = np.asarray(images)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"images must be a numeric array, got dtype {array.dtype}")
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"images must have rank 4 [N, 225, 225, 3] (or 3 for one image), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError("images is an empty batch")
    if array.shape[-1] != 3:
        raise ValueError(f"images must have 3 (RGB) channels, got {array.shape[-1]} in shape {array.shape}")
    if array.shape[1:3] != (SERVING_SIZE, SERVING_SIZE):
        raise ValueError(f"images must be {SERVING_SIZE}x{SERVING_SIZE}, got {array.shape[1]}x{array.shape[2]}; "
                         "use tfpose3d.predict.load_image for other sizes")
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ValueError("images contain NaN or infinite values")
    if array.min() < 0 or array.max() > 255:
        raise ValueError(f"image values must lie in [0, 255], got [{array.min()}, {array.max()}]")
    return np.round(array).astype(np.uint8)


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
    scale = SERVING_SIZE / side
    resized = np.asarray(Image.fromarray(square).resize((SERVING_SIZE, SERVING_SIZE), Image.Resampling.BILINEAR))
    return resized, scale, offset


class Predictor:
    """Run the serving signature of a `.keras` file, a SavedModel folder or a `.tflite` file.

    Args:
        path: the model.
        threads: CPU threads for TFLite.

    Example:
    >>> predictor = Predictor("export/tfpose3d/1")
    >>> predictor(images)["pose_3d"].shape   # images: uint8 [N, 225, 225, 3]
    (N, 17, 3)
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        if self.path.is_dir() and (self.path / "saved_model.pb").is_file():
            import tensorflow as tf

            try:
                self._signature = tf.saved_model.load(str(self.path)).signatures[SIGNATURE]
            except KeyError:
                raise ValueError(f"{self.path}: SavedModel has no '{SIGNATURE}' signature") from None
            self._run = lambda x: {k: v.numpy() for k, v in self._signature(image=tf.constant(x)).items()}
            self.kind = "saved_model"
        elif self.path.suffix == ".tflite" and self.path.is_file():
            from ai_edge_litert.interpreter import Interpreter

            try:
                self._interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
                self._runner = self._interpreter.get_signature_runner(SIGNATURE)
            except (ValueError, RuntimeError) as err:
                raise ValueError(f"{self.path}: not a usable TFLite model ({err})") from None
            self._run = lambda x: self._runner(image=x)
            self.kind = "tflite"
        elif self.path.suffix == ".keras" and self.path.is_file():
            import tensorflow as tf

            from tfpose3d.evaluate import load_model

            self._serve = tf.function(serving_function(load_model(self.path)))
            self._run = lambda x: {k: v.numpy() for k, v in self._serve(tf.constant(x)).items()}
            self.kind = "keras"
        else:
            raise ValueError(f"{self.path}: not a model; expected a .keras file, a SavedModel folder or a .tflite file")

    def __call__(self, images: Any) -> dict[str, np.ndarray]:
        out = self._run(check_images(images))
        return {k: np.asarray(out[k]) for k in INFERENCE_OUTPUTS}


def predict_files(model: str | os.PathLike, images: list[str], out_dir: str | os.PathLike, threads: int | None = None) -> list[dict]:
    """Predict each image; write <stem>_pose.png into out_dir; return JSON-ready results."""
    from tfpose3d import viz

    predictor = Predictor(model, threads)
    loaded = [load_image(p) for p in images]  # all read (and checked) before anything is written
    out_dir = Path(out_dir)
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
