import numpy as np
import pytest
import tensorflow as tf

from tfpose3d.data import camera, pipeline


def synthetic_sample(size=64, seed=0):
    """A dark image with one bright 3x3 dot at joint 13 (l_wrist), labels consistent with a camera."""
    rng = np.random.default_rng(seed)
    joints_3d = np.c_[rng.uniform(-300, 300, (17, 2)), rng.uniform(3000, 3500, 17)].astype(np.float32)
    k = np.array([150.0, 150.0, size / 2, size / 2], np.float32)
    uv = camera.project(joints_3d, k).astype(np.float32)
    image = np.zeros((size, size, 3), np.uint8)
    x, y = np.floor(uv[13]).astype(int)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return {"image": image, "joints_3d": joints_3d, "joints_2d": uv, "visibility": np.ones(17, np.float32),
            "intrinsics": k, "action": np.bytes_("a"), "subject": np.bytes_("s")}


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_augmentation_moves_labels_with_pixels(flip):
    augment = pipeline.Augment(scale=(0.8, 1.2), translate=0.1, flip=flip, color=0.0)
    sample = synthetic_sample()
    for i in range(5):
        out = pipeline.augment_sample({k: tf.constant(v) for k, v in sample.items()}, augment, tf.constant([1, i], tf.int64))
        out = {k: v.numpy() for k, v in out.items()}
        # Geometry stays a camera: projecting the 3D pose gives the 2D labels.
        np.testing.assert_allclose(camera.project(out["joints_3d"], out["intrinsics"]), out["joints_2d"], atol=1e-3)
        # The dot (joint 13 before the flip, 16 = r_wrist after it) sits where the label says.
        joint = 16 if flip else 13
        ys, xs = np.nonzero(out["image"][..., 0] > 100)
        assert np.hypot(xs.mean() + 0.5 - out["joints_2d"][joint, 0], ys.mean() + 0.5 - out["joints_2d"][joint, 1]) < 1.0
        if flip:
            np.testing.assert_allclose(out["joints_3d"][16], sample["joints_3d"][13] * [-1, 1, 1])


@pytest.mark.parametrize("size", [(225, 225), (7, 12), (1, 5)])
def test_axis_aligned_resample_equals_the_projective_transform_kernel(size):
    # TensorFlow's own per-pixel kernel (bilinear, mirrored borders) is the reference, to the bit: zooms in and
    # out, flips, and shifts that reach several image widths outside, where the mirror folds more than once.
    rng = np.random.default_rng(3)
    image = tf.constant(rng.uniform(0, 255, (*size, 3)).astype(np.float32))
    for _ in range(40):
        rows = np.float32([rng.uniform(0.3, 3.0), rng.uniform(-3, 3) * size[0]])
        columns = np.float32([rng.uniform(0.3, 3.0) * rng.choice([-1, 1]), rng.uniform(-3, 3) * size[1]])
        transform = tf.constant([[columns[0], 0, columns[1], 0, rows[0], rows[1], 0, 0]], tf.float32)
        expected = tf.raw_ops.ImageProjectiveTransformV3(images=image[None], transforms=transform, output_shape=size,
                                                         interpolation="BILINEAR", fill_mode="REFLECT", fill_value=0.0)
        out = pipeline.axis_aligned_resample(image, tuple(tf.constant(rows)), tuple(tf.constant(columns)))
        np.testing.assert_array_equal(out.numpy(), expected[0].numpy())


def test_resize_scales_labels():
    sample = {k: tf.constant(v) for k, v in synthetic_sample(size=64).items()}
    out = pipeline.resize_sample(sample, 32)
    np.testing.assert_allclose(out["joints_2d"].numpy(), sample["joints_2d"].numpy() / 2)
    np.testing.assert_allclose(camera.project(out["joints_3d"].numpy(), out["intrinsics"].numpy()), out["joints_2d"].numpy(), atol=1e-3)


def test_training_batches_carry_the_raw_labels():
    sample = synthetic_sample()
    sample["visibility"][[3, 7]] = 0.0
    ds = tf.data.Dataset.from_tensors(sample).repeat(6)
    images, labels = next(iter(pipeline.training_batches(ds, batch_size=4, augment=None, shuffle_buffer=0)))
    assert images.shape == (4, 64, 64, 3) and images.dtype == tf.float32
    np.testing.assert_array_equal(images.numpy()[2], sample["image"].astype(np.float32))
    # Exactly the labels the sample holds, nothing model-specific.
    assert set(labels) == {"joints_2d", "joints_3d", "visibility", "intrinsics"}
    for key in labels:
        np.testing.assert_array_equal(labels[key].numpy(), np.repeat(sample[key][None], 4, 0))


def test_flip_swaps_visibility_with_the_joints():
    sample = synthetic_sample()
    sample["visibility"][13] = 0.0  # l_wrist hidden
    augment = pipeline.Augment(scale=(1.0, 1.0), translate=0.0, flip=1.0, color=0.0)
    out = pipeline.augment_sample({k: tf.constant(v) for k, v in sample.items()}, augment, tf.constant([0, 0], tf.int64))
    expected = np.ones(17, np.float32)
    expected[16] = 0.0  # it is the right wrist once mirrored
    np.testing.assert_array_equal(out["visibility"].numpy(), expected)


