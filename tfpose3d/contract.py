"""The serving contract: what an exported tfpose3d model takes and returns.

One place for the input size and dtype, the output names and shapes, and the
validation of a batch, shared by the exporters, `predict`, the TF Serving
client and the tests. It imports numpy only, so a REST client needs nothing
heavier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SIGNATURE = "serving_default"
# The same contract with test-time flip (the mirrored image estimated too, mirrored back and averaged): twice
# the compute. A second signature of the SavedModel; a TFLite file holds one signature, and its runner mirrors
# the batch itself (`tfpose3d.predict.Predictor(path, flip=True)`).
FLIP_SIGNATURE = "serving_flip"
INPUT_NAME = "image"
INPUT_DTYPE = np.uint8
# The paper's input side; every dataset stores crops of this size and serving takes them.
IMAGE_SIZE = 225
NUM_JOINTS = 17

# Output name -> shape after the batch axis; "Ng" is the model's grid size.
OUTPUTS: dict[str, tuple] = {
    "pose_3d": (NUM_JOINTS, 3),  # millimetres, pelvis at the origin
    "joints_2d": (NUM_JOINTS, 2),  # pixels (x, y) of the 225 px input
    "heatmaps_2d": (NUM_JOINTS, "Ng", "Ng"),  # grid probabilities, row-major cells
}
OUTPUT_NAMES: tuple[str, ...] = tuple(OUTPUTS)


def output_shapes(grid_size: int) -> dict[str, tuple[int, ...]]:
    """Per-sample output shapes for a model with an Ng = `grid_size` grid."""
    return {name: tuple(grid_size if d == "Ng" else d for d in shape) for name, shape in OUTPUTS.items()}


def check_images(images: Any) -> np.ndarray:
    """Validate a batch for the serving signature: uint8 [N, 225, 225, 3], N >= 1.

    Floats are accepted as `pixels` takes them. A single image (rank 3) becomes a batch of one. Anything else
    raises a ValueError that names the problem.
    """
    array = np.asarray(images)
    _check_numeric(array, "images")
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"images must have rank 4 [N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3] (or 3 for one image), "
                         f"got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError("images is an empty batch")
    if array.shape[-1] != 3:
        raise ValueError(f"images must have 3 (RGB) channels, got {array.shape[-1]} in shape {array.shape}")
    if array.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must be {IMAGE_SIZE}x{IMAGE_SIZE}, got {array.shape[1]}x{array.shape[2]}; "
                         "crop a person with tfpose3d.data.images.crop_region, or use tfpose3d.predict.Predictor.predict_image")
    return pixels(array, "images")


def pixels(array: np.ndarray, name: str = "image") -> np.ndarray:
    """`array`'s values as uint8 pixels: uint8 as it is, other numbers rounded where finite and in [0, 255].

    Floats that all lie in [0, 1] (but not all 0) are refused: that is an image scaled to [0, 1] (as
    `matplotlib.pyplot.imread` reads a PNG, or after a `/ 255`), which read as 0..255 would be black.
    """
    _check_numeric(array, name)
    if array.dtype == INPUT_DTYPE:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError(f"NaN or infinite values in {name}")
        if 0 < array.max() <= 1 and array.min() >= 0:
            raise ValueError(f"every value of {name} lies in [0, 1]; pixels are 0..255 (multiply by 255)")
    if array.min() < 0 or array.max() > 255:
        raise ValueError(f"values of {name} must lie in [0, 255], got [{array.min()}, {array.max()}]")
    return np.round(array).astype(INPUT_DTYPE)


def _check_numeric(array: np.ndarray, name: str) -> None:
    if array.dtype == bool:  # a mask read as pixels would be a black image, and find nobody
        raise ValueError(f"{name} is a boolean array (a mask?), not pixels: give numbers from 0 to 255")
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")


def check_outputs(outputs: dict[str, Any], batch: int) -> dict[str, np.ndarray]:
    """The contract's outputs as float32 arrays, with an error naming any missing or misshapen one."""
    missing = [name for name in OUTPUT_NAMES if name not in outputs]
    if missing:
        raise ValueError(f"model outputs lack {missing}; the contract has {list(OUTPUT_NAMES)}")
    result = {name: np.asarray(outputs[name], np.float32) for name in OUTPUT_NAMES}
    for name, value in result.items():
        expected = OUTPUTS[name]
        fixed = [(i, d) for i, d in enumerate(expected) if d != "Ng"]
        if (value.ndim != len(expected) + 1 or value.shape[0] != batch
                or any(value.shape[1 + i] != d for i, d in fixed)):
            raise ValueError(f"output {name!r} has shape {value.shape}; the contract is [N={batch}, *{expected}]")
    return result
