"""The pretrained BlazePose trunk: the shipped asset against the interpreter, and a model on it end to end."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfpose3d import ModelConfig, build_model, skeleton
from tfpose3d.blazepose import BlazePoseBackbone, build_graph, trunk_asset
from tfpose3d.cli import main
from tfpose3d.predict import Predictor

from test_model import random_batch

FROZEN = ModelConfig(variant="full", backbone="blazepose", train_backbone=False, image_size=64, grid_size=8,
                     width=0.05, dropout=0.0)


def test_trunk_gives_the_interpreters_features_and_landmarks():
    # The asset stores a coarse 16x16 image and what the LiteRT interpreter computed from it blown up to 256 px.
    reference = trunk_asset()["reference"]
    image = np.kron(reference["coarse"].astype(np.float32), np.ones((16, 16, 1), np.float32))[None]
    features = BlazePoseBackbone()(image).numpy()[0]
    assert features.shape == (8, 8, 288) and reference["features"].std() > 0.1
    np.testing.assert_allclose(features, reference["features"], atol=2e-3)
    out = BlazePoseBackbone(landmarks=True)(image)
    np.testing.assert_allclose(out["features"].numpy()[0], features, atol=1e-5)
    # Landmarks in pixels of the 256 px input (up to about 250), world landmarks in metres.
    np.testing.assert_allclose(out["landmarks"].numpy()[0], reference["landmarks"], atol=1e-2)
    np.testing.assert_allclose(out["world"].numpy()[0], reference["world"], atol=1e-3)
    # The 16 x 16 map the features are computed from comes beside them and leaves them as they were.
    fine = BlazePoseBackbone(fine=True)(image)
    assert fine["fine"].shape == (1, 16, 16, 88) and float(np.std(fine["fine"])) > 0.1
    np.testing.assert_allclose(fine["features"].numpy()[0], features, atol=1e-5)
    assert np.abs(reference["world"]).max() < 2 < np.abs(reference["landmarks"]).max()


def test_other_input_sizes_are_resized_as_the_pipeline_resizes():
    image = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    resized = tf.image.resize(image, [256, 256], method="bilinear").numpy()
    np.testing.assert_allclose(BlazePoseBackbone(96)(image).numpy(), BlazePoseBackbone()(resized).numpy(), atol=1e-4)


@pytest.mark.parametrize("train_backbone, landmarks", [(False, False), (True, False), (False, True)])
def test_the_trunk_trains_only_when_asked_and_round_trips(train_backbone, landmarks, tmp_path):
    config = ModelConfig(**{**FROZEN.to_dict(), "train_backbone": train_backbone, "landmarks": landmarks})
    model = build_model(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    trunk = [w.numpy().copy() for w in model.backbone.weights]
    trunk_trainable = {id(w) for w in model.backbone.weights} & {id(w) for w in model.trainable_weights}
    assert len(trunk_trainable) == (len(trunk) if train_backbone else 0)
    images, labels = random_batch(config, n=4)
    model.fit(images, labels, batch_size=4, epochs=2, verbose=0)
    changed = [not np.array_equal(a, w.numpy()) for a, w in zip(trunk, model.backbone.weights)]
    assert any(changed) == train_backbone

    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert restored.config == config and restored.backbone.trainable == train_backbone
    a, b = model.predict(images, verbose=0), restored.predict(images, verbose=0)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="Unknown backbone 'resnet'"):
        ModelConfig(backbone="resnet")
    spec = [{"name": "f", "class": "Lambda", "config": {}, "inputs": ["image"]}]
    with pytest.raises(ValueError, match="layer f: class 'Lambda' is not one of"):
        build_graph(keras.Input((8, 8, 3)), spec, {}, ["f"])
    with pytest.raises(FileNotFoundError, match="make_blazepose_asset"):
        trunk_asset(str(tmp_path / "missing.npz"))


def test_the_landmark_prior_starts_the_grid_at_blazepose_joints():
    # Untrained, the prior outweighs the small random logits: the 2D joints are near where BlazePose's
    # landmarks, mapped to Human3.6M's joints, put them.
    config = ModelConfig(**{**FROZEN.to_dict(), "landmarks": True, "image_size": 256, "grid_size": 32})
    model = build_model(config)
    images = np.kron(trunk_asset()["reference"]["coarse"].astype(np.float32), np.ones((16, 16, 1), np.float32))[None]
    raw = BlazePoseBackbone(landmarks=True)(images)["landmarks"].numpy().reshape(1, 39, 5)[:, :33, :2]
    expected = np.einsum("nkd,kj->njd", raw, skeleton.blazepose_weights())
    inside = np.all((expected > 16) & (expected < 240), axis=-1)[0]  # away from the grid's edge cells
    gap = np.linalg.norm(model.predict(images, verbose=0)["joints_2d"] - expected, axis=-1)[0]
    assert inside.sum() >= 5 and gap[inside].max() < 8, (inside.sum(), gap)  # a cell is 8 px
    with pytest.raises(ValueError, match="landmarks=True needs backbone='blazepose'"):
        ModelConfig(landmarks=True)


@pytest.mark.slow
@pytest.mark.parametrize("landmarks, bone_lengths, bones_from", [(False, False, "branch"), (True, False, "branch"),
                                                                 (True, True, "branch"), (True, True, "trunk"),
                                                                 (True, True, "trunk-16")])
def test_every_exported_form_reproduces_keras(landmarks, bone_lengths, bones_from, tmp_path):
    config = ModelConfig(**{**FROZEN.to_dict(), "landmarks": landmarks, "bone_lengths": bone_lengths,
                            "bones_from": bones_from})
    keras.utils.set_random_seed(0)  # the same network whichever tests ran before
    model = build_model(config)
    if bone_lengths:
        # A head at its zero start gives every bone one length; give the export a pose to refit person by person.
        head = model.get_layer("fc_out_bones")
        head.kernel.assign(np.random.default_rng(1).normal(size=head.kernel.shape).astype("float32") * 1e-3)
    model.save(tmp_path / "m.keras")
    assert main(["export", str(tmp_path / "m.keras"), "--out", str(tmp_path / "serving")]) == 0
    version = tmp_path / "serving" / "tfpose3d" / "1"
    images = np.random.default_rng(0).integers(0, 256, size=(2, 225, 225, 3), dtype=np.uint8)
    reference = Predictor(tmp_path / "m.keras")(images)
    for form in (version, version / "tfpose3d_float32.tflite"):
        out = Predictor(form)(images)
        for name in ("pose_3d", "joints_2d"):
            # float32 in another order of operations: a few parts in 10,000 of poses hundreds of mm long.
            np.testing.assert_allclose(out[name], reference[name], rtol=1e-3, atol=1e-2, err_msg=f"{form.name}: {name}")