def test_random_convolution_changes_texture_not_colour_balance_or_labels():
    rng = np.random.default_rng(0)
    noise = rng.uniform(96, 160, (32, 32, 3)).astype(np.float32)
    outs = [pipeline.random_convolution(tf.constant(noise), tf.constant([0, i], tf.int64)).numpy() for i in range(8)]
    for out in outs:
        assert out.shape == noise.shape and out.min() >= 0 and out.max() <= 255
        # The filtered image is given the original's channel means, so blending keeps them.
        np.testing.assert_allclose(out.mean((0, 1)), noise.mean((0, 1)), atol=0.5)
    assert max(np.abs(out - noise).mean() for out in outs) > 5  # it does re-texture
    np.testing.assert_array_equal(outs[3], pipeline.random_convolution(tf.constant(noise), tf.constant([0, 3], tf.int64)))
    # A flat image has no texture to change.
    flat = np.full((16, 16, 3), [40.0, 120.0, 200.0], np.float32)
    np.testing.assert_allclose(pipeline.random_convolution(tf.constant(flat), tf.constant([1, 2], tf.int64)), flat, atol=1e-3)
    # Through augment_sample with nothing else on, the labels are the sample's own.
    sample = synthetic_sample()
    augment = pipeline.Augment(scale=(1.0, 1.0), translate=0.0, flip=0.0, color=0.0, texture=1.0)
    out = pipeline.augment_sample({k: tf.constant(v) for k, v in sample.items()}, augment, tf.constant([0, 1], tf.int64))
    for key in ("joints_2d", "joints_3d", "visibility", "intrinsics"):
        np.testing.assert_allclose(out[key].numpy(), sample[key], atol=1e-4)
    assert not np.array_equal(out["image"].numpy(), sample["image"])


def test_augment_settings_are_checked():
    with pytest.raises(ValueError, match="flip"):
        pipeline.Augment(flip=1.5)
    with pytest.raises(ValueError, match="scale"):
        pipeline.Augment(scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="texture"):
        pipeline.Augment(texture=1.5)


def test_render_stream_is_endless_and_labelled():
    ds = pipeline.render_stream("bandai-namco", "test", seed=0, image_size=96)
    samples = list(ds.take(70).as_numpy_iterator())
    assert len(samples) == 70 and samples[0]["image"].shape == (96, 96, 3)
    uv = camera.project(samples[69]["joints_3d"], samples[69]["intrinsics"])
    np.testing.assert_allclose(uv, samples[69]["joints_2d"], atol=0.05)
    val = next(pipeline.render_stream("bandai-namco", "val", seed=1, image_size=96).as_numpy_iterator())
    assert val["image"].shape == (96, 96, 3)  # val draws from the held-out clips, as test does


def test_worker_shards_rebuild_the_single_process_batch():
    """Two workers' batches, side by side, are exactly one process's batch: disjoint halves, same augmentation."""
    rng = np.random.default_rng(0)
    samples = [synthetic_sample(seed=i) for i in range(24)]
    for i, s in enumerate(samples):
        s["image"] = rng.integers(0, 256, s["image"].shape, dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices({k: np.stack([s[k] for s in samples]) for k in samples[0]})
    augment = pipeline.Augment(color=0.1)

    def batches(**kw):
        it = pipeline.training_batches(ds, batch_size=8, augment=augment, seed=3, shuffle_buffer=16, **kw)
        return list(it.take(4))

    whole = batches()
    halves = [batches(shard=(w, 2)) for w in range(2)]
    for k in range(4):
        images = np.concatenate([halves[0][k][0].numpy(), halves[1][k][0].numpy()])
        np.testing.assert_array_equal(images, whole[k][0].numpy())
        joints = np.concatenate([halves[0][k][1]["joints_3d"].numpy(), halves[1][k][1]["joints_3d"].numpy()])
        np.testing.assert_array_equal(joints, whole[k][1]["joints_3d"].numpy())
    with pytest.raises(ValueError, match="does not divide among 3 replicas"):
        pipeline.training_batches(ds, batch_size=8, shard=(0, 3))


def test_a_finite_stream_on_several_devices_ends_on_a_whole_step():
    """12 samples, global batch 8: one process validates on batches of 8 and 4; two devices on one whole step
    (two batches of 4), since the last step would leave a device with nothing."""
    samples = [synthetic_sample(seed=i) for i in range(12)]
    ds = tf.data.Dataset.from_tensor_slices({k: np.stack([s[k] for s in samples]) for k in samples[0]})

    def sizes(**kw):
        batches = pipeline.training_batches(ds, 8, augment=None, shuffle_buffer=0, repeat=False, **kw)
        return [int(images.shape[0]) for images, _ in batches]

    assert sizes() == [8, 4]
    assert sizes(replicas=2) == [4, 4]
