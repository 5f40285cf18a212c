"""tf.data pipelines: records or an endless render stream -> augmented (image, targets) batches."""

from __future__ import annotations

import os

import tensorflow as tf

from tfpose3d import skeleton
from tfpose3d.data import mocap, records, render
from tfpose3d.data.options import Augment, motion_split
from tfpose3d.preprocessing import resize_square

AUTOTUNE = tf.data.AUTOTUNE


# The raw labels a batch carries for training: what `Pose3DEstimator` reads.
LABELS = ("joints_2d", "joints_3d", "visibility", "intrinsics")


def sample_spec(image: tf.TensorSpec) -> dict[str, tf.TensorSpec]:
    """The structure of one sample: `image` (given) plus its labels and metadata.

    `visibility` (17,) is 1 for a joint whose 2D label can be trusted (all of
    them in rendered and Human3.6M data) and 0 for one the 2D loss should skip.
    """
    n = skeleton.NUM_JOINTS
    return {
        "image": image, "joints_3d": tf.TensorSpec([n, 3], tf.float32), "joints_2d": tf.TensorSpec([n, 2], tf.float32),
        "visibility": tf.TensorSpec([n], tf.float32), "intrinsics": tf.TensorSpec([4], tf.float32),
        "action": tf.TensorSpec([], tf.string), "subject": tf.TensorSpec([], tf.string),
    }


def parse_example(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """A record -> image (225, 225, 3) uint8 and its labels."""
    f = tf.io.parse_single_example(serialized, records.FEATURES)
    return {
        "image": tf.ensure_shape(tf.io.decode_image(f["image/encoded"], channels=3, expand_animations=False), [None, None, 3]),
        "joints_3d": tf.reshape(f["pose/joints_3d"], [skeleton.NUM_JOINTS, 3]),
        "joints_2d": tf.reshape(f["pose/joints_2d"], [skeleton.NUM_JOINTS, 2]),
        "visibility": f["pose/visibility"],
        "intrinsics": f["camera/intrinsics"],
        "action": f["pose/action"],
        "subject": f["pose/subject"],
    }


def resize_sample(sample: dict, size: int) -> dict:
    """Resize to `size` x `size`; 2D labels and intrinsics scale with the pixels.

    Plain bilinear (half-pixel centres), the same resize as the exported
    serving signature, which TFLite runs as a builtin op.
    """
    old = tf.cast(tf.shape(sample["image"])[0], tf.float32)
    k = size / old
    image = resize_square(sample["image"], size)
    return {
        **sample,
        "image": tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8),
        "joints_2d": sample["joints_2d"] * k,
        "intrinsics": sample["intrinsics"] * k,
    }


def augment_sample(sample: dict, augment: Augment, seed: tf.Tensor) -> dict:
    """Zoom, shift, flip and colour-jitter one sample; labels follow exactly.

    A pixel at u moves to s * (u - c) + c + d (c the image centre); that is a
    change of focal length and principal point, so the 3D pose is unchanged
    except by the flip, which mirrors x and swaps left and right joints.
    """
    image = tf.cast(sample["image"], tf.float32)
    size = tf.cast(tf.shape(image)[0], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 8)
    s = tf.random.stateless_uniform([], seeds[0], *augment.scale)
    d = tf.random.stateless_uniform([2], seeds[1], -augment.translate, augment.translate) * size
    flip = tf.random.stateless_uniform([], seeds[2]) < augment.flip
    c = size / 2.0

    # Output pixel index x_o (centre x_o + 0.5) samples input index x_i: invert the map above.
    sign = tf.where(flip, -1.0, 1.0)
    ax = sign / s
    bx = tf.where(flip, size, 0.0)
    # x_out = bx + sign * (s * (x_in - c) + c + dx)  (flip applied after zoom/shift)
    x0 = c - (c + d[0]) / s - sign * bx / s
    y0 = c - (c + d[1]) / s
    image = axis_aligned_resample(image, (1.0 / s, y0 + 0.5 / s - 0.5), (ax, x0 + 0.5 * ax - 0.5))

    uv = s * (sample["joints_2d"] - c) + c + d
    fx, fy, cx, cy = tf.unstack(sample["intrinsics"])
    cx, cy = s * (cx - c) + c + d[0], s * (cy - c) + c + d[1]
    fx, fy = s * fx, s * fy
    joints_3d = sample["joints_3d"]
    perm = skeleton.flip_permutation()
    uv = tf.where(flip, tf.gather(tf.stack([size - uv[:, 0], uv[:, 1]], -1), perm), uv)
    joints_3d = tf.where(flip, tf.gather(joints_3d * [-1.0, 1.0, 1.0], perm), joints_3d)
    visibility = tf.where(flip, tf.gather(sample["visibility"], perm), sample["visibility"])
    cx = tf.where(flip, size - cx, cx)

    if augment.color:
        k = augment.color
        image = tf.image.stateless_random_brightness(image, 64.0 * k, seeds[3])
        image = tf.image.stateless_random_contrast(image, 1 - k, 1 + k, seeds[4])
        image = tf.image.stateless_random_saturation(image, 1 - k, 1 + k, seeds[5])
        image = tf.image.stateless_random_hue(image / 255.0, 0.25 * k, seeds[6]) * 255.0
    if augment.texture:
        image = tf.cond(tf.random.stateless_uniform([], seeds[7]) < augment.texture,
                        lambda: random_convolution(image, seeds[7]), lambda: image)
    return {
        **sample,
        "image": tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8),
        "joints_2d": uv,
        "joints_3d": joints_3d,
        "visibility": visibility,
        "intrinsics": tf.stack([fx, fy, cx, cy]),
    }


