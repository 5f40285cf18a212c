import dataclasses
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfpose3d import ModelConfig, Pose3DBackbone, Pose3DEstimator, build_model, model_preset, skeleton
from tfpose3d.config import VARIANTS
from tfpose3d.layers import GridSoftLabels
from tfpose3d.layers import GridSoftLabels
from tfpose3d.losses import GridCrossEntropy, RootRelativeLoss

SMALL = dict(image_size=64, grid_size=8, width=0.05, dropout=0.0)
BRANCH_2D = ("fc1_2d", "fc2_2d", "fc_out_2d")


def small(variant, **kw):
    return ModelConfig(variant=variant, **{**SMALL, **kw})


def random_batch(config, n=4, seed=0):
    """Images and the raw labels the data pipeline yields."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, size=(n, config.image_size, config.image_size, 3)).astype(np.float32)
    labels = {
        "joints_2d": rng.uniform(0, config.image_size, size=(n, 17, 2)).astype(np.float32),
        "joints_3d": rng.normal(size=(n, 17, 3)).astype(np.float32) * 300,
        "visibility": np.ones((n, 17), np.float32),
    }
    return images, labels


def expected_params(config):
    """Parameter count written out from the architecture description (64 px input -> 1x1 final map)."""
    f = [config.scaled(n) for n in config.conv_filters]
    u = config.scaled(config.fc_units)
    k = config.grid_size**2 * 17
    conv = 7 * 7 * 3 * f[0] + 5 * 5 * f[0] * f[1] + 9 * f[1] * f[2] + 9 * f[2] * f[3] + 9 * f[3] * f[4]
    bn = 4 * sum(f)
    feat = f[4]  # 64 -> 32 -> 15 -> 8 -> 3 -> 3 -> 1
    dense = lambda i, o: i * o + o  # noqa: E731
    two_d = dense(feat, u) + dense(u, u) + dense(u, k)
    fused = u + (u if config.fusion else 0)
    three_d = dense(feat, u) + (dense(k, u) if config.fusion else 0)
    three_d += len(config.active_roots) * (dense(fused, u) + dense(u, 51))
    return conv + bn + two_d + three_d


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_count_matches_architecture(variant):
    config = small(variant)
    assert build_model(config).count_params() == expected_params(config)


def test_variants_by_roots_and_fusion():
    assert [(c.multi_root, c.fusion) for c in map(small, VARIANTS)] == [
        (False, False), (True, False), (False, True), (True, True)
    ]
    model = build_model(small("full"))
    assert isinstance(model, Pose3DEstimator) and isinstance(model.backbone, Pose3DBackbone)
    assert model.output["root_poses"].shape[1:] == (6, 17, 3)
    assert build_model(small("cls2d")).output["root_poses"].shape[1:] == (1, 17, 3)
    assert model.output["heatmaps_2d"].shape[1:] == (17, 8, 8)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model._flatten_layers())


def test_paper_network_shapes():
    config = ModelConfig()
    assert (config.image_size, config.variant, len(config.roots)) == (225, "full", 6)
    model = build_model(config)
    assert model.backbone.get_layer("conv1").kernel.shape == (7, 7, 3, 64)
    assert model.backbone.get_layer("conv2").kernel.shape == (5, 5, 64, 128)
    assert model.backbone.output.shape[1:] == (6, 6, 192)
    assert model.get_layer("fc1_3d").kernel.shape == (6 * 6 * 192, 2048)
    assert model.get_layer("fc1_2d").kernel.shape == (6 * 6 * 192, 2048)


@pytest.mark.parametrize("variant", ["cls2d", "full"])
def test_3d_loss_never_reaches_2d_branch(variant):
    config = small(variant)
    model = build_model(config)
    images, labels = random_batch(config)
    with tf.GradientTape() as tape:
        out = model(images, training=True)
        loss = model.loss_3d(labels["joints_3d"], out["root_poses"])
    two_d = [w for name in BRANCH_2D for w in model.get_layer(name).trainable_weights]
    heads = [w for layer in model.layers if layer.name.startswith("fc_out_3d_") for w in layer.trainable_weights]
    assert len(two_d) == 6 and heads
    grads = tape.gradient(loss, two_d + heads)
    for w, g in zip(two_d, grads[: len(two_d)]):
        assert g is None or not np.any(g.numpy()), w.path
    for g in grads[len(two_d):]:
        assert np.any(g.numpy())


@pytest.mark.parametrize("variant, fused", [("cls2d", True), ("full", True), ("baseline", False)])
def test_2d_probabilities_change_the_3d_output_only_with_fusion(variant, fused):
    """Changing only the 2D branch's last layer moves `pose_3d` exactly when the variant fuses 2D into 3D."""
    model = build_model(small(variant))
    images = random_batch(model.config)[0]
    before = model.predict(images, verbose=0)
    kernel = model.get_layer("fc_out_2d").kernel
    kernel.assign(kernel + tf.random.stateless_normal(kernel.shape, [1, 2]))
    after = model.predict(images, verbose=0)
    assert not np.allclose(before["heatmaps_2d"], after["heatmaps_2d"])
    assert (not np.allclose(before["pose_3d"], after["pose_3d"])) == fused


