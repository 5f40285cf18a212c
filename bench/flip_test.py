"""Test-time flip measured: its gain in accuracy on held-out renders and on real photographs, and its cost.

Run: .venv/bin/python bench/flip_test.py --run RUN [--data DATA] [--photos ../shared/data/real-photos-dev]
     [--exported serving_models/tfpose3d/1]
Accuracy comes from the run's Keras model, plain and through `flip_test_model`, on the same test renders and
photo crops. Cost is the median latency of one 225x225 image through the exported SavedModel signatures
(serving_default, serving_flip) and the float32 TFLite file, plain and flipped.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tfpose3d import contract
from tfpose3d.data.sources import open_source
from tfpose3d.estimator import load_model
from tfpose3d.data.photos import training_mean_2d
from tfpose3d.evaluate import evaluate_photos, predict_dataset, run_source
from tfpose3d.metrics import tables
from tfpose3d.predict import Predictor


def latency_ms(predictor: Predictor, repeats: int = 50) -> float:
    image = np.random.default_rng(0).integers(0, 256, (1, contract.IMAGE_SIZE, contract.IMAGE_SIZE, 3), dtype=np.uint8)
    predictor(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor(image)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True)
    parser.add_argument("--data", default=None)
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--exported", default=None, help="the run's export version folder (for the cost rows)")
    args = parser.parse_args()
    source = open_source(args.data) if args.data else run_source(args.run)
    model = load_model(args.run)
    mean_2d = training_mean_2d(source, contract.IMAGE_SIZE)
    print(f"machine: {platform.processor() or platform.machine()}; run {args.run}; data {source.spec}\n")
    print("| test-time flip | MPJPE mm | P-MPJPE mm | PCK3D@150 | bone error mm | photo 2D error / mean-2D's | photo PCK@10% |\n"
          "|---|---|---|---|---|---|---|")
    for flip in (False, True):
        summary = tables(predict_dataset(model, source, flip=flip), model.config.image_size)["summary"].iloc[0]
        with tempfile.TemporaryDirectory() as out:
            photos = evaluate_photos(args.run, args.photos, mean_2d, out, flip=flip)
        row = photos.iloc[0]
        print(f"| {'on' if flip else 'off'} | {summary['MPJPE (mm)']:.1f} | {summary['P-MPJPE (mm)']:.1f} | "
              f"{summary['PCK3D@150mm']:.3f} | {summary['bone error (mm)']:.1f} | {row['vs mean 2D']:.3f} | {row['PCK@0.1']:.3f} |")
    if args.exported:
        print("\n| form | plain ms/image | flip ms/image |\n|---|---|---|")
        for path in (Path(args.exported), Path(args.exported) / "tfpose3d_float32.tflite"):
            plain, flipped = (latency_ms(Predictor(path, threads=2 if path.suffix else None, flip=f)) for f in (False, True))
            print(f"| {path.name if path.suffix else 'SavedModel'} | {plain:.1f} | {flipped:.1f} |")


if __name__ == "__main__":
    main()
