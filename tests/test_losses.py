import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.losses import BoneLengthLoss, GridCrossEntropy, RootRelativeLoss


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_grid_cross_entropy_matches_numpy_and_masks():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 17, 25)).astype(np.float32)
    target = rng.uniform(size=(3, 17, 25)).astype(np.float32)
    target /= target.sum(-1, keepdims=True)
    target[1, 4] = 0.0  # masked joint
    expected = -(target * log_softmax(logits.astype(np.float64))).sum(axis=(1, 2))
    loss = GridCrossEntropy(reduction=None)(target, logits)
    np.testing.assert_allclose(np.asarray(loss), expected, rtol=1e-5)
    # Averaged over the batch by default.
    assert float(GridCrossEntropy()(target, logits)) == pytest.approx(expected.mean(), rel=1e-5)


def test_grid_cross_entropy_by_hand():
    # Uniform logits over 4 cells: each joint costs log(4) whatever the target.
    loss = GridCrossEntropy(reduction=None)(np.eye(4, dtype=np.float32)[None, :2], np.zeros((1, 2, 4), np.float32))
    assert float(loss[0]) == pytest.approx(2 * np.log(4), rel=1e-6)


def numpy_root_relative(y_true, y_pred, roots, unit):
    total = np.zeros(len(y_true))
    for b in range(len(y_true)):
        for i, r in enumerate(roots):
            for j in range(y_true.shape[1]):
                if j != r:
                    target = (y_true[b, j] - y_true[b, r]) / unit
                    total[b] += ((y_pred[b, i, j] - target) ** 2).sum()
    return total / len(roots)  # averaged over roots, so that lambda_3D means the same for any Nr


def test_root_relative_loss_matches_explicit_sum():
    rng = np.random.default_rng(1)
    y_true = rng.normal(size=(2, 17, 3)).astype(np.float32) * 500
    y_pred = rng.normal(size=(2, 3, 17, 3)).astype(np.float32)
    roots = [0, 9, 15]
    loss = RootRelativeLoss(roots, unit_mm=100.0, reduction=None)(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(loss), numpy_root_relative(y_true, y_pred, roots, 100.0), rtol=1e-5)


def test_root_relative_loss_is_zero_for_the_truth_and_ignores_root_rows():
    rng = np.random.default_rng(2)
    y_true = rng.normal(size=(2, 17, 3)).astype(np.float32) * 500
    roots = [0, 2]
    y_pred = np.stack([(y_true - y_true[:, r : r + 1]) / 10.0 for r in roots], axis=1)
    y_pred[:, 1, 2] = 99.0  # root 2's own row does not count
    assert float(RootRelativeLoss(roots, unit_mm=10.0)(y_true, y_pred)) == pytest.approx(0.0, abs=1e-6)
    # One joint off by one unit in x for root 0 costs exactly 1, over the two roots.
    y_pred[0, 0, 5, 0] += 1.0
    loss = RootRelativeLoss(roots, unit_mm=10.0, reduction=None)(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(loss), [0.5, 0.0], atol=1e-4)


def test_root_relative_loss_masks_missing_joints():
    y_true = np.zeros((1, 17, 3), np.float32)
    y_true[0, 3] = np.nan
    y_pred = np.zeros((1, 1, 17, 3), np.float32)
    y_pred[0, 0, 3] = 5.0  # wrong, but the truth is missing
    assert float(RootRelativeLoss([0])(y_true, y_pred)) == 0.0


def test_bone_length_loss_matches_numpy_and_masks():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(3, 17, 3)).astype(np.float32) * 300
    lengths = rng.uniform(100, 500, size=(3, 16)).astype(np.float32)
    parent, child = np.array(skeleton.BONES).T
    true = np.linalg.norm(joints[:, child] - joints[:, parent], axis=-1)
    expected = np.abs(np.log(lengths / true)).sum(1)
    np.testing.assert_allclose(np.asarray(BoneLengthLoss(reduction=None)(joints, lengths)), expected, rtol=1e-4)
    # The left wrist missing leaves out its one bone, the forearm, and nothing else.
    joints[1, skeleton.JOINT_INDEX["l_wrist"]] = np.nan
    forearm = skeleton.BONES.index((skeleton.JOINT_INDEX["l_elbow"], skeleton.JOINT_INDEX["l_wrist"]))
    expected[1] -= np.abs(np.log(lengths[1, forearm] / true[1, forearm]))
    np.testing.assert_allclose(np.asarray(BoneLengthLoss(reduction=None)(joints, lengths)), expected, rtol=1e-4)
