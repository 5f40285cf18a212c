"""The task: `Pose3DEstimator`, the paper's network with its targets, losses and metrics.

The estimator is a Keras functional model on top of `Pose3DBackbone`. It owns
the method: from the raw labels that the data pipeline yields (2D joints in
pixels, 3D joints in mm, visibility), `compute_loss` builds the grid soft
labels (eqs 1-2) and returns eq 5, so `compile()` needs no arguments.
"""

from __future__ import annotations

import dataclasses
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import keras
from keras import ops

from tfpose3d import layers, losses, metrics, skeleton
from tfpose3d.backbone import Pose3DBackbone
from tfpose3d.blazepose import BlazePoseBackbone
from tfpose3d.config import ModelConfig, TrainConfig

# The label each inference output is measured against.
METRIC_LABELS = {"pose_3d": "joints_3d", "joints_2d": "joints_2d"}


def default_metrics() -> dict[str, list[keras.metrics.Metric]]:
    """MPJPE (mm, pelvis-aligned) on `pose_3d` and the 2D pixel error on `joints_2d`."""
    return {
        "pose_3d": [metrics.MeanJointError("mpjpe")],
        "joints_2d": [metrics.MeanJointError("pixel_error", align_root=False)],
    }


def _replicas() -> int:
    """Devices whose losses are summed into one gradient: the TensorFlow strategy's replicas, else one.

    TensorFlow is imported only on its backend, so the model also trains where only another Keras backend
    (JAX on a GPU machine without TensorFlow) is installed.
    """
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def _bone_features(trunk_map, maps: int = 128, units: int = 256):
    """What the "trunk" bone head reads: the trunk's map normalised, two 3x3 convolutions of `maps` maps
    (ReLU), averaged over the cells, and a dense layer of `units` (ReLU). Convolutions before the average keep
    where on the body a feature lies, which a person's proportions need; against the 0.5.0 head that reads
    the 3D branch: docs/results.md, "Bone lengths"."""
    x = keras.layers.BatchNormalization(name="bone_map_norm")(trunk_map)
    x = keras.layers.Conv2D(maps, 3, padding="same", activation="relu", name="bone_conv1")(x)
    x = keras.layers.Conv2D(maps, 3, padding="same", activation="relu", name="bone_conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="bone_pool")(x)
    return keras.layers.Dense(units, activation="relu", name="bone_fc")(x)


def _check_labels(y: Any) -> None:
    if not isinstance(y, dict) or any(k not in y for k in ("joints_2d", "joints_3d")):
        keys = sorted(y) if isinstance(y, dict) else type(y).__name__
        raise ValueError(f"Pose3DEstimator labels must be a dict with 'joints_2d' (B, 17, 2) and 'joints_3d' "
                         f"(B, 17, 3) [and 'visibility' (B, 17)], got {keys}")


def metric_inputs(y: dict[str, Any], y_pred: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the compiled metrics see: each inference output of `y_pred` and the raw label of `y` it
    estimates, keyed by the output (`METRIC_LABELS`)."""
    _check_labels(y)
    return {output: y[label] for output, label in METRIC_LABELS.items()}, {k: y_pred[k] for k in METRIC_LABELS}


def _fc(x, units: int, dropout: float, name: str):
    x = keras.layers.Dense(units, activation="relu", name=name)(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def _backbone(config: ModelConfig) -> keras.Model:
    """The trunk `config` names, frozen unless `config.train_backbone`."""
    if config.backbone == "blazepose":
        backbone = BlazePoseBackbone(config.image_size, config.landmarks, fine=config.bones_from == "trunk-16",
                                     name="backbone")
    else:
        backbone = Pose3DBackbone(config.image_size, [config.scaled(n) for n in config.conv_filters],
                                  config.batch_norm, name="backbone")
    backbone.trainable = config.train_backbone
    return backbone


def _trunk_parts(trunk_output: Any, config: ModelConfig) -> tuple[Any, Any, Any]:
    """What the branches read from the trunk's output: the features, flat (with BlazePose's landmark cues
    beside them where `config.landmarks`); BlazePose's raw landmarks (None without them); and the map the
    "trunk" bone heads read."""
    landmarks = None
    if isinstance(trunk_output, dict):
        features, bone_map = trunk_output["features"], trunk_output.get("fine", trunk_output["features"])
        if config.landmarks:
            landmarks = trunk_output["landmarks"]
            cues = layers.LandmarkCues(name="landmark_cues")([landmarks, trunk_output["world"]])
    else:
        features = bone_map = trunk_output
    if config.projection:
        features = keras.layers.Conv2D(config.projection, 1, activation="relu", name="projection")(features)
    features = keras.layers.Flatten(name="flatten")(features)
    if landmarks is not None:
        features = keras.layers.Concatenate(name="features_and_landmarks")([features, cues])
    return features, landmarks, bone_map


def _branch_2d(features: Any, landmarks: Any, config: ModelConfig) -> tuple[Any, Any]:
    """The 2D branch: each joint's logits over the Ng x Ng grid (with BlazePose's landmarks as a prior where
    given) and their softmax."""
    nj, ng, units = skeleton.NUM_JOINTS, config.grid_size, config.scaled(config.fc_units)
    x = _fc(features, units, config.dropout, "fc1_2d")
    x = _fc(x, units, config.dropout, "fc2_2d")
    x = keras.layers.Dense(nj * ng * ng, name="fc_out_2d")(x)
    logits = keras.layers.Reshape((nj, ng * ng), name="heatmap_logits")(x)
    if landmarks is not None:
        prior = layers.LandmarkPrior(ng, config.image_size, name="landmark_prior")(landmarks)
        logits = keras.layers.Add(name="heatmap_logits_with_prior")([logits, prior])
    return logits, keras.layers.Softmax(axis=-1, name="heatmap_probs")(logits)


def _branch_3d(features: Any, probs: Any, config: ModelConfig) -> tuple[Any, Any]:
    """The 3D branch: its shared layer (fed the 2D softmax without gradient, with `config.fusion`), and each
    root's relative pose (B, Nr, 17, 3) from its own fc2 head."""
    nj, units, roots = skeleton.NUM_JOINTS, config.scaled(config.fc_units), config.active_roots
    x3d = _fc(features, units, config.dropout, "fc1_3d")
    if config.fusion:
        fused = layers.StopGradient(name="stop_gradient_2d")(probs)
        fused = keras.layers.Flatten(name="flatten_probs_2d")(fused)
        fused = _fc(fused, units, config.dropout, "fc_probs_2d")
        x3d = keras.layers.Concatenate(name="fc_2d_3d")([x3d, fused])
    heads = []
    for root in roots:
        h = _fc(x3d, units, config.dropout, f"fc2_3d_{root}")
        h = keras.layers.Dense(nj * 3, name=f"fc_out_3d_{root}")(h)
        heads.append(keras.layers.Reshape((1, nj, 3), name=f"pose_from_{root}" if len(roots) > 1 else "root_poses")(h))
    return x3d, keras.layers.Concatenate(axis=1, name="root_poses")(heads) if len(heads) > 1 else heads[0]


