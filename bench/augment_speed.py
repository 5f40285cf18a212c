"""Augmentation speed: training samples per second through tf.data, all cores, no model.

Run: .venv/bin/python bench/augment_speed.py --data data/bandai-namco-mesh-4-plain-20000-2000-s0 [--images 1024]
Reads `--images` training renders at 225 px into memory (as the main job's cache holds them), then times
`pipeline.training_batches` over them: without augmentation; with the zoom, shift and flip made by
TensorFlow's per-pixel kernel (`ImageProjectiveTransformV3`, what the pipeline used before) and by
`pipeline.axis_aligned_resample` (what it uses: the same pixels to the bit); and the whole augmentation of
the main job (geometry and colour). Prints the median images/s of --repeats passes per row.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from unittest import mock

import tensorflow as tf

from tfpose3d.data import pipeline
from tfpose3d.data.options import Augment
from tfpose3d.data.sources import open_source


def kernel_resample(image: tf.Tensor, rows: tuple, columns: tuple) -> tf.Tensor:
    """The same resampling by TensorFlow's projective-transform kernel, one pixel at a time."""
    transform = tf.stack([columns[0], 0.0, columns[1], 0.0, rows[0], rows[1], 0.0, 0.0])
    return tf.raw_ops.ImageProjectiveTransformV3(images=image[None], transforms=transform[None],
                                                 output_shape=tf.shape(image)[:2], interpolation="BILINEAR",
                                                 fill_mode="REFLECT", fill_value=0.0)[0]


def rate(samples: tf.data.Dataset, augment: Augment | None, batches: int, repeats: int) -> float:
    """The median images/s of `repeats` passes of `batches` training batches of 64."""
    it = iter(pipeline.training_batches(samples, 64, augment))
    next(it)  # fills the shuffle buffer and traces the map
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            next(it)
        rates.append(64 * batches / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="a rendered dataset folder")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=8, help="batches of 64 a pass")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"TensorFlow {tf.__version__}")
    samples = open_source(args.data).samples("train", 225).take(args.images).cache()
    for _ in samples:
        pass
    geometry = dataclasses.replace(Augment(), color=0.0)
    rows = [("none", None, None), ("zoom, shift, flip: per-pixel kernel", geometry, kernel_resample),
            ("zoom, shift, flip: `axis_aligned_resample`", geometry, None),
            ("the main job's (geometry and colour): per-pixel kernel", Augment(), kernel_resample),
            ("the main job's (geometry and colour): `axis_aligned_resample`", Augment(), None)]
    print("| augmentation | images/s (median) |\n|---|---|")
    for name, augment, resample in rows:
        if resample is None:
            figure = rate(samples, augment, args.batches, args.repeats)
        else:
            with mock.patch.object(pipeline, "axis_aligned_resample", resample):
                figure = rate(samples, augment, args.batches, args.repeats)
        print(f"| {name} | {figure:.0f} |")


if __name__ == "__main__":
    main()
