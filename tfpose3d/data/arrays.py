"""Rendered samples as arrays in memory: the data source where TensorFlow is not installed.

A "mocap:" source writes its renders to TFRecords for tf.data. A machine with another Keras backend (JAX on a
lent GPU, where TensorFlow cannot be installed) trains from the same seeded streams held as arrays:
`render_arrays` draws a split, `cached_arrays` keeps it on disk once and maps it into every process that
reads it, and `ArrayBatches` feeds it to `model.fit`. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import keras
import numpy as np

from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.data import images, mocap, render
from tfpose3d.data.options import motion_split, split_seed

# What `model.fit` reads beside the image; `action` is kept for the per-action tables.
LABELS = ("joints_2d", "joints_3d", "visibility")
FIELDS = ("image", *LABELS, "action")


def _decoded(sample: dict) -> dict:
    # The image goes through JPEG as the records store it, so both sources train on the same pixels.
    return {"image": images.decode(sample["image"]), "action": sample["action"],
            **{k: np.asarray(sample[k], np.float32) for k in LABELS}}


def render_arrays(motion: str, split: str, count: int, seed: int = 0, size: int = IMAGE_SIZE, look: str = "full",
                  workers: int = 1) -> dict[str, np.ndarray]:
    """Samples 0..count-1 of `split`'s stream for the data seed `seed` (the stream a "mocap:" source with that
    seed writes to its records), rendered by `workers` processes, as arrays: `image` uint8 (N, S, S, 3), the
    float32 `LABELS` and each sample's `action`.

    Example:
    >>> data = render_arrays("bandai-namco", "test", 2, size=64, look="plain")
    >>> {k: v.shape for k, v in data.items()}["image"], data["joints_3d"].shape
    ((2, 64, 64, 3), (2, 17, 3))
    """
    poses = mocap.load_motion(motion).select(motion_split(split))
    stream = render.iter_rendered(poses, count, split_seed(seed, split), workers, render.look_named(look, split),
                                  size, _decoded)
    samples = list(stream)
    return {k: np.stack([s[k] for s in samples]) for k in FIELDS}


def cached_arrays(cache: str | Path, motion: str, split: str, count: int, seed: int = 0, size: int = IMAGE_SIZE,
                  look: str = "full", workers: int = 1) -> dict[str, np.ndarray]:
    """`render_arrays`'s arrays, rendered once into a folder of `cache` and then read memory-mapped (by every
    process that asks for the same ones)."""
    # The renderer's version is part of the key: another renderer draws other images from the same seeds.
    folder = Path(cache) / f"{render.VERSION}-{motion}-{split}-{count}-s{seed}-{size}px-{look}"
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        for name, array in render_arrays(motion, split, count, seed, size, look, workers).items():
            np.save(folder / f"{name}.npy", array)
        seconds = time.perf_counter() - start
        print(f"rendered {count} {split} images at {size} px ({look} look) in {seconds:.0f} s: {count / seconds:.0f} "
              f"images/s on {workers} processes", flush=True)
        (folder / "done").touch()
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in FIELDS}


@functools.lru_cache(maxsize=8)
def seeded_pass(count: int, seed: int, number: int) -> np.ndarray:
    """The order of pass `number` over `count` samples in a stream seeded `seed` (`stream_rows`)."""
    return np.random.default_rng([seed, number]).permutation(count)


def stream_rows(count: int, seed: int, start: int, size: int) -> np.ndarray:
    """Positions `start` to `start + size - 1` of an endless stream over `count` samples: pass after pass, each
    in its own seeded order, so that every sample comes once before any comes twice.

    Example:
    >>> rows = stream_rows(5, seed=0, start=3, size=4)  # the first pass's last two, the second's first two
    >>> rows.tolist() == [*seeded_pass(5, 0, 0)[3:], *seeded_pass(5, 0, 1)[:2]]
    True
    """
    position = np.arange(start, start + size)
    passes = position // count
    return np.concatenate([seeded_pass(count, seed, int(p))[position[passes == p] % count] for p in np.unique(passes)])


class ArrayBatches(keras.utils.PyDataset):
    """`steps` batches an epoch of arrays' images and labels, for `model.fit`: pass after pass over the samples,
    each pass in its own seeded order, each epoch going on where the one before stopped.

    Args:
        data: arrays with `image` and the `LABELS` (as `render_arrays` gives).
        batch_size: samples a batch.
        steps: batches an epoch.
        seed: the orders' seed.
        workers: threads that copy batches ahead of the training step.

    Example:
    >>> data = {"image": np.arange(6)[:, None], **{k: np.arange(6)[:, None] for k in LABELS}}
    >>> batches = ArrayBatches(data, batch_size=4, steps=3, workers=1)
    >>> epoch = np.concatenate([batches[i][0].ravel() for i in range(3)])
    >>> sorted(epoch[:6]) == sorted(epoch[6:]) == list(range(6))  # two whole passes
    True
    >>> batches.on_epoch_end()
    >>> batches.rows(0).tolist() == seeded_pass(6, 0, 2)[:4].tolist()  # the third pass
    True
    """

    def __init__(self, data: dict[str, np.ndarray], batch_size: int, steps: int, seed: int = 0, workers: int = 4):
        super().__init__(workers=workers)
        self.data, self.batch_size, self.steps, self.seed = data, int(batch_size), int(steps), int(seed)
        self.samples, self.epoch = len(data["image"]), 0

    def __len__(self) -> int:
        return self.steps

    def rows(self, index: int) -> np.ndarray:
        """The samples of batch `index` of the current epoch."""
        return stream_rows(self.samples, self.seed, (self.epoch * self.steps + index) * self.batch_size, self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        rows = np.sort(self.rows(index))  # memory-mapped arrays read fastest in order; a batch's order is free
        return self.data["image"][rows], {k: self.data[k][rows] for k in LABELS}

    def on_epoch_end(self) -> None:
        # Keras calls this once the epoch's batches are all taken, so no thread still reads the old epoch.
        self.epoch += 1