def _reflected_neighbours(scale: tf.Tensor, offset: tf.Tensor, size: tf.Tensor):
    """For output indices 0..size-1 along one axis, the input coordinate `scale * i + offset` as
    `tf.raw_ops.ImageProjectiveTransformV3` reads it with fill_mode REFLECT: mirrored about -0.5 and
    size - 0.5 into [0, size - 1], then its two neighbours and their bilinear weights."""
    n = tf.cast(size, tf.float32)
    coord = scale * tf.range(n) + offset
    period = 2.0 * n
    # The kernel's own steps, so that the weights are its float32 values to the bit.
    low = coord < 0
    folded = tf.where(low, period * tf.floor(-coord / period) + coord, coord)
    folded = tf.where(low, tf.where(folded < -n, folded + period, -folded - 1.0), folded)
    high = coord > n - 1.0
    wrapped = folded - period * tf.floor(folded / period)
    folded = tf.where(high, tf.where(wrapped >= n, period - wrapped - 1.0, wrapped), folded)
    coord = tf.clip_by_value(folded, 0.0, n - 1.0)
    floor = tf.floor(coord)
    below = tf.cast(floor, tf.int32)
    # At the last pixel the kernel's upper neighbour lies outside and weighs 0; any index in range does.
    return below, tf.minimum(below + 1, size - 1), (floor + 1.0) - coord, coord - floor


def axis_aligned_resample(image: tf.Tensor, rows: tuple[tf.Tensor | float, tf.Tensor | float],
                          columns: tuple[tf.Tensor | float, tf.Tensor | float]) -> tf.Tensor:
    """`image` (H, W, C) float resampled bilinearly at input row `rows[0] * y + rows[1]` and column
    `columns[0] * x + columns[1]` for each output pixel (y, x), mirrored at the borders.

    Equal to `tf.raw_ops.ImageProjectiveTransformV3` (BILINEAR, REFLECT) with the transform
    [columns[0], 0, columns[1], 0, rows[0], rows[1], 0, 0], to the bit, at 1.8 times its rate on 2 cores
    (the zoom, shift and flip alone, bench/augment_speed.py): a zoom, shift and flip moves whole rows and
    columns, so two gathers do the work of a per-pixel map.

    Example:
    >>> image = tf.reshape(tf.range(12.0), (3, 4, 1))
    >>> axis_aligned_resample(image, (1.0, 0.0), (-1.0, 3.0))[..., 0].numpy().tolist()  # mirrored left-right
    [[3.0, 2.0, 1.0, 0.0], [7.0, 6.0, 5.0, 4.0], [11.0, 10.0, 9.0, 8.0]]
    """
    shape = tf.shape(image)
    x0, x1, wx0, wx1 = _reflected_neighbours(columns[0], columns[1], shape[1])
    y0, y1, wy0, wy1 = _reflected_neighbours(rows[0], rows[1], shape[0])
    # Along each row first, then between rows: the kernel's order of sums.
    along = tf.gather(image, x0, axis=1) * wx0[:, None] + tf.gather(image, x1, axis=1) * wx1[:, None]
    return tf.gather(along, y0) * wy0[:, None, None] + tf.gather(along, y1) * wy1[:, None, None]


# The largest random filter: RandConv's sizes are 1, 3, 5 and 7.
RANDOM_FILTER = 7


