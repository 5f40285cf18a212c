"""Training what follows a frozen trunk on the trunk's outputs, computed once.

A frozen trunk gives the same outputs for the same image whatever the heads have learned, and on 2 cores its
forward pass is most of a training step (docs/benchmarks.md). So its outputs can be computed once, for a few
augmented copies of each training render, and the heads trained on them at a small part of a step's cost
(`TrainConfig.trunk_copies`; the bone stage, `tfpose3d.bone_stage`, trains the bone head alone the same way).
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfpose3d.data import pipeline
from tfpose3d.data.arrays import stream_rows
from tfpose3d.data.options import Augment
from tfpose3d.estimator import Pose3DEstimator, default_metrics, metric_inputs


def _compact(output: Any) -> np.ndarray:
    """A trunk's maps (more than 2 axes) in float16, its other outputs (landmarks) in float32: a stage's maps
    are gigabytes, while landmarks in the trunk's pixels want float32's precision."""
    output = np.asarray(output)
    if output.ndim <= 2:
        return output.astype(np.float32)
    compact = output.astype(np.float16)
    if not np.isfinite(compact).all() and np.isfinite(output).all():
        raise ValueError(f"the trunk's maps reach {np.abs(output).max():.4g}, beyond float16's range (65,504), in "
                         "which they are held: train on images (trunk_copies=0)")
    return compact


def trunk_outputs(probe: keras.Model, samples: tf.data.Dataset, batch_size: int, augment: Augment | None = None,
                  copies: int = 1, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
    """`probe`'s outputs for `samples` and their labels: each sample once as it is (`augment` None), or
    `copies` times through the training pipeline's augmentation (its labels moved with the image).

    Returns (outputs, labels): `probe`'s output structure (an array or a dict of them) and the pipeline's
    label dict, each array one row a sample; the trunk's maps in float16.

    Example:
    >>> n = 4
    >>> samples = tf.data.Dataset.from_tensor_slices({
    ...     "image": np.zeros((n, 32, 32, 3), "uint8"), "joints_2d": np.full((n, 17, 2), 16.0, "float32"),
    ...     "joints_3d": np.zeros((n, 17, 3), "float32"), "visibility": np.ones((n, 17), "float32"),
    ...     "intrinsics": np.ones((n, 4), "float32")})
    >>> probe = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3, strides=4)])
    >>> maps, labels = trunk_outputs(probe, samples, batch_size=3, augment=Augment(), copies=2)
    >>> maps.shape, maps.dtype, labels["joints_3d"].shape
    ((8, 8, 8, 4), dtype('float16'), (8, 17, 3))
    """
    batches = pipeline.training_batches(samples.repeat(copies), batch_size, augment, seed, shuffle_buffer=0,
                                        repeat=False)
    structure, columns = None, []
    for images, label in batches.as_numpy_iterator():
        batch = (keras.tree.map_structure(_compact, probe.predict_on_batch(images)), label)
        if structure is None:
            structure, columns = batch, [[] for _ in keras.tree.flatten(batch)]
        for column, value in zip(columns, keras.tree.flatten(batch)):
            column.append(value)
    if structure is None:
        raise ValueError("trunk_outputs: no samples")
    # One array at a time, its batches let go as it is joined: the peak is the whole and one array, not twice it.
    joined = []
    while columns:
        joined.append(np.concatenate(columns.pop(0)))
    return keras.tree.pack_sequence_as(structure, joined)


class Shuffled(keras.utils.PyDataset):
    """Batches of `inputs` and `labels` (arrays, or dicts of arrays, one row a sample), without the copies (to
    float32, and into a tensor) that `fit` makes of arrays: a stage's maps are gigabytes.

    Without `steps`, an epoch is one pass over the samples, in a new order each epoch. With `steps`, epoch e is
    batches e * steps to (e + 1) * steps - 1 of a stream that runs through the samples in one order after
    another, so that a schedule whose epochs end within a pass sees every sample once before any twice; give
    `fit` the `epoch_callback()` too, which tells the stream `fit`'s epoch (a resumed run's as well).

    Example:
    >>> data = Shuffled(np.arange(6), np.arange(6), batch_size=2, seed=0, steps=4)
    >>> rows = np.concatenate([data[i][0] for i in range(4)])
    >>> sorted(rows[:6].tolist()), len(rows)  # the first pass whole, then the next one's start
    ([0, 1, 2, 3, 4, 5], 8)
    """

    def __init__(self, inputs: Any, labels: Any, batch_size: int, seed: int, steps: int | None = None):
        super().__init__()
        self.inputs, self.labels, self.batch_size, self.seed, self.steps = inputs, labels, batch_size, seed, steps
        self.count = len(keras.tree.flatten(labels)[0])
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.count) if steps is None else None
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps or -(-self.count // self.batch_size)

    def _rows(self, index: int) -> np.ndarray:
        if self.steps is None:
            return self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return stream_rows(self.count, self.seed, (self.epoch * self.steps + index) * self.batch_size, self.batch_size)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        rows = np.sort(self._rows(index))
        return keras.tree.map_structure(lambda a: a[rows], (self.inputs, self.labels))

    def epoch_callback(self) -> keras.callbacks.Callback:
        """A callback for `fit` that sets the stream's epoch to `fit`'s at the start of each (with `steps`)."""
        return keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: setattr(self, "epoch", epoch))

    def on_epoch_end(self) -> None:
        if self.steps is None:
            self.order = self.rng.permutation(self.count)


class HeadTrainer(keras.Model):
    """Trains `estimator`'s layers after its frozen trunk, on the trunk's outputs: `fit`'s inputs are what
    `estimator.backbone` gives (see `trunk_outputs`), its labels and loss the estimator's own (eq 5), its
    logs named as the estimator's. Training it trains `estimator`, whose weights it shares.

    Args:
        estimator: a `Pose3DEstimator` whose backbone is frozen.

    Example:
    >>> from tfpose3d.config import ModelConfig
    >>> model = Pose3DEstimator(ModelConfig(width=0.05, image_size=64, grid_size=8, train_backbone=False))
    >>> trainer = HeadTrainer(model)
    >>> trainer.compile()
    >>> maps = model.backbone.predict(np.zeros((2, 64, 64, 3), "float32"), verbose=0)
    >>> uv, xyz = np.full((2, 17, 2), 32.0, "float32"), np.zeros((2, 17, 3), "float32")
    >>> _ = trainer.fit(maps, {"joints_2d": uv, "joints_3d": xyz}, epochs=1, verbose=0)
    >>> trainer.predict_on_batch(maps)["pose_3d"].shape
    (2, 17, 3)
    """

    def __init__(self, estimator: Pose3DEstimator, **kwargs):
        if estimator.backbone.trainable:
            raise ValueError("HeadTrainer trains what follows a frozen trunk; this estimator trains its backbone "
                             "(ModelConfig.train_backbone=True): fit the estimator on images instead")
        super().__init__(**kwargs)
        with warnings.catch_warnings():
            # Its inputs are matched to the trunk's outputs by the trunk's own keys, which Keras warns are not
            # the tensors' names.
            warnings.filterwarnings("ignore", message="When providing `inputs` as a dict")
            self.heads = keras.Model(estimator.trunk_output, estimator.output, name="heads")
        if getattr(estimator, "optimizer", None) is not None:
            # Built on the estimator's variables, in its order, as a loaded estimator builds it: the trainer
            # steps it on the same variables, found by identity.
            estimator.optimizer.build(estimator.trainable_variables)
        # Held outside Keras's tracking: the estimator's weights are reached through `heads`, which shares them.
        object.__setattr__(self, "estimator", estimator)
        self.built = True  # its layers are the estimator's, built with it

    def call(self, inputs, training=False):
        return self.heads(inputs, training=training)

    def compile(self, optimizer: Any = "auto", loss: Any = "auto", metrics: Any = "auto", **kwargs) -> None:
        """As `Pose3DEstimator.compile`: "auto" is the estimator's own optimizer where it is compiled (so that
        what `save` writes holds the optimizer that trained it), else Adam(1e-3); the loss is always the
        estimator's; metrics "auto" are MPJPE and the 2D pixel error."""
        if loss not in ("auto", None):
            raise ValueError("HeadTrainer trains with its estimator's loss (eq 5); weigh its terms with "
                             "ModelConfig.loss_weight_2d / loss_weight_3d instead of passing loss=")
        if optimizer == "auto":
            optimizer = getattr(self.estimator, "optimizer", None) or keras.optimizers.Adam(1e-3)
        super().compile(optimizer=optimizer, metrics=default_metrics() if metrics == "auto" else metrics, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.estimator.compute_loss(x, y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, *metric_inputs(y, y_pred), sample_weight)

    def save(self, filepath, overwrite: bool = True, **kwargs) -> None:
        """Saves the estimator it trains, so that a checkpoint of its `fit` (`best.keras`) reads images."""
        self.estimator.save(filepath, overwrite=overwrite, **kwargs)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # The estimator's loss terms, which its `compute_loss` updates, reset and logged with this model's.
        return super().metrics + self.estimator.loss_trackers
