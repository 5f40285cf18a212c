import numpy as np
import pytest
import tensorflow as tf

from tfpose3d import ModelConfig
from tfpose3d.data import pipeline, render


def synthetic_sample(size=64, seed=0):
    """A dark image with one bright 3x3 dot at joint 13 (l_wrist), labels consistent with a camera."""
    rng = np.random.default_rng(seed)
    joints_3d = np.c_[rng.uniform(-300, 300, (17, 2)), rng.uniform(3000, 3500, 17)].astype(np.float32)
    k = np.array([150.0, 150.0, size / 2, size / 2], np.float32)
    uv = render.project(joints_3d, k).astype(np.float32)
    image = np.zeros((size, size, 3), np.uint8)
    x, y = np.floor(uv[13]).astype(int)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return {"image": image, "joints_3d": joints_3d, "joints_2d": uv, "intrinsics": k,
            "action": np.bytes_("a"), "subject": np.bytes_("s")}


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_augmentation_moves_labels_with_pixels(flip):
    augment = pipeline.Augment(scale=(0.8, 1.2), translate=0.1, flip=flip, color=0.0)
    sample = synthetic_sample()
    for i in range(5):
        out = pipeline.augment_sample({k: tf.constant(v) for k, v in sample.items()}, augment, tf.constant([1, i], tf.int64))
        out = {k: v.numpy() for k, v in out.items()}
        # Geometry stays a camera: projecting the 3D pose gives the 2D labels.
        np.testing.assert_allclose(render.project(out["joints_3d"], out["intrinsics"]), out["joints_2d"], atol=1e-3)
        # The dot (joint 13 before the flip, 16 = r_wrist after it) sits where the label says.
        joint = 16 if flip else 13
        ys, xs = np.nonzero(out["image"][..., 0] > 100)
        assert np.hypot(xs.mean() + 0.5 - out["joints_2d"][joint, 0], ys.mean() + 0.5 - out["joints_2d"][joint, 1]) < 1.0
        if flip:
            np.testing.assert_allclose(out["joints_3d"][16], sample["joints_3d"][13] * [-1, 1, 1])


def test_resize_scales_labels():
    sample = {k: tf.constant(v) for k, v in synthetic_sample(size=64).items()}
    out = pipeline.resize_sample(sample, 32)
    np.testing.assert_allclose(out["joints_2d"].numpy(), sample["joints_2d"].numpy() / 2)
    np.testing.assert_allclose(render.project(out["joints_3d"].numpy(), out["intrinsics"].numpy()), out["joints_2d"].numpy(), atol=1e-3)


def test_training_batches_carry_targets():
    config = ModelConfig(image_size=64, grid_size=8)
    ds = tf.data.Dataset.from_tensors(synthetic_sample()).repeat(6)
    images, targets = next(iter(pipeline.training_batches(ds, config, batch_size=4, shuffle_buffer=0)))
    assert images.shape == (4, 64, 64, 3) and images.dtype == tf.float32
    assert targets["heatmap_logits"].shape == (4, 17, 64) and targets["root_poses"].shape == (4, 17, 3)
    np.testing.assert_array_equal(targets["heatmaps_2d"].numpy().reshape(4, 17, 64), targets["heatmap_logits"].numpy())
    sums = targets["heatmap_logits"].numpy().sum(-1)
    inside = np.all((targets["root_poses"].numpy()[..., :1] > -1e9), -1)  # all joints have 3D labels
    assert inside.all() and np.all((np.abs(sums - 1) < 1e-5) | (sums == 0))


def test_render_stream_is_endless_and_labelled():
    ds = pipeline.render_stream("bandai-namco", "test", seed=0, image_size=96)
    samples = list(ds.take(70).as_numpy_iterator())
    assert len(samples) == 70 and samples[0]["image"].shape == (96, 96, 3)
    uv = render.project(samples[69]["joints_3d"], samples[69]["intrinsics"])
    np.testing.assert_allclose(uv, samples[69]["joints_2d"], atol=0.05)
