"""The paper's losses as registered Keras losses (eqs 3, 4 and 6), which `Pose3DEstimator` weighs (eq 5), and the
bone-length loss of its optional bone head."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from tfpose3d import skeleton
from tfpose3d.layers import bone_vectors


_PACKAGE = "tfpose3d"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GridCrossEntropy(keras.losses.Loss):
    """Cross-entropy of per-joint grid logits against soft targets, summed over joints (eq 3).

    y_true: (B, Nj, Ng*Ng) soft targets from `GridSoftLabels` (an all-zero row
    masks a joint). y_pred: (B, Nj, Ng*Ng) logits.
    """

    def __init__(self, name: str = "grid_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        return -ops.sum(ops.cast(y_true, "float32") * log_probs, axis=(1, 2))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RootRelativeLoss(keras.losses.Loss):
    """Squared error of root-relative 3D poses, summed over joints and averaged over roots (eqs 4 and 6).

    Eq 6 sums over the Nr roots; averaging instead keeps the 3D term on one
    scale whatever Nr is, so lambda_3D weighs 3D against 2D the same in a
    one-root and a six-root model (the paper's Table 2 compares both).

    y_true: (B, Nj, 3) joint positions in millimetres (any common origin).
    y_pred: (B, Nr, Nj, 3) for each root r, R_j ~ (J_j - J_r) / unit_mm.
    The root's own joint is excluded (j != r). A joint whose true position is
    not finite is masked.

    Args:
        roots: joint index of each of the Nr roots.
        unit_mm: the unit of y_pred in millimetres.
    """

    def __init__(self, roots: Sequence[int], unit_mm: float = 100.0, name: str = "root_relative", **kwargs):
        super().__init__(name=name, **kwargs)
        self.roots = [int(r) for r in roots]
        self.unit_mm = float(unit_mm)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        valid = ops.cast(ops.all(ops.isfinite(y_true), axis=-1), "float32")  # (B, Nj)
        y_true = ops.where(ops.isfinite(y_true), y_true, ops.zeros_like(y_true))
        num_joints = y_true.shape[1]
        roots = ops.convert_to_tensor(self.roots, dtype="int32")
        root_pos = ops.take(y_true, roots, axis=1)  # (B, Nr, 3)
        target = (y_true[:, None] - root_pos[:, :, None]) / self.unit_mm  # (B, Nr, Nj, 3)
        not_root = ops.convert_to_tensor(
            [[0.0 if j == r else 1.0 for j in range(num_joints)] for r in self.roots], dtype="float32"
        )
        mask = not_root[None] * valid[:, None, :] * ops.take(valid, roots, axis=1)[:, :, None]
        sq = ops.sum(ops.square(ops.cast(y_pred, "float32") - target), axis=-1)
        return ops.sum(sq * mask, axis=(1, 2)) / len(self.roots)

    def get_config(self):
        return {**super().get_config(), "roots": self.roots, "unit_mm": self.unit_mm}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BoneLengthLoss(keras.losses.Loss):
    """Absolute log-ratio of predicted to true bone lengths, summed over the skeleton's bones.

    The log ratio weighs a forearm 10% too short as a thigh 10% too short: metric size is judged per bone,
    relative to its length. A bone with an end that is not finite is masked.

    y_true: (B, Nj, 3) joint positions in millimetres. y_pred: (B, Nb) bone lengths in millimetres, in the
    order of `skeleton.BONES`.

    Example:
    >>> joints = np.zeros((1, 17, 3), "float32"); joints[0, :, 1] = np.arange(17) * 100.0
    >>> lengths = np.linalg.norm(joints[:, [c for _, c in skeleton.BONES]] - joints[:, [p for p, _ in skeleton.BONES]], axis=-1)
    >>> float(BoneLengthLoss()(joints, lengths * np.e))  # every bone e times too long: |log e| = 1 each
    16.0
    """

    def __init__(self, name: str = "bone_length", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        ends = bone_vectors(ops.cast(y_true, "float32"))
        valid = ops.all(ops.isfinite(ends), axis=-1)
        ends = ops.where(ops.isfinite(ends), ends, ops.ones_like(ends))
        true = ops.sqrt(ops.sum(ops.square(ends), axis=-1) + 1e-6)
        ratio = ops.abs(ops.log(ops.maximum(ops.cast(y_pred, "float32"), 1e-3)) - ops.log(true))
        return ops.sum(ops.where(valid, ratio, ops.zeros_like(ratio)), axis=-1)
