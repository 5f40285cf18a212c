import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfpose3d import ModelConfig, build_model, model_preset, skeleton
from tfpose3d.config import VARIANTS
from tfpose3d.losses import GridCrossEntropy, RootRelativeLoss, pose_losses
from tfpose3d.model import branch_2d_layers, heads_3d_layers

SMALL = dict(image_size=64, grid_size=8, width=0.05, dropout=0.0)


def small(variant, **kw):
    return ModelConfig(variant=variant, **{**SMALL, **kw})


def random_batch(config, n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, size=(n, config.image_size, config.image_size, 3)).astype(np.float32)
    joints_2d = rng.uniform(0, config.image_size, size=(n, 17, 2)).astype(np.float32)
    from tfpose3d.layers import GridSoftLabels

    targets = {
        "heatmap_logits": np.asarray(GridSoftLabels(config.grid_size, config.image_size)(joints_2d)),
        "root_poses": rng.normal(size=(n, 17, 3)).astype(np.float32) * 300,
    }
    return images, targets


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
    assert model.output["root_poses"].shape[1:] == (6, 17, 3)
    assert build_model(small("cls2d")).output["root_poses"].shape[1:] == (1, 17, 3)
    assert model.output["heatmaps_2d"].shape[1:] == (17, 8, 8)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_paper_network_shapes():
    config = ModelConfig()
    assert (config.image_size, config.variant, len(config.roots)) == (225, "full", 6)
    model = build_model(config)
    assert model.get_layer("conv1").kernel.shape == (7, 7, 3, 64)
    assert model.get_layer("conv2").kernel.shape == (5, 5, 64, 128)
    assert model.get_layer("fc1_3d").kernel.shape == (6 * 6 * 192, 2048)
    assert model.get_layer("fc1_2d").kernel.shape == (6 * 6 * 192, 2048)


@pytest.mark.parametrize("variant", ["cls2d", "full"])
def test_3d_loss_never_reaches_2d_branch(variant):
    config = small(variant)
    model = build_model(config)
    images, targets = random_batch(config)
    loss_fn = pose_losses(config)[0]["root_poses"]
    with tf.GradientTape() as tape:
        out = model(images, training=True)
        loss = loss_fn(targets["root_poses"], out["root_poses"])
    two_d = [w for layer in branch_2d_layers(model) for w in layer.trainable_weights]
    heads = [w for layer in heads_3d_layers(model) for w in layer.trainable_weights]
    assert len(two_d) == 6 and heads
    grads = tape.gradient(loss, two_d + heads)
    for w, g in zip(two_d, grads[: len(two_d)]):
        assert g is None or not np.any(g.numpy()), w.path
    for g in grads[len(two_d):]:
        assert np.any(g.numpy())
    # The fusion is real: the 2D probabilities do change the 3D output.
    assert model.get_layer("fc_probs_2d").kernel.shape[0] == 17 * 64


def test_compiled_loss_is_eq5_weighted_sum():
    config = small("full", loss_weight_2d=0.3, loss_weight_3d=2.0)
    model = build_model(config)
    loss, weights = pose_losses(config)
    model.compile(optimizer="sgd", loss=loss, loss_weights=weights)
    images, targets = random_batch(config)
    total = model.evaluate(images, targets, batch_size=4, verbose=0, return_dict=True)["loss"]
    out = model.predict(images, verbose=0)
    l2d = float(GridCrossEntropy()(targets["heatmap_logits"], out["heatmap_logits"]))
    l3d = float(RootRelativeLoss(skeleton.root_indices(config.roots))(targets["root_poses"], out["root_poses"]))
    assert total == pytest.approx(0.3 * l2d + 2.0 * l3d, rel=1e-4)


@pytest.mark.parametrize("variant", VARIANTS)
def test_fit_one_epoch_and_keras_file_round_trip(variant, tmp_path):
    config = small(variant)
    model = build_model(config)
    loss, weights = pose_losses(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, loss_weights=weights)
    images, targets = random_batch(config, n=8)
    before = model.evaluate(images, targets, verbose=0)
    history = model.fit(images, targets, batch_size=4, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.evaluate(images, targets, verbose=0) < before
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    a, b = model.predict(images, verbose=0), restored.predict(images, verbose=0)
    assert set(a) == {"heatmap_logits", "root_poses", "pose_3d", "joints_2d", "heatmaps_2d"}
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


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
    with pytest.raises(ValueError, match="Unknown preset"):
        model_preset("gpu-huge")
    with pytest.raises(ValueError, match="bogus"):
        ModelConfig.from_dict({"bogus": 1})
    config = model_preset("cpu-quick", variant="baseline")
    assert ModelConfig.from_dict(dataclasses.asdict(config)) == config
