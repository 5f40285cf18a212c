import numpy as np
import pytest
import tensorflow as tf

from layer_testing import run_layer_test
from tfpose3d import skeleton
from tfpose3d.layers import (FlipAverage, GridSoftArgmax, GridSoftLabels, MirrorImage, MultiRootMerge, SkeletonFit,
                             StopGradient)
from tfpose3d.metrics import p_mpjpe


def numpy_soft_labels(joint, grid_size, image_size, width):
    """Independent reference for eqs 1-2 on one joint."""
    cell = image_size / grid_size
    out = np.zeros(grid_size * grid_size)
    for y in range(grid_size):
        for x in range(grid_size):
            d = np.hypot(joint[0] - (x + 0.5) * cell, joint[1] - (y + 0.5) * cell)
            if d <= width:
                out[y * grid_size + x] = 1.0 / d
    return out / out.sum()


def test_soft_labels_by_hand():
    # 4x4 grid on 8 px: cell centres at 1, 3, 5, 7; width defaults to 2 px.
    layer = GridSoftLabels(grid_size=4, image_size=8)
    joints = np.array([[[2.0, 2.0], [1.0, 1.0], [1.5, 1.0]]], np.float32)
    out = np.asarray(layer(joints))
    # Equidistant from the four centres around (2, 2): cells 0, 1, 4, 5 at 1/4 each.
    expected0 = np.zeros(16)
    expected0[[0, 1, 4, 5]] = 0.25
    np.testing.assert_allclose(out[0, 0], expected0, atol=1e-6)
    # Exactly on the centre of cell 0: that cell alone.
    np.testing.assert_allclose(out[0, 1], np.eye(16)[0], atol=1e-6)
    # 0.5 px from centre 0 and 1.5 px from centre 1 (centre 4 is 2.06 px away, outside):
    # weights 2 and 2/3 -> 0.75 and 0.25.
    expected2 = np.zeros(16)
    expected2[[0, 1]] = [0.75, 0.25]
    np.testing.assert_allclose(out[0, 2], expected2, atol=1e-6)


def test_soft_labels_match_numpy_reference():
    rng = np.random.default_rng(0)
    joints = rng.uniform(0, 225, size=(4, 17, 2)).astype(np.float32)
    for width in (None, 20.0):
        layer = GridSoftLabels(grid_size=16, image_size=225, width=width)
        out = np.asarray(layer(joints))
        w = width or 225 / 16
        for b in range(4):
            for j in range(17):
                np.testing.assert_allclose(out[b, j], numpy_soft_labels(joints[b, j], 16, 225, w), atol=1e-5)


def test_soft_labels_edge_cases_are_valid_or_masked():
    layer = GridSoftLabels(grid_size=8, image_size=64)
    joints = np.array([[[0, 0], [64, 64], [0, 33], [-1, 10], [10, 70], [np.nan, 5], [5, 5]]], np.float32)
    visibility = np.array([[1, 1, 1, 1, 1, 1, 0]], np.float32)
    out = np.asarray(layer(joints, visibility))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0, :3].sum(-1), 1.0, atol=1e-6)  # borders: valid
    np.testing.assert_allclose(out[0, 3:].sum(-1), 0.0)  # outside, NaN, invisible: masked
    assert out[0, 0, 0] == pytest.approx(1.0)  # corner: only cell 0 is within one cell width


def test_soft_argmax_by_hand_and_round_trip():
    layer = GridSoftArgmax(grid_size=2, image_size=10)
    np.testing.assert_allclose(np.asarray(layer(np.full((1, 1, 4), 0.25, np.float32))), [[[5.0, 5.0]]])
    np.testing.assert_allclose(np.asarray(layer(np.eye(4, dtype=np.float32)[None, 3:4])), [[[7.5, 7.5]]])
    # Soft labels of a joint equidistant from four centres decode back to it exactly.
    # 8 px cells: (32, 40) is 5.66 px from centres (28|36, 36|44), all others are > 8 px away.
    probs = GridSoftLabels(grid_size=8, image_size=64)(np.array([[[32.0, 40.0]]], np.float32))
    np.testing.assert_allclose(np.asarray(GridSoftArgmax(8, 64)(probs)), [[[32.0, 40.0]]], atol=1e-4)


def numpy_merge(poses, roots, pelvis=0):
    """Eq 7 written out: zero the root row, centre each root's pose, average, pelvis to origin."""
    poses = poses.copy()
    for i, r in enumerate(roots):
        poses[:, i, r] = 0.0
    centred = poses - poses.mean(axis=2, keepdims=True)
    merged = centred.mean(axis=1)
    return merged - merged[:, pelvis : pelvis + 1]


def test_multi_root_merge_recovers_exact_relative_pose():
    rng = np.random.default_rng(1)
    pose = rng.normal(size=(3, 17, 3)).astype(np.float32) * 300
    roots = [0, 2, 5, 9, 12, 15]
    per_root = np.stack([pose - pose[:, r : r + 1] for r in roots], axis=1)
    per_root[:, 1, 2] = 1e6  # a root's own row is ignored
    out = np.asarray(MultiRootMerge(roots)(per_root))
    np.testing.assert_allclose(out, pose - pose[:, :1], atol=1e-2)


