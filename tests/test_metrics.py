import numpy as np
import pytest

from tfpose3d import metrics


def rotation_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_mpjpe_by_hand():
    true = np.zeros((1, 17, 3))
    pred = np.zeros((1, 17, 3))
    pred[0, 1:, 0] = 30.0  # every joint but the pelvis 30 mm off in x
    assert metrics.mpjpe(pred, true) == pytest.approx(30.0 * 16 / 17)
    pred += 500.0  # a global shift is removed by pelvis alignment
    assert metrics.mpjpe(pred, true) == pytest.approx(30.0 * 16 / 17)
    assert metrics.pck3d(pred, true, 29.0) == pytest.approx(1 / 17)
    assert metrics.pck3d(pred, true, 31.0) == 1.0


def test_procrustes_removes_similarity_exactly():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(5, 17, 3)) * 300
    pred = 1.3 * np.einsum("ij,nkj->nki", rotation_z(0.7), true) + [10.0, -40.0, 200.0]
    assert metrics.mpjpe(pred, true) > 50
    assert metrics.p_mpjpe(pred, true) == pytest.approx(0.0, abs=1e-8)
    # A mirror image is not a rotation: Procrustes must not undo it.
    assert metrics.p_mpjpe(true * [-1, 1, 1], true) > 1.0


def test_p_mpjpe_never_exceeds_mpjpe():
    rng = np.random.default_rng(1)
    true = rng.normal(size=(20, 17, 3)) * 300
    pred = true + rng.normal(size=true.shape) * 50
    assert metrics.p_mpjpe(pred, true) <= metrics.mpjpe(pred, true)


def test_keras_joint_error_metrics_match_numpy():
    rng = np.random.default_rng(2)
    true = rng.normal(size=(6, 17, 3)).astype(np.float32) * 300
    pred = (true + rng.normal(size=true.shape) * 40).astype(np.float32)
    m = metrics.MeanJointError("mpjpe")
    m.update_state(true[:3], pred[:3])
    m.update_state(true[3:], pred[3:])
    assert float(m.result()) == pytest.approx(metrics.mpjpe(pred, true), rel=1e-5)
    shifted = pred + 100.0  # without root alignment a shift counts in full
    m2 = metrics.MeanJointError("pixel_error", align_root=False)
    m2.update_state(true, shifted)
    expected = np.linalg.norm(shifted - true, axis=-1).mean()
    assert float(m2.result()) == pytest.approx(expected, rel=1e-5)


def test_pck2d():
    true = np.zeros((1, 17, 2))
    pred = true.copy()
    pred[0, :5] = [3.0, 4.0]  # 5 px off
    assert metrics.pck2d(pred, true, 4.9) == pytest.approx(12 / 17)
    assert metrics.pck2d(pred, true, 5.0) == 1.0


def test_bone_metrics_by_hand():
    rng = np.random.default_rng(3)
    true = rng.normal(size=(8, 17, 3)) * 300
    # Scaling a pose scales every bone: each length error is (s - 1) x its length.
    pred = true * 1.1 + 50.0
    lengths = metrics.bone_lengths(true)
    assert lengths.shape == (8, 16)
    assert lengths[0, 0] == pytest.approx(np.linalg.norm(true[0, 1] - true[0, 0]))  # pelvis -> r_hip
    assert metrics.bone_error(pred, true) == pytest.approx(0.1 * lengths.mean())
    # Scale changes no proportion: read perfectly.
    assert metrics.proportion_correlation(pred, true) == pytest.approx(1.0)
    # One skeleton for everyone reads no proportion: its shares never change.
    assert metrics.proportion_correlation(np.repeat(true[:1], len(true), 0), true) == 0.0
    # Per bone it is Pearson's r of the shares (numpy's), averaged.
    noisy = true + rng.normal(size=true.shape) * 60
    shares = [b / b.sum(1, keepdims=True) for b in (metrics.bone_lengths(noisy), lengths)]
    expected = np.mean([np.corrcoef(shares[0][:, k], shares[1][:, k])[0, 1] for k in range(16)])
    assert metrics.proportion_correlation(noisy, true) == pytest.approx(expected)