def test_compile_with_no_arguments_trains_with_eq5():
    config = small("full", loss_weight_2d=0.3, loss_weight_3d=2.0)
    model = build_model(config)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    images, labels = random_batch(config)
    result = model.evaluate(images, labels, batch_size=4, verbose=0, return_dict=True)
    out = model.predict(images, verbose=0)
    # Independent targets: the soft labels are built here, not by the model.
    targets = GridSoftLabels(config.grid_size, config.image_size)(labels["joints_2d"])
    l2d = float(GridCrossEntropy()(targets, out["heatmap_logits"]))
    l3d = float(RootRelativeLoss(skeleton.root_indices(config.roots))(labels["joints_3d"], out["root_poses"]))
    assert result["loss"] == pytest.approx(0.3 * l2d + 2.0 * l3d, rel=1e-4)
    assert result["loss_2d"] == pytest.approx(l2d, rel=1e-4) and result["loss_3d"] == pytest.approx(l3d, rel=1e-4)
    pelvis = lambda p: p - p[:, :1]  # noqa: E731
    mpjpe = np.linalg.norm(pelvis(out["pose_3d"]) - pelvis(labels["joints_3d"]), axis=-1).mean()
    assert result["pose_3d_mpjpe"] == pytest.approx(mpjpe, rel=1e-4)
    pixels = np.linalg.norm(out["joints_2d"] - labels["joints_2d"], axis=-1).mean()
    assert result["joints_2d_pixel_error"] == pytest.approx(pixels, rel=1e-4)


def test_invisible_joints_leave_the_2d_loss():
    config = small("baseline")
    model = build_model(config)
    model.compile()
    images, labels = random_batch(config)
    hidden = dict(labels, visibility=np.zeros((4, 17), np.float32))
    result = model.evaluate(images, hidden, batch_size=4, verbose=0, return_dict=True)
    assert result["loss_2d"] == 0.0 and result["loss_3d"] > 0