def _bone_head(merged: Any, x3d: Any, bone_map: Any, config: ModelConfig) -> tuple[Any, Any]:
    """The bone lengths (B, 16) in millimetres, read without gradient from what `config.bones_from` names
    (the 3D branch's shared layer `x3d`, or the trunk's `bone_map`), and the merged pose refit to them."""
    # float32 under mixed precision too: squared bones in millimetres overflow float16.
    pose = keras.layers.Rescaling(config.pose_unit_mm, name="pose_3d_joints", dtype="float32")(merged)
    if config.bones_from == "branch":
        bones = layers.StopGradient(name="stop_gradient_bones")(x3d)
    else:
        bones = _bone_features(layers.StopGradient(name="stop_gradient_bones")(bone_map), config.bone_maps)
    # Zero weights: every bone starts at pose_unit_mm (exp 0), a finite start for any features; `train`
    # starts the bias at its training renders' mean lengths.
    bones = keras.layers.Dense(len(skeleton.BONES), kernel_initializer="zeros", name="fc_out_bones",
                               dtype="float32")(bones)
    bones = keras.layers.Activation("exponential", name="bone_lengths_in_unit", dtype="float32")(bones)
    lengths = keras.layers.Rescaling(config.pose_unit_mm, name="bone_lengths", dtype="float32")(bones)
    return lengths, layers.SkeletonFit(name="pose_3d", dtype="float32")(pose, lengths)


