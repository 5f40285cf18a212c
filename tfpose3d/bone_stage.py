"""The bone-length head trained on after the model, alone, on the maps it reads, computed once.

The head (`ModelConfig.bone_lengths`) passes no gradient into anything else, and what it reads is fixed once
the model is trained. So its maps can be computed once, for several augmented copies of each training
render, and the head trained on them for many more steps than the model's schedule gives it, at a small
part of a step's cost: the trunk's forward pass is most of a training step. On 2 cores the head on BlazePose's
16 x 16 map gains most from it (docs/results.md, "The bone head trained longer").
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfpose3d import metrics
from tfpose3d.data.options import Augment
from tfpose3d.frozen_trunk import Shuffled, trunk_outputs

# Epochs without a better val loss before the stage stops and keeps its best epoch: the head's val loss
# flattened within 3 epochs of its best where the training loss went on falling (docs/results.md).
PATIENCE = 3


def mean_length_bias(poses: np.ndarray, unit_mm: float) -> np.ndarray:
    """The bias of the bone head's last layer (`fc_out_bones`) that starts every bone at its mean length in
    `poses` (N, 17, 3, mm), a geometric mean as the head's exponential output and log-space loss see it, in
    a model whose 3D unit is `unit_mm`.

    Example:
    >>> from tfpose3d import skeleton
    >>> pose = np.zeros((17, 3))
    >>> for parent, child in skeleton.BONES:
    ...     pose[child] = pose[parent] + (100.0, 0.0, 0.0)
    >>> bias = mean_length_bias(np.stack([pose, 4 * pose]), unit_mm=100.0)  # every bone 100 mm, then 400 mm
    >>> np.allclose(bias, np.log(2.0))  # 200 mm, twice the unit
    True
    """
    mean_log = np.nanmean(np.log(np.maximum(metrics.bone_lengths(poses), 1.0)), axis=0)
    return (mean_log - np.log(unit_mm)).astype(np.float32)


def head_input(model: keras.Model) -> keras.KerasTensor:
    """What `model`'s bone head reads: the input of its gradient stop."""
    return model.get_layer("stop_gradient_bones").input


def bone_head(model: keras.Model) -> keras.Model:
    """`model`'s own bone layers, from what they read to `bone_lengths` (mm): training it trains `model`'s head.

    Example:
    >>> from tfpose3d.config import ModelConfig
    >>> from tfpose3d.estimator import Pose3DEstimator
    >>> model = Pose3DEstimator(ModelConfig(width=0.05, image_size=64, grid_size=8, bone_lengths=True))
    >>> head = bone_head(model)
    >>> head.get_layer("fc_out_bones") is model.get_layer("fc_out_bones")
    True
    """
    stop = model.get_layer("stop_gradient_bones")
    return keras.Model(stop.output, model.get_layer("bone_lengths").output, name="bone_head")


def fit_bone_head(model: keras.Model, train: tf.data.Dataset, val: tf.data.Dataset, epochs: int, copies: int,
                  batch_size: int, learning_rate: float, augment: Augment | None, seed: int = 0,
                  verbose: int = 2) -> dict[str, Any]:
    """Train `model`'s bone head alone, from fresh weights and its training renders' mean lengths, on its maps
    of `copies` augmented copies of `train`, computed once, for at most `epochs` epochs at a constant
    `learning_rate`; stop after `PATIENCE` epochs without a better loss on `val` and keep the best epoch's
    weights. Returns what it did, for the run's train_summary.json."""
    start = time.perf_counter()
    probe = keras.Model(model.input, head_input(model))
    maps, labels = trunk_outputs(probe, train, batch_size, augment, copies, seed)
    val_maps, val_labels = trunk_outputs(probe, val, batch_size)
    poses, val_poses = labels["joints_3d"], val_labels["joints_3d"]
    map_seconds = time.perf_counter() - start
    head = bone_head(model)
    # From fresh weights (cloned layers), not from those the model's training left, and with every bone starting
    # at its training renders' mean length, not at the model's unit: from either the stage learned slower
    # (docs/results.md, "The bone stage").
    fresh = keras.models.clone_model(head)
    fresh.get_layer("fc_out_bones").bias.assign(mean_length_bias(poses, model.config.pose_unit_mm))
    fresh.compile(keras.optimizers.Adam(learning_rate), loss=model.loss_bones)
    stop = keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
    history = fresh.fit(Shuffled(maps, poses, batch_size, seed), epochs=epochs, callbacks=[stop], verbose=verbose,
                       validation_data=(val_maps, val_poses)).history
    head.set_weights(fresh.get_weights())
    val_loss = [round(float(v), 5) for v in history["val_loss"]]
    return {"samples": len(poses), "epochs": len(val_loss), "best_epoch": int(np.argmin(val_loss)) + 1,
            "val_loss": val_loss, "map_seconds": round(map_seconds, 1),
            "seconds": round(time.perf_counter() - start, 1)}
