"""Pose metrics: numpy functions for evaluation, and a Keras MPJPE metric for training logs."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from keras import ops

from tfpose3d import skeleton

PCK3D_MM = 150.0
PCK2D_FRACTION = 0.05  # of the image side: 11 px at 225 px


def align_root(poses: np.ndarray, root: int = skeleton.PELVIS) -> np.ndarray:
    """Translate (..., Nj, 3) poses so that `root` is at the origin."""
    return poses - poses[..., root : root + 1, :]


def mean_pose(true: np.ndarray) -> np.ndarray:
    """The mean of (N, Nj, 3) poses aligned at the pelvis, answered for every one of them: the reference a model
    must beat, an oracle one since it is the evaluated set's own mean."""
    return np.broadcast_to(align_root(true).mean(0), true.shape)


def joint_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per-joint Euclidean errors (N, Nj) after aligning both poses at the pelvis."""
    return np.linalg.norm(align_root(pred) - align_root(true), axis=-1)


def procrustes_align(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """`pred` (N, Nj, 3) moved by the similarity transform (rotation, scale, translation) that best fits `true`."""
    mu_p, mu_t = pred.mean(1, keepdims=True), true.mean(1, keepdims=True)
    p, t = pred - mu_p, true - mu_t
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", p, t))
    # Reflection guard: keep a proper rotation.
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rotation = np.einsum("nij,njk->nik", u, vt)
    scale = s.sum(1) / np.maximum((p**2).sum(axis=(1, 2)), 1e-12)
    return scale[:, None, None] * np.einsum("nji,nik->njk", p, rotation) + mu_t


def mpjpe(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean per-joint position error (same unit as the input) after pelvis alignment."""
    return float(joint_errors(pred, true).mean())


def p_mpjpe(pred: np.ndarray, true: np.ndarray) -> float:
    """MPJPE after Procrustes (similarity) alignment of each prediction to its truth."""
    return float(np.linalg.norm(procrustes_align(pred, true) - true, axis=-1).mean())


def bone_lengths(poses: np.ndarray) -> np.ndarray:
    """Lengths (N, 16) of the skeleton's bones in (N, 17, 3) poses."""
    parent, child = np.array(skeleton.BONES).T
    return np.linalg.norm(poses[:, child] - poses[:, parent], axis=-1)


def bone_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute difference of bone lengths (same unit as the input)."""
    return float(np.abs(bone_lengths(pred) - bone_lengths(true)).mean())


def proportion_correlation(pred: np.ndarray, true: np.ndarray) -> float:
    """How well a model reads a person's proportions: per bone, the Pearson correlation across samples of
    its predicted and true share of the skeleton's total length; the mean over bones.

    Near 0 when a model answers one skeleton's proportions whatever the person; 1 when it reads them. Shares,
    not lengths: a crop leaves a person's absolute size unknowable (a tall person far away looks like a short
    one near), but not their proportions.
    """
    p, t = (lengths / lengths.sum(1, keepdims=True) for lengths in (bone_lengths(pred), bone_lengths(true)))
    p, t = p - p.mean(0), t - t.mean(0)
    spread = np.sqrt((p**2).sum(0) * (t**2).sum(0))
    # A share that never changes carries no information: correlation 0, not undefined.
    return float(np.mean(np.where(spread > 1e-12, (p * t).sum(0) / np.maximum(spread, 1e-12), 0.0)))


def pck3d(pred: np.ndarray, true: np.ndarray, threshold: float = 150.0) -> float:
    """Fraction of joints within `threshold` (mm) after pelvis alignment."""
    return float((joint_errors(pred, true) <= threshold).mean())


def pck2d(pred: np.ndarray, true: np.ndarray, threshold: float) -> float:
    """Fraction of 2D joints within `threshold` pixels."""
    return float((np.linalg.norm(pred - true, axis=-1) <= threshold).mean())


@keras.saving.register_keras_serializable(package="tfpose3d")
class MeanJointError(keras.metrics.Mean):
    """Mean Euclidean distance between predicted and true joints (B, Nj, D).

    With `align_root` (3D MPJPE, mm) both poses are first translated so the
    pelvis is at the origin; without it (2D, pixels) positions are compared as they are.

    Example:
    >>> metric = MeanJointError("mpjpe")
    >>> metric.update_state(np.zeros((1, 17, 3)), np.concatenate([np.zeros((1, 1, 3)), np.ones((1, 16, 3))], 1))
    >>> round(float(metric.result()), 4)   # 16 joints off by sqrt(3), the pelvis by 0, over 17
    1.6302
    """

    def __init__(self, name: str = "mpjpe", align_root: bool = True, **kwargs):
        super().__init__(name=name, **kwargs)
        self.align_root = align_root

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if self.align_root:
            y_true = y_true - y_true[:, skeleton.PELVIS : skeleton.PELVIS + 1]
            y_pred = y_pred - y_pred[:, skeleton.PELVIS : skeleton.PELVIS + 1]
        return super().update_state(ops.mean(ops.norm(y_pred - y_true, axis=-1), axis=-1), sample_weight)

    def get_config(self):
        return {**super().get_config(), "align_root": self.align_root}


def tables(pred: dict[str, np.ndarray], image_size: int) -> dict[str, pd.DataFrame]:
    """The held-out tables of `tfpose3d evaluate`: summary (model and mean-pose rows), per action and per joint.

    `pred` holds a model's `pose_3d` (N, 17, 3) mm and `joints_2d` (N, 17, 2) px beside the truth, `true_3d`
    and `true_2d`, and each sample's `action`.
    """
    true, est = pred["true_3d"], pred["pose_3d"]
    average = mean_pose(true)
    threshold_2d = PCK2D_FRACTION * image_size

    def row(name, pose, joints_2d):
        return {
            "model": name, "MPJPE (mm)": mpjpe(pose, true), "P-MPJPE (mm)": p_mpjpe(pose, true),
            f"PCK3D@{PCK3D_MM:.0f}mm": pck3d(pose, true, PCK3D_MM),
            f"PCK2D@{threshold_2d:.1f}px": pck2d(joints_2d, pred["true_2d"], threshold_2d) if joints_2d is not None else np.nan,
            "bone error (mm)": bone_error(pose, true),
            # The mean pose has one set of proportions, so no correlation to report.
            "proportion r": proportion_correlation(pose, true) if joints_2d is not None else np.nan,
            "samples": len(true),
        }

    summary = pd.DataFrame([row("model", est, pred["joints_2d"]), row("mean pose", average, None)])
    actions = sorted(set(pred["action"]))
    per_action = pd.DataFrame(
        [{"action": a, "samples": int((pred["action"] == a).sum()),
          "MPJPE (mm)": mpjpe(est[pred["action"] == a], true[pred["action"] == a]),
          "P-MPJPE (mm)": p_mpjpe(est[pred["action"] == a], true[pred["action"] == a])} for a in actions]
    )
    per_joint = pd.DataFrame({"joint": skeleton.JOINT_NAMES, "MPJPE (mm)": joint_errors(est, true).mean(0)})
    return {"summary": summary, "per_action": per_action, "per_joint": per_joint}
