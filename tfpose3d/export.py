"""Deployment: a SavedModel with a serving signature in TF Serving's layout, and TFLite files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from tfpose3d.data.render import IMAGE_SIZE


SERVING_SIZE = IMAGE_SIZE  # serving takes the crops the datasets hold
SIGNATURE = "serving_default"
TFLITE_KINDS = ("float32", "float16", "int8")


def serving_function(model: keras.Model) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """uint8 [N, 225, 225, 3] -> pose_3d, joints_2d (pixels of the 225 px input), heatmaps_2d.

    Resizes to the model's input size with plain bilinear sampling, as the
    training pipeline does.
    """
    size = model.input_shape[1]
    scale = SERVING_SIZE / size

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        x = tf.cast(image, tf.float32)
        if size != SERVING_SIZE:
            x = tf.image.resize(x, [size, size], method="bilinear")
        out = model(x, training=False)
        return {
            "pose_3d": tf.cast(out["pose_3d"], tf.float32),
            "joints_2d": tf.cast(out["joints_2d"], tf.float32) * scale,
            "heatmaps_2d": tf.cast(out["heatmaps_2d"], tf.float32),
        }

    return serve


IMAGE_SPEC = tf.TensorSpec([None, SERVING_SIZE, SERVING_SIZE, 3], tf.uint8, name="image")


def next_version(model_dir: Path) -> int:
    versions = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()] if model_dir.is_dir() else []
    return max(versions, default=0) + 1


def representative_images(count: int = 100, seed: int = 0) -> Iterator[list[np.ndarray]]:
    """Rendered images of the shipped motion capture's training clips, for int8 calibration."""
    from tfpose3d.data import images, mocap, records

    poses = mocap.load_poses("bandai-namco").select("train")
    for png, *_ in records.render_indices(poses, seed, range(count)):
        yield [images.decode_png(png)[None]]


def convert_tflite(saved_model_dir: str | os.PathLike, kind: str, calibration: int = 100) -> bytes:
    """A TFLite flatbuffer of the SavedModel's serving signature.

    float32: as is; float16: weights stored in float16; int8: full-integer
    quantisation (int8 weights and activations, uint8 image in, float32 outputs),
    calibrated on rendered training images.
    """
    if kind not in TFLITE_KINDS:
        raise ValueError(f"Unknown TFLite kind {kind!r}; expected one of {TFLITE_KINDS}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[SIGNATURE])
    if kind == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: representative_images(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.float32
    return converter.convert()


def export(
    model: keras.Model,
    out_dir: str | os.PathLike,
    name: str = "tfpose3d",
    version: int | None = None,
    tflite: tuple[str, ...] = TFLITE_KINDS,
) -> Path:
    """Write out_dir/name/version/ (SavedModel + <name>_<kind>.tflite files) atomically."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"Model name {name!r} must be letters, digits, '-' or '_'")
    unknown = [k for k in tflite if k not in TFLITE_KINDS]
    if unknown:
        raise ValueError(f"Unknown TFLite kind(s) {unknown}; expected some of {TFLITE_KINDS}")
    model_dir = Path(out_dir) / name
    version = version if version is not None else next_version(model_dir)
    if version < 0:
        raise ValueError(f"version must be a non-negative integer, got {version}")
    final = model_dir / str(version)
    if final.exists():
        raise FileExistsError(f"{final} already exists; pick another --version")
    model_dir.mkdir(parents=True, exist_ok=True)
    # TF Serving skips folders whose name is not a number, so it never sees the temporary one.
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir))
    try:
        # A plain tf.Module: keras.export.ExportArchive (Keras 3.15) writes every variable twice.
        # Only the weights are tracked: the Dropout seed-generator states, unused at inference,
        # would otherwise reach TFLite as live variables and break int8 calibration.
        module = tf.Module()
        module.weights = [w.value for w in model.weights]
        module.serve = tf.function(serving_function(model), input_signature=[IMAGE_SPEC])
        tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
        for kind in tflite:
            (tmp / f"{name}_{kind}.tflite").write_bytes(convert_tflite(tmp, kind))
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
