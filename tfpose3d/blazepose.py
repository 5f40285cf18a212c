"""A pretrained trunk: MediaPipe's BlazePose GHUM "full" landmark network up to its middle depth.

Trained on real photographs of people, these features read the real dev photos far better than any trunk
trained from scratch on renders (docs/results.md, "Real photographs"). The network is shipped as
`data/blazepose_trunk.npz`: its layers as data (class, arguments, inputs) and its float16 weights, converted
from the .tflite by `tools/make_blazepose_asset.py` (licence and attribution in data/ATTRIBUTION.md).
Every layer is a standard Keras layer, so a model with this trunk saves, loads with `safe_mode=True` and
exports like any other.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import keras
import numpy as np

ASSET = Path(__file__).parent / "data" / "blazepose_trunk.npz"
INPUT = 256  # the side BlazePose was trained on
# The only layer classes the asset may name: nothing else is built from it.
LAYERS = {cls.__name__: cls for cls in (
    keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Add, keras.layers.Activation,
    keras.layers.ZeroPadding2D, keras.layers.MaxPooling2D, keras.layers.Resizing, keras.layers.Reshape)}


@functools.lru_cache(maxsize=1)
def trunk_asset(path: str = str(ASSET)) -> dict[str, Any]:
    """The shipped trunk: `graph` (layer dicts), `weights` (layer name -> arrays) and the `reference` pair."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: the BlazePose trunk asset is missing; rebuild it with "
                                "`python tools/make_blazepose_asset.py` (see data/ATTRIBUTION.md)")
    with np.load(path) as data:
        weights: dict[str, list[np.ndarray]] = {}
        for key in sorted((k for k in data.files if ":" in k), key=lambda k: (k.split(":")[0], int(k.split(":")[1]))):
            weights.setdefault(key.split(":")[0], []).append(data[key])
        return {"graph": json.loads(str(data["graph"])), "weights": weights,
                "reference": (data["reference_coarse"], data["reference_features"])}


def build_graph(x: Any, graph: list[dict], weights: dict[str, list[np.ndarray]]) -> Any:
    """Apply the layers of `graph` (the first reads "image", which is `x`) and load their `weights`.

    Returns the last layer's output. A layer class outside `LAYERS` raises an error that names it.
    """
    values = {"image": x}
    for spec in graph:
        if spec["class"] not in LAYERS:
            raise ValueError(f"layer {spec['name']}: class {spec['class']!r} is not one of {sorted(LAYERS)}")
        layer = LAYERS[spec["class"]](name=spec["name"], **spec["config"])
        inputs = [values[name] for name in spec["inputs"]]
        values[spec["name"]] = layer(inputs if len(inputs) > 1 else inputs[0])
        if spec["name"] in weights:
            layer.set_weights([w.astype("float32") for w in weights[spec["name"]]])
    return values[graph[-1]["name"]]


@keras.saving.register_keras_serializable(package="tfpose3d")
class BlazePoseBackbone(keras.Model):
    """BlazePose's landmark network to its middle depth, pretrained on real photographs: image -> features.

    Input `image`: float (B, S, S, 3) RGB in [0, 255], scaled to [0, 1] and, unless S is 256, resized to
    256 px inside. Output: (B, 8, 8, 288) features.

    Args:
        image_size: side S of the square input in pixels; 256 avoids a resize.

    Example:
    >>> backbone = BlazePoseBackbone(image_size=256)
    >>> backbone(np.zeros((1, 256, 256, 3), "float32")).shape
    TensorShape([1, 8, 8, 288])
    """

    def __init__(self, image_size: int = INPUT, **kwargs):
        asset = trunk_asset()
        image = keras.Input((image_size, image_size, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 255.0, name="normalize")(image)
        if image_size != INPUT:
            x = keras.layers.Resizing(INPUT, INPUT, "bilinear", name="to_blazepose_size")(x)
        features = build_graph(x, asset["graph"], asset["weights"])
        super().__init__(inputs=image, outputs=features, **kwargs)
        self.image_size = int(image_size)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "image_size": self.image_size}

    @classmethod
    def from_config(cls, config: dict) -> "BlazePoseBackbone":
        return cls(**config)
