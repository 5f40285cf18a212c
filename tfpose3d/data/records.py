"""Rendered samples as sharded TFRecords of tf.train.Example, plus a dataset.json manifest."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfpose3d import skeleton
from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.data import mocap, render
from tfpose3d.data.options import motion_split
from tfpose3d.paths import staging_folder, writable
from tfpose3d.terminal import tensorflow_words
from tfpose3d.version import __version__

MANIFEST = "dataset.json"
SHARD_SIZE = 1000


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))


def make_example(sample: dict) -> bytes:
    """One serialised tf.train.Example in the tfpose3d record format; `sample["image"]` is encoded image bytes (JPEG).

    Serialised deterministically: protobuf writes a map (the feature dict) in
    hash order otherwise, so equal samples could differ in bytes between processes.
    """
    feature = {
        "image/encoded": _bytes([sample["image"]]),
        "pose/joints_3d": _floats(sample["joints_3d"]),
        "pose/joints_2d": _floats(sample["joints_2d"]),
        "pose/visibility": _floats(sample["visibility"]),
        "camera/intrinsics": _floats(sample["intrinsics"]),
        "pose/action": _bytes([sample["action"].encode()]),
        "pose/subject": _bytes([sample["subject"].encode()]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "pose/joints_3d": tf.io.FixedLenFeature([skeleton.NUM_JOINTS * 3], tf.float32),
    "pose/joints_2d": tf.io.FixedLenFeature([skeleton.NUM_JOINTS * 2], tf.float32),
    # Records written before visibility existed have every joint visible.
    "pose/visibility": tf.io.FixedLenFeature([skeleton.NUM_JOINTS], tf.float32, [1.0] * skeleton.NUM_JOINTS),
    "camera/intrinsics": tf.io.FixedLenFeature([4], tf.float32),
    "pose/action": tf.io.FixedLenFeature([], tf.string),
    "pose/subject": tf.io.FixedLenFeature([], tf.string),
}


def write_rendered(
    poses_name: str,
    out_dir: str | os.PathLike,
    count: int,
    seed: int,
    split: str = "train",
    workers: int | None = None,
    progress: bool = True,
    look: str = "full",
) -> dict:
    """Render `count` samples of `split` into sharded TFRecords in `out_dir` and write the manifest.

    `look` names a row of `render.LOOKS`: what varies beyond body and pose.

    Shards are written to a temporary folder beside `out_dir` and moved in at
    the end, so an interrupted run leaves no partial dataset.
    """
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    render.check_split(split)
    chosen = render.look_named(look, split)
    out_dir = writable(out_dir, "--out")
    if (out_dir / MANIFEST).exists():
        raise FileExistsError(f"{out_dir} already holds a dataset; choose another --out")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    poses = mocap.load_motion(poses_name).select(motion_split(split))
    if len(poses) == 0:
        raise ValueError(f"motion set {poses_name!r} has no {split} frames")
    workers = workers or os.cpu_count() or 1
    num_shards = math.ceil(count / SHARD_SIZE)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_folder(out_dir.parent, f".{out_dir.name}-")
    try:
        stream = render.iter_rendered(poses, count, seed, workers, chosen, finish=make_example)
        shards = []
        for k in range(num_shards):
            name = f"{split}-{k:05d}-of-{num_shards:05d}.tfrecord"
            with tf.io.TFRecordWriter(str(tmp / name)) as writer:
                for _ in range(min(SHARD_SIZE, count - k * SHARD_SIZE)):
                    writer.write(next(stream))
            shards.append(name)
            if progress:
                # A terminal gets one updating line; a log file gets a line per shard.
                end = "" if sys.stdout.isatty() else "\n"
                print(f"\rrendered {min((k + 1) * SHARD_SIZE, count)}/{count}", end=end, flush=True)
        if progress and sys.stdout.isatty():
            print()
        manifest = {
            "count": count, "seed": seed, "split": split, "image_size": IMAGE_SIZE, "shards": shards,
            "poses": poses_name, "renderer": render.VERSION, "look": look, "source": poses.source, "joint_names": list(skeleton.JOINT_NAMES),
            "frames_in_split": len(poses), "tfpose3d_version": __version__,
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
    """A dataset folder's manifest, with errors that name a missing or corrupt one."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{data_dir}: no {MANIFEST}; render one with `tfpose3d data render`")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: corrupt manifest ({err})") from None
    if (not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list)
            or not all(isinstance(name, str) for name in manifest["shards"])
            or not isinstance(manifest.get("count"), int) or manifest["count"] < 0):
        raise ValueError(f"{path}: not a tfpose3d dataset manifest (it needs a 'shards' list of file names and a "
                         "'count'); render one with `tfpose3d data render`")
    return manifest


def check_example(path: str, serialized: bytes) -> None:
    """Raise an error naming `path` when a record is not a tf.train.Example of this format (another tool's)."""
    try:
        features = tf.train.Example.FromString(serialized).features.feature
    except Exception:  # protobuf's DecodeError, whose module differs between protobuf versions
        raise ValueError(f"{path}: its records are not tf.train.Example protos; not a tfpose3d dataset") from None
    for key, spec in FEATURES.items():
        if key not in features:
            if spec.default_value is None:
                raise ValueError(f"{path}: its records lack the feature {key!r}; written by another tool? "
                                 "Render a dataset with `tfpose3d data render`")
            continue
        kind = features[key].WhichOneof("kind")
        values = getattr(features[key], kind).value if kind else []
        expected = spec.shape[0] if spec.shape else 1
        if (kind == "float_list") != (spec.dtype == tf.float32) or len(values) != expected:
            raise ValueError(f"{path}: feature {key!r} holds {len(values)} {kind or 'values'}, expected {expected} "
                             f"{'floats' if spec.dtype == tf.float32 else 'byte strings'}; not a tfpose3d dataset")


def shard_files(data_dir: str | os.PathLike) -> list[str]:
    """The dataset's shard paths, with an error naming any that the manifest lists but the folder lacks."""
    files = [str(Path(data_dir) / name) for name in read_manifest(data_dir)["shards"]]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"{data_dir}: shards listed in the manifest are missing: {missing}")
    return files


def verify(data_dir: str | os.PathLike) -> None:
    """Read every record once (checksums included): a truncated or corrupt shard is named before training."""
    manifest = read_manifest(data_dir)
    total = 0
    for path in shard_files(data_dir):
        try:
            for first in tf.data.TFRecordDataset(path).take(1):
                check_example(path, first.numpy())
            total += int(tf.data.TFRecordDataset(path).reduce(np.int64(0), lambda n, _: n + 1))
        except tf.errors.DataLossError as err:
            # TensorFlow wraps the reader's words in its function's name and op: keep the words.
            reason = tensorflow_words(err.message).replace("'", "")
            raise ValueError(f"{path}: truncated or corrupt TFRecord shard ({reason}); render the dataset again") from None
    if total != manifest["count"]:
        raise ValueError(f"{data_dir}: {total} records in the shards but the manifest says {manifest['count']}")