@keras.saving.register_keras_serializable(package="tfpose3d")
class Pose3DEstimator(keras.Model):
    """3D human pose from one image (Park, Hwang & Kwak 2016).

    Input `image`: float (B, S, S, 3) RGB in [0, 255]. Outputs (a dict):
        heatmap_logits: (B, 17, Ng*Ng) 2D grid classification logits.
        root_poses: (B, Nr, 17, 3) per-root relative poses in `pose_unit_mm`.
        pose_3d: (B, 17, 3) the roots merged by eq 7, millimetres, pelvis at the origin.
        joints_2d: (B, 17, 2) soft-argmax joint positions in input pixels.
        heatmaps_2d: (B, 17, Ng, Ng) grid probabilities.
        bone_lengths: (B, 16) millimetres, in the order of `skeleton.BONES`, with `config.bone_lengths`; then
            `pose_3d` is the merged pose refit to them (`layers.SkeletonFit`).

    `trunk_output` is what `backbone` gives in this graph (a tensor, or a dict of them): what the layers after
    it read (`frozen_trunk.HeadTrainer` trains them on it).

    Labels for `fit`/`evaluate` are a dict of raw joints: `joints_2d` (B, 17, 2)
    pixels of the input, `joints_3d` (B, 17, 3) mm, and optionally
    `visibility` (B, 17), 0 for joints the 2D loss should ignore; other keys
    (such as `intrinsics`) are allowed and unused.

    Args:
        config: a `ModelConfig` (or its dict); default: the paper's network.

    Example:
    >>> model = Pose3DEstimator(ModelConfig(variant="baseline", width=0.05, image_size=64, grid_size=8))
    >>> model.compile()
    >>> images = np.zeros((2, 64, 64, 3), "float32")
    >>> uv, xyz = np.full((2, 17, 2), 32.0, "float32"), np.zeros((2, 17, 3), "float32")
    >>> _ = model.fit(images, {"joints_2d": uv, "joints_3d": xyz}, epochs=1, verbose=0)
    >>> model.predict(images, verbose=0)["pose_3d"].shape
    (2, 17, 3)
    """

    def __init__(self, config: ModelConfig | dict[str, Any] | None = None, **kwargs):
        if isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        config = config or ModelConfig()
        ng, roots = config.grid_size, config.active_roots

        backbone = _backbone(config)
        image = keras.Input((config.image_size, config.image_size, 3), name="image")
        trunk_output = backbone(image)
        features, landmarks, bone_map = _trunk_parts(trunk_output, config)
        logits, probs = _branch_2d(features, landmarks, config)
        x3d, root_poses = _branch_3d(features, probs, config)
        merged = layers.MultiRootMerge(roots=skeleton.root_indices(roots), name="multi_root_merge")(root_poses)
        outputs = {
            "heatmap_logits": logits,
            "root_poses": root_poses,
            "joints_2d": layers.GridSoftArgmax(ng, config.image_size, name="joints_2d")(probs),
            "heatmaps_2d": keras.layers.Reshape((skeleton.NUM_JOINTS, ng, ng), name="heatmaps_2d")(probs),
        }
        if config.bone_lengths:
            outputs["bone_lengths"], outputs["pose_3d"] = _bone_head(merged, x3d, bone_map, config)
        else:
            outputs["pose_3d"] = keras.layers.Rescaling(config.pose_unit_mm, name="pose_3d")(merged)
        kwargs.setdefault("name", f"tfpose3d_{config.variant}")
        super().__init__(inputs=image, outputs=outputs, **kwargs)

        self.config = config
        self.backbone = backbone
        # Held outside Keras's tracking: symbolic tensors of the graph, not state.
        object.__setattr__(self, "trunk_output", trunk_output)
        self.soft_labels = layers.GridSoftLabels(ng, config.image_size, config.grid_width, name="grid_soft_labels")
        self.loss_2d = losses.GridCrossEntropy()
        self.loss_3d = losses.RootRelativeLoss(roots=skeleton.root_indices(roots), unit_mm=config.pose_unit_mm)
        # The two terms of eq 5, unweighted, logged beside the total.
        self.loss_2d_tracker = keras.metrics.Mean(name="loss_2d")
        self.loss_3d_tracker = keras.metrics.Mean(name="loss_3d")
        if config.bone_lengths:
            self.loss_bones = losses.BoneLengthLoss()
            self.loss_bones_tracker = keras.metrics.Mean(name="loss_bones")

    def compile(self, optimizer: Any = "auto", loss: Any = "auto", metrics: Any = "auto", **kwargs) -> None:
        """Configure training; with no arguments: Adam(1e-3), the eq 5 loss, MPJPE and 2D pixel error.

        Args:
            optimizer: a Keras optimizer, or "auto" for Adam with learning rate 1e-3.
            loss: "auto" (or None, as a reloaded model passes it): the
                estimator always trains with eq 5, weighted by the config's
                `loss_weight_2d` and `loss_weight_3d`.
            metrics: "auto" for `default_metrics()`, or metrics keyed by the
                inference outputs `pose_3d` and `joints_2d`.
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`).
        """
        if loss not in ("auto", None):
            raise ValueError("Pose3DEstimator computes its own loss (eq 5); weigh its terms with "
                             "ModelConfig.loss_weight_2d / loss_weight_3d instead of passing loss=")
        super().compile(
            optimizer=keras.optimizers.Adam(1e-3) if optimizer == "auto" else optimizer,
            loss=None,
            metrics=default_metrics() if metrics == "auto" else metrics,
            **kwargs,
        )

    def compile_from_config(self, config: dict) -> None:
        """Recompile a loaded model with its saved optimizer and metrics (the loss is always eq 5)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Eq 5: lambda_2D * cross-entropy against the grid soft labels + lambda_3D * root-relative error; with
        `config.bone_lengths` plus `loss_weight_bones` * the bone-length loss."""
        _check_labels(y)
        targets = self.soft_labels(y["joints_2d"], y.get("visibility"))
        loss_2d = self.loss_2d(targets, y_pred["heatmap_logits"], sample_weight)
        loss_3d = self.loss_3d(y["joints_3d"], y_pred["root_poses"], sample_weight)
        # Loss.__call__ divides by the replica count (their gradients are summed); the logs show per-sample
        # means, weighted by the batch as Keras weighs its total (a finite dataset can end on an empty batch).
        replicas = _replicas()
        batch = ops.shape(y["joints_3d"])[0]
        self.loss_2d_tracker.update_state(loss_2d * replicas, sample_weight=batch)
        self.loss_3d_tracker.update_state(loss_3d * replicas, sample_weight=batch)
        total = self.config.loss_weight_2d * loss_2d + self.config.loss_weight_3d * loss_3d
        if self.config.bone_lengths:
            loss_bones = self.loss_bones(y["joints_3d"], y_pred["bone_lengths"], sample_weight)
            self.loss_bones_tracker.update_state(loss_bones * replicas, sample_weight=batch)
            total = total + self.config.loss_weight_bones * loss_bones
        for extra in self.losses:
            total = total + ops.cast(ops.sum(extra), total.dtype)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Compiled metrics see each inference output beside the raw label it estimates."""
        return super().compute_metrics(x, *metric_inputs(y, y_pred), sample_weight)

    @property
    def loss_trackers(self) -> list[keras.metrics.Metric]:
        """The logged terms of the loss (`loss_2d`, `loss_3d`, with bone lengths `loss_bones`), which
        `compute_loss` updates."""
        bones = [self.loss_bones_tracker] if self.config.bone_lengths else []
        return [self.loss_2d_tracker, self.loss_3d_tracker, *bones]

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 builds the compiled state under a distribution strategy from a batch it takes out of the
        # training iterator and averages across replicas, which MultiWorkerMirroredStrategy cannot do for a
        # nested batch (keras-team/keras#20585). The data's structure is all the build needs.
        if iterator is None or getattr(self, "distribute_strategy", None) is None:
            return super()._maybe_symbolic_build(iterator, data_batch)
        import tensorflow as tf

        def to_symbolic(spec):
            # A distributed dataset's spec holds one TensorSpec per local replica; they are alike.
            spec = spec if isinstance(spec, tf.TensorSpec) else spec._value_specs[0]
            return keras.KerasTensor(spec.shape, spec.dtype.name)

        batch = tf.nest.map_structure(to_symbolic, iterator.data_adapter.get_tf_dataset().element_spec)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=batch)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config: dict) -> "Pose3DEstimator":
        return cls(**config)


def build_model(config: ModelConfig | None = None) -> Pose3DEstimator:
    """`Pose3DEstimator(config)` (default: the paper's network, variant `full`)."""
    return Pose3DEstimator(config)


def compile_model(model: Pose3DEstimator, config: TrainConfig, total_steps: int | None) -> None:
    """The estimator's own loss and metrics, with Adam on a cosine schedule over the run; with `total_steps`
    None at the constant rate, for a caller that lowers `model.optimizer.learning_rate` itself (on a plateau)."""
    rate = config.learning_rate if total_steps is None else keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=total_steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(rate), jit_compile=config.jit_compile)


