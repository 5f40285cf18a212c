"""The paper's losses as registered Keras losses (eqs 3, 4 and 6); `Pose3DEstimator` weighs them (eq 5)."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops


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
