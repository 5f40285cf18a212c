"""Rendered samples as sharded TFRecords of tf.train.Example, plus a dataset.json manifest."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow as tf

import tfpose3d
from tfpose3d import skeleton
from tfpose3d.data import images, mocap, render

MANIFEST = "dataset.json"
SHARD_SIZE = 1000
_CHUNK = 100


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))


def make_example(image_png: bytes, joints_3d, joints_2d, intrinsics, action: str, subject: str) -> bytes:
    """One serialised tf.train.Example in the tfpose3d record format."""
    feature = {
        "image/encoded": _bytes([image_png]),
        "pose/joints_3d": _floats(joints_3d),
        "pose/joints_2d": _floats(joints_2d),
        "camera/intrinsics": _floats(intrinsics),
        "pose/action": _bytes([action.encode()]),
        "pose/subject": _bytes([subject.encode()]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "pose/joints_3d": tf.io.FixedLenFeature([skeleton.NUM_JOINTS * 3], tf.float32),
    "pose/joints_2d": tf.io.FixedLenFeature([skeleton.NUM_JOINTS * 2], tf.float32),
    "camera/intrinsics": tf.io.FixedLenFeature([4], tf.float32),
    "pose/action": tf.io.FixedLenFeature([], tf.string),
    "pose/subject": tf.io.FixedLenFeature([], tf.string),
}


def render_indices(poses: mocap.PoseSet, seed: int, indices: range, size: int = render.IMAGE_SIZE) -> list[tuple]:
    """Render samples `indices` of a seeded stream: sample i depends only on (seed, i)."""
    out = []
    for i in indices:
        rng = np.random.default_rng([seed, i])
        frame = int(rng.integers(len(poses)))
        sample = render.render_pose(poses.joints[frame], rng, size=size)
        clip = poses.clip[frame]
        out.append((images.encode_png(sample.image), sample.joints_3d, sample.joints_2d, sample.intrinsics,
                    str(poses.actions[clip]), str(poses.subjects[clip])))
    return out


_worker_poses: mocap.PoseSet | None = None


def _init_worker(poses: mocap.PoseSet) -> None:
    global _worker_poses
    _worker_poses = poses


def _render_chunk(args: tuple[int, int, int]) -> list[bytes]:
    seed, start, stop = args
    return [make_example(*s) for s in render_indices(_worker_poses, seed, range(start, stop))]


def iter_rendered(poses: mocap.PoseSet, count: int, seed: int, workers: int) -> Iterator[bytes]:
    """Serialised examples 0..count-1 of the seeded stream, in order, rendered by `workers` processes."""
    chunks = [(seed, s, min(s + _CHUNK, count)) for s in range(0, count, _CHUNK)]
    if workers <= 1:
        _init_worker(poses)
        for chunk in chunks:
            yield from _render_chunk(chunk)
        return
    # fork: workers need only numpy and the pose arrays already in memory.
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (poses,)) as pool:
        for examples in pool.imap(_render_chunk, chunks):
            yield from examples


def write_rendered(
    poses_name: str,
    out_dir: str | os.PathLike,
    count: int,
    seed: int,
    split: str = "train",
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Render `count` samples of `split` into sharded TFRecords in `out_dir` and write the manifest.

    Shards are written to a temporary folder beside `out_dir` and moved in at
    the end, so an interrupted run leaves no partial dataset.
    """
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    out_dir = Path(out_dir)
    if (out_dir / MANIFEST).exists():
        raise FileExistsError(f"{out_dir} already holds a dataset; choose another --out")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    poses = mocap.load_poses(poses_name).select(split)
    if len(poses) == 0:
        raise ValueError(f"pose set {poses_name!r} has no {split} frames")
    workers = workers or os.cpu_count() or 1
    num_shards = math.ceil(count / SHARD_SIZE)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        stream = iter_rendered(poses, count, seed, workers)
        shards = []
        for k in range(num_shards):
            name = f"{split}-{k:05d}-of-{num_shards:05d}.tfrecord"
            with tf.io.TFRecordWriter(str(tmp / name)) as writer:
                for _ in range(min(SHARD_SIZE, count - k * SHARD_SIZE)):
                    writer.write(next(stream))
            shards.append(name)
            if progress:
                print(f"\rrendered {min((k + 1) * SHARD_SIZE, count)}/{count}", end="", flush=True)
        if progress:
            print()
        manifest = {
            "count": count, "seed": seed, "split": split, "image_size": render.IMAGE_SIZE, "shards": shards,
            "poses": poses_name, "source": poses.source, "joint_names": list(skeleton.JOINT_NAMES),
            "frames_in_split": len(poses), "tfpose3d_version": tfpose3d.__version__,
            "format": {k: str(v.shape) for k, v in FEATURES.items()},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above; rmdir refuses if anything appeared since
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def read_manifest(data_dir: str | os.PathLike) -> dict:
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{data_dir}: no {MANIFEST}; render one with `tfpose3d data render`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: corrupt manifest ({err})") from None