def test_bad_labels_and_losses_are_named():
    config = small("baseline")
    model = build_model(config)
    with pytest.raises(ValueError, match="eq 5"):
        model.compile(loss="mse")
    model.compile()
    images, labels = random_batch(config)
    with pytest.raises(ValueError, match="joints_3d"):
        model.evaluate(images, {"joints_2d": labels["joints_2d"]}, verbose=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fit_and_keras_file_round_trip(variant, tmp_path):
    config = small(variant)
    model = build_model(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images, labels = random_batch(config, n=8)
    before = model.evaluate(images, labels, verbose=0, return_dict=True)["loss"]
    history = model.fit(images, labels, batch_size=4, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.evaluate(images, labels, verbose=0, return_dict=True)["loss"] < before
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    # The file describes itself: the configuration comes back whole, not read off tensor shapes.
    assert isinstance(restored, Pose3DEstimator) and restored.config == config
    a, b = model.predict(images, verbose=0), restored.predict(images, verbose=0)
    assert set(a) == {"heatmap_logits", "root_poses", "pose_3d", "joints_2d", "heatmaps_2d"}
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # It comes back compiled with the same loss and metrics.
    assert restored.evaluate(images, labels, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(images, labels, verbose=0, return_dict=True), rel=1e-5)


@pytest.mark.parametrize("bones_from", ["branch", "trunk", "trunk-16"])
def test_bone_head_refits_the_pose_and_learns_apart_from_the_paper_branches(bones_from, tmp_path):
    # Whether 20 steps halve the bone loss depends on the initial weights (to 0.20-0.44 of it over seeds 0-11);
    # unseeded, they follow from whichever tests ran before, and a full run failed this test once in seven.
    keras.utils.set_random_seed(0)
    # "trunk-16" reads a map only BlazePose's trunk has (frozen here, as the main job keeps it), here with fewer
    # maps in its head than the default 128, as the main job's has.
    trunk = {"backbone": "blazepose", "train_backbone": False, "bone_maps": 8} if bones_from == "trunk-16" else {}
    config = small("full", bone_lengths=True, bones_from=bones_from, **trunk)
    model = build_model(config)
    side = {"branch": None, "trunk": 1, "trunk-16": 16}[bones_from]  # the paper's trunk at 64 px ends at 1 x 1
    if side:
        assert tuple(model.get_layer("bone_map_norm").input.shape[1:3]) == (side, side)
        assert model.get_layer("bone_conv2").output.shape[1:] == (side, side, config.bone_maps)
    images, labels = random_batch(config, n=8)
    head = model.get_layer("fc_out_bones")
    kernel = head.kernel.numpy()
    # The head starts at zero weights, which pass no gradient back whatever the graph; give it some.
    head.kernel.assign(np.random.default_rng(0).normal(size=kernel.shape).astype(np.float32) * 0.01)
    with tf.GradientTape() as tape:
        out = model(images, training=True)
        loss = model.loss_bones(labels["joints_3d"], out["bone_lengths"])
    own = [layer for layer in model.layers
           if (layer.name == "fc_out_bones" or layer.name.startswith("bone_")) and layer.trainable_weights]
    assert [layer.name for layer in own] == (["fc_out_bones"] if bones_from == "branch" else
                                             ["bone_map_norm", "bone_conv1", "bone_conv2", "bone_fc", "fc_out_bones"])
    # Neither the trunk nor the paper's branches learn from the bone loss.
    paper = [w for layer in model.layers if layer not in own for w in layer.trainable_weights]
    mine = [w for layer in own for w in layer.trainable_weights]
    grads = tape.gradient(loss, paper + mine)
    assert all(g is None or not np.any(g.numpy()) for g in grads[: len(paper)])
    assert all(np.any(g.numpy()) for g in grads[len(paper):])
    head.kernel.assign(kernel)

    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(images, labels, batch_size=8, epochs=20, verbose=0)
    assert history.history["loss_bones"][-1] < 0.5 * history.history["loss_bones"][0]
    out = model.predict(images, verbose=0)
    # The output pose has the head's lengths, bone for bone.
    parent, child = np.array(skeleton.BONES).T
    implied = np.linalg.norm(out["pose_3d"][:, child] - out["pose_3d"][:, parent], axis=-1)
    np.testing.assert_allclose(implied, out["bone_lengths"], rtol=1e-3)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(restored.predict(images, verbose=0)["pose_3d"], out["pose_3d"])
    with pytest.raises(ValueError, match="loss_weight_bones"):
        small("full", loss_weight_bones=-1.0)
    with pytest.raises(ValueError, match="bone_maps must be a positive number of maps, got 0"):
        small("full", bone_lengths=True, bones_from="trunk", bone_maps=0)
    with pytest.raises(ValueError, match="bones_from 'joints'"):
        small("full", bone_lengths=True, bones_from="joints")
    with pytest.raises(ValueError, match="bones_from 'trunk-16' reads BlazePose's 16 x 16 map; backbone 'zfnet'"):
        small("full", bone_lengths=True, bones_from="trunk-16")
    # A configuration saved before the field existed (0.5.0) builds the head it was trained with.
    saved = {k: v for k, v in config.to_dict().items() if k != "bones_from"}
    assert ModelConfig.from_dict(saved).bones_from == "branch"


def test_bone_head_refits_in_float32_under_mixed_precision():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_model(small("full", bone_lengths=True))
    finally:
        keras.config.set_dtype_policy(policy)
    # Bones of 450 mm, squared, are past float16's largest number (65,504).
    pose = np.zeros((1, 17, 3), np.float32)
    pose[0, :, 1] = np.arange(17) * 450.0
    fitted = np.asarray(model.get_layer("pose_3d")(pose, np.full((1, 16), 400.0, np.float32)), np.float64)
    parent, child = np.array(skeleton.BONES).T
    np.testing.assert_allclose(np.linalg.norm(fitted[0, child] - fitted[0, parent], axis=-1), 400.0, rtol=1e-3)
    assert all(model.get_layer(name).compute_dtype == "float32" for name in ("fc_out_bones", "bone_lengths", "pose_3d"))


def test_saved_model_loads_after_import_tfpose3d_alone(tmp_path):
    model = build_model(small("cls2d"))
    model.compile()
    model.save(tmp_path / "m.keras")
    script = textwrap.dedent(f"""
        import keras, tfpose3d
        m = keras.models.load_model("{tmp_path / 'm.keras'}", safe_mode=True)
        print(type(m).__name__, m.config.variant, m.config.grid_size, m.compiled)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Pose3DEstimator", "cls2d", "8", "True"]


def test_inference_outputs_are_consistent():
    config = small("full")
    out = build_model(config).predict(random_batch(config)[0], verbose=0)
    np.testing.assert_allclose(out["heatmaps_2d"].reshape(4, 17, -1).sum(-1), 1.0, rtol=1e-5)
    assert np.all(out["pose_3d"][:, 0] == 0.0)
    assert np.all((out["joints_2d"] >= 0) & (out["joints_2d"] <= 64))


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="variant"):
        ModelConfig(variant="fancy")
    with pytest.raises(ValueError, match="grid_size"):
        ModelConfig(grid_size=1)
    with pytest.raises(ValueError, match="Unknown root"):
        ModelConfig(roots=("pelvis", "tail"))
    # 225 px over 15 cells: 15 px a cell, a corner 10.61 px from the nearest centres (by hand: 15 / sqrt(2)).
    with pytest.raises(ValueError, match="half a cell's diagonal, 10.61 px"):
        ModelConfig(grid_size=15, grid_width=10.6)
    assert ModelConfig(grid_size=15, grid_width=10.61).grid_width == 10.61
    labels = GridSoftLabels(15, 225.0, 10.61)(np.array([[[15.0, 15.0]]], "float32"))  # a joint on a cell corner
    assert float(keras.ops.sum(labels)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Unknown preset"):
        model_preset("gpu-huge")
    with pytest.raises(ValueError, match="bogus"):
        ModelConfig.from_dict({"bogus": 1})
    config = model_preset("cpu-quick", variant="baseline")
    assert ModelConfig.from_dict(dataclasses.asdict(config)) == config


def test_logged_terms_add_up_to_the_loss_on_a_finite_dataset():
    """On a tf.data set that ends unannounced, the logged eq 5 terms are weighted like Keras's own total."""
    config = small("full")
    model = build_model(config)
    model.compile()
    images, labels = random_batch(config, n=10)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).filter(lambda x, y: True).batch(4)  # cardinality unknown
    result = model.evaluate(ds, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(config.loss_weight_2d * result["loss_2d"] + config.loss_weight_3d * result["loss_3d"], rel=1e-5)