def random_convolution(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """`image` (H, W, 3) float 0..255 re-textured by a random k x k filter, k in {1, 3, 5, 7}, with Gaussian
    weights; the result keeps each channel's mean and spread and is blended with the original at a uniform
    random weight. The geometry is untouched, so the labels stand."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    k = 2 * tf.random.stateless_uniform([], seeds[0], 0, RANDOM_FILTER // 2 + 1, dtype=tf.int32) + 1
    inside = tf.cast(tf.abs(tf.range(RANDOM_FILTER) - RANDOM_FILTER // 2) <= k // 2, tf.float32)
    # He-style scale for k*k*3 inputs; the fixed 7x7 support is zero outside the drawn k x k.
    weights = tf.random.stateless_normal([RANDOM_FILTER, RANDOM_FILTER, 3, 3], seeds[1]) * (
        inside[:, None, None, None] * inside[None, :, None, None]) / tf.sqrt(3.0 * tf.cast(k * k, tf.float32))
    pad = RANDOM_FILTER // 2
    padded = tf.pad(image[None], [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    out = tf.nn.conv2d(padded, weights, 1, "VALID")[0]
    mean, variance = tf.nn.moments(image, [0, 1])
    out_mean, out_variance = tf.nn.moments(out, [0, 1])
    out = (out - out_mean) * tf.sqrt(variance / (out_variance + 1e-6)) + mean
    blend = tf.random.stateless_uniform([], seeds[2])
    return tf.clip_by_value(blend * image + (1.0 - blend) * out, 0.0, 255.0)


def to_model_inputs(batch: dict) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """(image float32, raw labels) for `model.fit`: the estimator builds its own targets from them."""
    return tf.cast(batch["image"], tf.float32), {k: batch[k] for k in LABELS}


def records_dataset(data_dir: str | os.PathLike, image_size: int, shuffle: bool, seed: int = 0, cache: bool = False) -> tf.data.Dataset:
    """Parsed, resized samples from a rendered dataset folder (interleaved shards)."""
    files = records.shard_files(data_dir)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed)
    # Deterministic order: every worker of a distributed run must see the same stream.
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)), num_parallel_calls=AUTOTUNE,
                       deterministic=True)
    ds = ds.map(parse_example, num_parallel_calls=AUTOTUNE)
    ds = ds.map(lambda s: resize_sample(s, image_size), num_parallel_calls=AUTOTUNE)
    return ds.cache() if cache else ds


def render_stream(poses_name: str, split: str, seed: int, image_size: int, look: str = "full") -> tf.data.Dataset:
    """An endless stream of `split` (train, val or test) rendered on the fly from a motion set, in a look of
    `render.LOOKS`."""
    poses = mocap.load_motion(poses_name).select(motion_split(split))
    chosen = render.look_named(look, split)

    def generate():
        i = 0
        while True:
            yield from render.render_indices(poses, seed, range(i, i + 64), look=chosen)
            i += 64

    # The renderer yields JPEG bytes, decoded in the pipeline like records are.
    ds = tf.data.Dataset.from_generator(generate, output_signature=sample_spec(tf.TensorSpec([], tf.string)))
    ds = ds.map(lambda s: {**s, "image": tf.io.decode_jpeg(s["image"], channels=3)}, num_parallel_calls=AUTOTUNE)
    return ds.map(lambda s: resize_sample(s, image_size), num_parallel_calls=AUTOTUNE)


def training_batches(
    samples: tf.data.Dataset,
    batch_size: int,
    augment: Augment | None = Augment(),
    seed: int = 0,
    shuffle_buffer: int = 2048,
    repeat: bool = True,
    shard: tuple[int, int] = (0, 1),
    replicas: int = 1,
    start: int = 0,
) -> tf.data.Dataset:
    """Shuffle, augment (stateless, seeded per element; None: no augmentation), batch, prefetch.

    Yields (image float32 (B, S, S, 3), labels): the raw labels `LABELS`, no
    model-specific targets.

    Args:
        batch_size: the global batch size B.
        shard: (index, count) of this input pipeline among `count` (one per
            worker). Every pipeline orders the samples the same way (same
            seed); pipeline w keeps positions [w*B/count, (w+1)*B/count) of
            each global batch, so the workers' batches together are exactly
            the batch one process would train on, augmented the same way.
        replicas: devices this pipeline feeds; it yields batches of
            B/(count*replicas), consecutive ones going to consecutive devices.
            A finite stream (`repeat` False) on several devices ends on its last
            whole step: a partial one would leave a device without samples,
            which TensorFlow cannot run a model on.
        start: global samples of the stream to pass over first, unaugmented: a resumed run goes on with the
            samples and augmentations an uninterrupted run would have had.
    """
    index, count = shard
    if batch_size % (count * replicas):
        raise ValueError(f"the global batch size {batch_size} does not divide among {count * replicas} replicas")
    ds = samples.repeat() if repeat else samples
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.enumerate().skip(start)  # the sample's position in the stream, before any worker keeps its share
    if count > 1:
        share = batch_size // count
        ds = ds.filter(lambda i, s: (i % batch_size) // share == index)
    if augment is not None:
        ds = ds.map(lambda i, s: (i, augment_sample(s, augment, tf.stack([tf.cast(seed, tf.int64), i]))),
                    num_parallel_calls=AUTOTUNE)
    ds = ds.map(lambda i, s: s)
    if not repeat and replicas > 1:
        ds = ds.batch(batch_size // count, drop_remainder=True).unbatch()
    ds = ds.batch(batch_size // (count * replicas), drop_remainder=repeat)
    ds = ds.map(to_model_inputs, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)
