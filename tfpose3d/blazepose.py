"""A pretrained trunk: MediaPipe's BlazePose GHUM "full" landmark network, its middle-depth features and,
where asked, its own landmarks.

Trained on real photographs of people, these features read the real dev photos far better than any trunk
trained from scratch on renders (docs/results.md, "Real photographs"). The network is shipped as
`data/blazepose_trunk.npz`: its layers as data (class, arguments, inputs), the layer that gives each output
and its float16 weights, converted from the .tflite by `tools/make_blazepose_asset.py` (licence and
attribution in data/ATTRIBUTION.md).
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


# What the asset's network gives: its middle-depth features, (B, 8, 8, 288); its 39 image landmarks, (B, 195):
# x, y and z in pixels of its 256 px input, visibility and presence logits; its 39 world landmarks, (B, 117):
# metres about the hips (`skeleton.BLAZEPOSE_LANDMARKS`).
OUTPUTS = ("features", "landmarks", "world")
# The last map at twice the features' resolution, (B, 16, 16, 88): where a joint lies, to 16 px of the input.
FINE_MAP = "add_126"


@functools.lru_cache(maxsize=1)
def trunk_asset(path: str = str(ASSET)) -> dict[str, Any]:
    """The shipped network: `graph` (layer dicts), `outputs` (role -> layer name), `weights` (layer name ->
    arrays) and `reference`: the coarse image and, by role, what the interpreter computed for it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: the BlazePose trunk asset is missing; rebuild it with "
                                "`python tools/make_blazepose_asset.py` (see data/ATTRIBUTION.md)")
    with np.load(path) as data:
        weights: dict[str, list[np.ndarray]] = {}
        for key in sorted((k for k in data.files if ":" in k), key=lambda k: (k.split(":")[0], int(k.split(":")[1]))):
            weights.setdefault(key.split(":")[0], []).append(data[key])
        return {"graph": json.loads(str(data["graph"])), "outputs": json.loads(str(data["outputs"])),
                "weights": weights,
                "reference": {"coarse": data["reference_coarse"],
                              **{role: data[f"reference_{role}"] for role in OUTPUTS}}}


def ancestors(graph: list[dict], outputs: list[str]) -> list[dict]:
    """The layers of `graph` that `outputs` (layer names) depend on, in their order: other branches are left out."""
    by_name, needed, stack = {layer["name"]: layer for layer in graph}, set(), list(outputs)
    while stack:
        name = stack.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            stack.extend(by_name[name]["inputs"])
    return [layer for layer in graph if layer["name"] in needed]


def build_graph(x: Any, graph: list[dict], weights: dict[str, list[np.ndarray]], outputs: list[str]) -> list[Any]:
    """Apply the layers of `graph` that `outputs` (layer names) need (the first reads "image", which is `x`)
    and load their `weights`.

    Returns the outputs' tensors. A layer class outside `LAYERS` raises an error that names it.
    """
    values = {"image": x}
    for spec in ancestors(graph, outputs):
        if spec["class"] not in LAYERS:
            raise ValueError(f"layer {spec['name']}: class {spec['class']!r} is not one of {sorted(LAYERS)}")
        layer = LAYERS[spec["class"]](name=spec["name"], **spec["config"])
        inputs = [values[name] for name in spec["inputs"]]
        values[spec["name"]] = layer(inputs if len(inputs) > 1 else inputs[0])
        if spec["name"] in weights:
            layer.set_weights([w.astype("float32") for w in weights[spec["name"]]])
    return [values[name] for name in outputs]


@keras.saving.register_keras_serializable(package="tfpose3d")
class BlazePoseBackbone(keras.Model):
    """BlazePose's landmark network, pretrained on real photographs: image -> features (and its landmarks).

    Input `image`: float (B, S, S, 3) RGB in [0, 255], scaled to [0, 1] and, unless S is 256, resized to
    256 px inside. Output: (B, 8, 8, 288) features from its middle depth; with `landmarks` or `fine`, a dict
    of those `features` and BlazePose's own raw `landmarks` (B, 195) and `world` landmarks (B, 117) (see
    `OUTPUTS`), or the `fine` map (B, 16, 16, 88) the features are computed from.

    Args:
        image_size: side S of the square input in pixels; 256 avoids a resize.
        landmarks: also give BlazePose's landmarks, from the rest of its network.
        fine: also give the 16 x 16 map (`FINE_MAP`).

    Example:
    >>> backbone = BlazePoseBackbone(image_size=256)
    >>> backbone(np.zeros((1, 256, 256, 3), "float32")).shape
    TensorShape([1, 8, 8, 288])
    >>> {k: tuple(v.shape) for k, v in BlazePoseBackbone(256, landmarks=True)(np.zeros((1, 256, 256, 3))).items()}
    {'features': (1, 8, 8, 288), 'landmarks': (1, 195), 'world': (1, 117)}
    >>> tuple(BlazePoseBackbone(256, fine=True)(np.zeros((1, 256, 256, 3)))["fine"].shape)
    (1, 16, 16, 88)
    """

    def __init__(self, image_size: int = INPUT, landmarks: bool = False, fine: bool = False, **kwargs):
        asset = trunk_asset()
        image = keras.Input((image_size, image_size, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 255.0, name="normalize")(image)
        if image_size != INPUT:
            x = keras.layers.Resizing(INPUT, INPUT, "bilinear", name="to_blazepose_size")(x)
        layers = {role: asset["outputs"][role] for role in (OUTPUTS if landmarks else OUTPUTS[:1])}
        if fine:
            layers["fine"] = FINE_MAP
        values = dict(zip(layers, build_graph(x, asset["graph"], asset["weights"], list(layers.values()))))
        super().__init__(inputs=image, outputs=values if len(values) > 1 else values["features"], **kwargs)
        self.image_size, self.landmarks, self.fine = int(image_size), bool(landmarks), bool(fine)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "image_size": self.image_size,
                "landmarks": self.landmarks, "fine": self.fine}

    @classmethod
    def from_config(cls, config: dict) -> "BlazePoseBackbone":
        return cls(**config)
