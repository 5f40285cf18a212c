"""The paper's network as one Keras functional model.

One model carries both the training outputs (`heatmap_logits`,
`root_poses`, which the losses read) and the inference outputs (`pose_3d`,
`joints_2d`, `heatmaps_2d`); the inference ones add no weights.
"""

from __future__ import annotations

import keras

from tfpose3d import layers as tlayers
from tfpose3d import skeleton
from tfpose3d.config import ModelConfig

INFERENCE_OUTPUTS = ("pose_3d", "joints_2d", "heatmaps_2d")


def _conv(x, filters: int, kernel: int, stride: int, config: ModelConfig, name: str):
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=not config.batch_norm, name=name)(x)
    if config.batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _fc(x, units: int, config: ModelConfig, name: str):
    x = keras.layers.Dense(units, activation="relu", name=name)(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name=f"{name}_dropout")(x)
    return x


def _trunk(image, config: ModelConfig):
    """ZFNet-sized convolutions with fewer maps: conv7/2, pool, conv5/2, pool, 3x conv3, pool."""
    f = [config.scaled(n) for n in config.conv_filters]
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(image)
    x = _conv(x, f[0], 7, 2, config, "conv1")
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(x)
    x = _conv(x, f[1], 5, 2, config, "conv2")
    x = keras.layers.MaxPooling2D(3, 2, name="pool2")(x)
    x = _conv(x, f[2], 3, 1, config, "conv3")
    x = _conv(x, f[3], 3, 1, config, "conv4")
    x = _conv(x, f[4], 3, 1, config, "conv5")
    x = keras.layers.MaxPooling2D(3, 2, name="pool5")(x)
    return keras.layers.Flatten(name="flatten")(x)


def build_model(config: ModelConfig | None = None) -> keras.Model:
    """Build the network for `config` (default: the paper's, variant `full`).

    Inputs: `image`, float (B, S, S, 3) RGB in [0, 255].
    Outputs (a dict):
        heatmap_logits: (B, 17, Ng*Ng) 2D grid classification logits.
        root_poses: (B, Nr, 17, 3) per-root relative poses in `pose_unit_mm`.
        pose_3d: (B, 17, 3) merged pose in millimetres, pelvis at the origin.
        joints_2d: (B, 17, 2) soft-argmax joint positions in input pixels.
        heatmaps_2d: (B, 17, Ng, Ng) grid probabilities.

    Example:
    >>> model = build_model(ModelConfig(variant="baseline", width=0.25, image_size=64))
    >>> model.predict(images)["pose_3d"].shape
    (N, 17, 3)
    """
    config = config or ModelConfig()
    nj, ng = skeleton.NUM_JOINTS, config.grid_size
    units = config.scaled(config.fc_units)
    roots = config.active_roots

    image = keras.Input((config.image_size, config.image_size, 3), name="image")
    features = _trunk(image, config)

    x2d = _fc(features, units, config, "fc1_2d")
    x2d = _fc(x2d, units, config, "fc2_2d")
    x2d = keras.layers.Dense(nj * ng * ng, name="fc_out_2d")(x2d)
    logits = keras.layers.Reshape((nj, ng * ng), name="heatmap_logits")(x2d)
    probs = keras.layers.Softmax(axis=-1, name="heatmap_probs")(logits)

    x3d = _fc(features, units, config, "fc1_3d")
    if config.fusion:
        fused = tlayers.StopGradient(name="stop_gradient_2d")(probs)
        fused = keras.layers.Flatten(name="flatten_probs_2d")(fused)
        fused = _fc(fused, units, config, "fc_probs_2d")
        x3d = keras.layers.Concatenate(name="fc_2d_3d")([x3d, fused])

    heads = []
    for root in roots:
        h = _fc(x3d, units, config, f"fc2_3d_{root}")
        h = keras.layers.Dense(nj * 3, name=f"fc_out_3d_{root}")(h)
        heads.append(keras.layers.Reshape((1, nj, 3), name=f"pose_from_{root}" if len(roots) > 1 else "root_poses")(h))
    root_poses = keras.layers.Concatenate(axis=1, name="root_poses")(heads) if len(heads) > 1 else heads[0]

    merged = tlayers.MultiRootMerge(roots=skeleton.root_indices(roots), name="multi_root_merge")(root_poses)
    pose_3d = keras.layers.Rescaling(config.pose_unit_mm, name="pose_3d")(merged)
    joints_2d = tlayers.GridSoftArgmax(ng, config.image_size, name="joints_2d")(probs)
    heatmaps_2d = keras.layers.Reshape((nj, ng, ng), name="heatmaps_2d")(probs)

    outputs = {
        "heatmap_logits": logits,
        "root_poses": root_poses,
        "pose_3d": pose_3d,
        "joints_2d": joints_2d,
        "heatmaps_2d": heatmaps_2d,
    }
    return keras.Model(image, outputs, name=f"tfpose3d_{config.variant}")


def branch_2d_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of the 2D branch (its FC layers), which the 3D loss must not change."""
    return [layer for layer in model.layers if layer.name in ("fc1_2d", "fc2_2d", "fc_out_2d")]


def heads_3d_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The per-root 3D output layers."""
    return [layer for layer in model.layers if layer.name.startswith("fc_out_3d_")]