def test_multi_root_merge_matches_numpy_on_noisy_poses():
    rng = np.random.default_rng(2)
    poses = rng.normal(size=(4, 3, 17, 3)).astype(np.float32)
    out = np.asarray(MultiRootMerge([0, 9, 12])(poses))
    np.testing.assert_allclose(out, numpy_merge(poses, [0, 9, 12]), atol=1e-5)
    assert np.abs(out[:, 0]).max() == 0.0


def _rotation(axis, angle):
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_rigid_alignment_undoes_a_root_turned_off_the_consensus():
    rng = np.random.default_rng(3)
    pose = rng.normal(size=(2, 17, 3)).astype(np.float32)
    roots = [0, 9, 12]
    per_root = np.stack([pose - pose[:, r : r + 1] for r in roots], axis=1)
    # One root's whole estimate is turned 20 degrees about that root.
    per_root[:, 1] = per_root[:, 1] @ _rotation(np.array([0.0, 1.0, 0.0]), 0.35).T
    truth = pose - pose[:, :1]
    plain = np.asarray(MultiRootMerge(roots)(per_root))
    rigid = np.asarray(MultiRootMerge(roots, align="rigid")(per_root))
    # Averaging differently turned copies blurs the shape; aligned first, the shape is exact (turned as
    # the consensus is): after a similarity fit, the rigid merge's error vanishes and eq 7's does not.
    assert p_mpjpe(plain, truth) > 0.005
    assert p_mpjpe(rigid, truth) < 1e-4
    # With no disagreement, every option is eq 7.
    exact = np.stack([pose - pose[:, r : r + 1] for r in roots], axis=1)
    for align in MultiRootMerge.ALIGNS:
        np.testing.assert_allclose(np.asarray(MultiRootMerge(roots, align=align)(exact)), truth, atol=1e-4)


def test_robust_weights_outvote_one_bad_joint_by_hand():
    poses = np.zeros((1, 3, 17, 3), np.float32)
    poses[0, 2, 5] = [3.0, 0.0, 0.0]  # root 2 puts joint 5 three units off
    out = np.asarray(MultiRootMerge([0, 9, 12], align="robust", scale=0.5)(poses))
    centred = poses - poses.mean(2, keepdims=True)
    consensus = centred.mean(1)
    weight = 1 / (1 + ((centred - consensus[:, None]) ** 2).sum(-1, keepdims=True) / 0.25)
    expected = (weight * centred).sum(1) / weight.sum(1)
    np.testing.assert_allclose(out, expected - expected[:, :1], atol=1e-5)
    assert abs(out[0, 5, 0]) < abs(consensus[0, 5, 0] - consensus[0, 0, 0])
    with pytest.raises(ValueError, match="align must be one of"):
        MultiRootMerge([0], align="median")


def test_skeleton_fit_keeps_directions_and_takes_the_lengths():
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(4, 17, 3)).astype(np.float32) * 200
    lengths = rng.uniform(50, 450, size=(4, 16)).astype(np.float32)
    fitted = np.asarray(SkeletonFit()(pose, lengths))
    parent, child = np.array(skeleton.BONES).T
    bones, given = fitted[:, child] - fitted[:, parent], pose[:, child] - pose[:, parent]
    np.testing.assert_allclose(np.linalg.norm(bones, axis=-1), lengths, rtol=1e-4)
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(unit(bones), unit(given), atol=1e-5)
    np.testing.assert_array_equal(fitted[:, skeleton.PELVIS], pose[:, skeleton.PELVIS])
    # A pose that already has the lengths comes back unchanged.
    np.testing.assert_allclose(np.asarray(SkeletonFit()(pose, np.linalg.norm(given, axis=-1))), pose, atol=1e-3)


def test_stop_gradient_blocks_gradient_only():
    x = tf.Variable([[1.0, 2.0]])
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(StopGradient()(x) * 3.0) + tf.reduce_sum(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [[1.0, 1.0]])


@pytest.mark.parametrize(
    "layer, inputs",
    [
        (GridSoftLabels(16, 225, 20.0), [np.random.default_rng(0).uniform(0, 225, (3, 17, 2)).astype("float32")]),
        (GridSoftLabels(8, 64), [np.full((2, 17, 2), 30.0, "float32"), np.ones((2, 17), "float32")]),
        (GridSoftArgmax(16, 225), [np.full((3, 17, 256), 1 / 256, "float32")]),
        (MultiRootMerge([0, 9], pelvis=0), [np.random.default_rng(1).normal(size=(3, 2, 17, 3)).astype("float32")]),
        (MultiRootMerge([0, 9], align="rigid"), [np.random.default_rng(1).normal(size=(3, 2, 17, 3)).astype("float32")]),
        (MultiRootMerge([0, 9], align="robust"), [np.random.default_rng(1).normal(size=(3, 2, 17, 3)).astype("float32")]),
        (StopGradient(), [np.ones((2, 5), "float32")]),
        (FlipAverage("pose_3d"), [np.ones((2, 17, 3), "float32"), np.zeros((2, 17, 3), "float32")]),
        (FlipAverage("heatmaps_2d"), [np.ones((2, 17, 8, 8), "float32"), np.zeros((2, 17, 8, 8), "float32")]),
        (MirrorImage(), [np.ones((2, 8, 8, 3), "float32")]),
        (SkeletonFit(), [np.random.default_rng(2).normal(size=(2, 17, 3)).astype("float32"),
                         np.ones((2, 16), "float32")]),
    ],
)
def test_layer_contract(layer, inputs):
    run_layer_test(layer, inputs)