@dataclasses.dataclass
class Plateau:
    """Training until the validation error stops improving, told one epoch's error at a time.

    After `patience` epochs without a new best the learning rate is to be cut by `cut`, at most `cuts` times;
    `patience` more such epochs after the last cut end the run. Epochs count toward `patience` only once the
    error has beaten `reference`, the error of answering the mean pose: a network still at the mean pose has not
    started to learn, so it has not stopped either (the paper's network sits there for its first epochs at a
    constant rate). The rest of the fields are its count so far.

    Example:
    >>> rule = Plateau(patience=1, cuts=1, reference=4.8)
    >>> [rule.update(error) for error in (5.0, 5.2, 4.0, 4.5, 3.9, 4.2)]
    ['best', 'wait', 'best', 'cut', 'best', 'stop']
    """

    patience: int = 4
    cut: float = 0.25
    cuts: int = 2
    reference: float = math.inf
    epoch: int = 0
    best: float = math.inf
    best_epoch: int = 0
    waited: int = 0
    cuts_made: int = 0

    def update(self, error: float) -> str:
        """"best", "wait", "cut" (multiply the learning rate by `cut`) or "stop", after an epoch's `error`."""
        self.epoch += 1
        if error < self.best:
            self.best, self.best_epoch, self.waited = error, self.epoch, 0
            return "best"
        if self.best >= self.reference:
            return "wait"
        self.waited += 1
        if self.waited < self.patience:
            return "wait"
        if self.cuts_made == self.cuts:
            return "stop"
        self.cuts_made, self.waited = self.cuts_made + 1, 0
        return "cut"