def test_flip_average_by_hand():
    """Left wrist (13) seen in the mirror as the right wrist (16): mirrored back to the left, x reflected."""
    plain = np.zeros((1, 17, 2), "float32")
    mirrored = np.zeros((1, 17, 2), "float32")
    plain[0, 13] = [40.0, 50.0]
    mirrored[0, 16] = [225.0 - 60.0, 70.0]  # the mirror image's estimate, in its own pixels
    out = FlipAverage("joints_2d", 225.0)(plain, mirrored).numpy()
    np.testing.assert_allclose(out[0, 13], [50.0, 60.0])
    # The left upper arm 100 mm along x, and along y in the mirror (its r_elbow, x reflected): the mean elbow
    # (50, 50, 0) lies 71 mm out; refit to the two arms' mean length, 100 mm along the mean direction. The
    # forearm, 100 mm back to the origin in both, keeps its length from the refit elbow.
    pose, mirror_pose = np.zeros((1, 17, 3), "float32"), np.zeros((1, 17, 3), "float32")
    pose[0, 12], mirror_pose[0, 15] = [100.0, 0.0, 0.0], [0.0, 100.0, 0.0]
    fitted = FlipAverage("pose_3d")(pose, mirror_pose).numpy()[0]
    np.testing.assert_allclose(fitted[12], [100 / np.sqrt(2), 100 / np.sqrt(2), 0.0], rtol=1e-6)
    np.testing.assert_allclose(fitted[13], [0.0, 0.0, 0.0], atol=1e-4)
    grid, mirror_grid = np.zeros((1, 17, 2, 2), "float32"), np.zeros((1, 17, 2, 2), "float32")
    grid[0, 0, 0, 0], mirror_grid[0, 0, 0, 1] = 1.0, 1.0  # pelvis: top-left cell, top-right in the mirror
    np.testing.assert_allclose(FlipAverage("heatmaps_2d")(grid, mirror_grid).numpy()[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_flip_test_model_is_mirror_symmetric():
    """The flip-averaged estimate of a mirrored image is the mirror of the estimate of the image."""
    from tfpose3d import ModelConfig, build_model, skeleton
    from tfpose3d.estimator import flip_test_model

    model = flip_test_model(build_model(ModelConfig(image_size=64, grid_size=8, width=0.05, dropout=0.0)))
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    a, b = model.predict(x, verbose=0), model.predict(x[:, :, ::-1], verbose=0)
    perm = skeleton.flip_permutation()
    np.testing.assert_allclose(b["pose_3d"], (a["pose_3d"] * [-1, 1, 1])[:, perm], atol=1e-4)
    np.testing.assert_allclose(b["joints_2d"][..., 0], (64.0 - a["joints_2d"][..., 0])[:, perm], atol=1e-3)
    np.testing.assert_allclose(b["heatmaps_2d"], a["heatmaps_2d"][:, perm, :, ::-1], atol=1e-6)


def test_flip_keeps_the_bone_heads_skeleton():
    """A model whose pose is refit to its bone head's lengths keeps one skeleton through the flip: the flip's
    bones are the mean of the head's lengths for the image and for its mirror (left and right swapped back)."""
    from tfpose3d import ModelConfig, build_model, skeleton
    from tfpose3d.estimator import flip_test_model
    from tfpose3d.metrics import bone_lengths

    model = build_model(ModelConfig(image_size=64, grid_size=8, width=0.05, dropout=0.0, bone_lengths=True))
    head = model.get_layer("fc_out_bones")
    kernel, bias = head.get_weights()
    rng = np.random.default_rng(3)
    head.set_weights([rng.normal(0, 0.02, kernel.shape).astype("float32"), bias])  # lengths that depend on the image
    x = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    plain, mirrored = model.predict(x, verbose=0), model.predict(x[:, :, ::-1], verbose=0)
    perm = skeleton.flip_permutation()
    swapped = [perm[child] - 1 for _, child in skeleton.BONES]  # bone k ends at joint k + 1
    expected = (plain["bone_lengths"] + mirrored["bone_lengths"][:, swapped]) / 2
    assert np.abs(plain["bone_lengths"] - mirrored["bone_lengths"][:, swapped]).max() > 1e-3  # the two disagree
    flipped = flip_test_model(model).predict(x, verbose=0)["pose_3d"]
    np.testing.assert_allclose(bone_lengths(flipped), expected, rtol=1e-4)