def load_model(path: str | os.PathLike) -> Pose3DEstimator:
    """A trained estimator from a run folder (its model.keras) or a .keras file."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}: pass a run folder holding model.keras, or a .keras file")
    if not zipfile.is_zipfile(path):  # Keras would call it "File not found"
        raise ValueError(f"{path}: not a loadable Keras model (a .keras file is a zip archive; this one is not)")
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as err:  # BadZipFile: bytes damaged
        raise ValueError(f"{path}: not a loadable Keras model ({str(err).splitlines()[0]})") from None
    if not isinstance(model, Pose3DEstimator):
        raise ValueError(f"{path}: a Keras model, but not a tfpose3d Pose3DEstimator")
    return model


def flip_test_model(model: Pose3DEstimator) -> keras.Model:
    """`model` with test-time flip: it also estimates the mirrored image, mirrors that estimate back (left and
    right swapped) and averages the two. Outputs `pose_3d`, `joints_2d` and `heatmaps_2d`; twice the compute.

    Example:
    >>> flipped = flip_test_model(build_model(ModelConfig(width=0.05, image_size=64, grid_size=8)))
    >>> flipped.predict(np.zeros((2, 64, 64, 3), "float32"), verbose=0)["pose_3d"].shape
    (2, 17, 3)
    """
    image = keras.Input(model.inputs[0].shape[1:], name="image")
    plain, mirrored = model(image), model(layers.MirrorImage()(image))
    size = model.config.image_size
    outputs = {name: layers.FlipAverage(name, size, name=f"flip_{name}")(plain[name], mirrored[name])
               for name in layers.FlipAverage.OUTPUTS}
    return keras.Model(image, outputs, name=f"{model.name}_flip_test")
