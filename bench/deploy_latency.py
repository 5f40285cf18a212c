"""Latency and throughput of each deployed form: Keras, SavedModel, TFLite float32/float16/int8.

Run: .venv/bin/python bench/deploy_latency.py EXPORT_VERSION_DIR [--keras RUN/model.keras]
Single-image latency (median of --repeats calls) and batch-of-32 throughput; TFLite at 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tfpose3d.export import FORMS, TFLITE_KINDS
from tfpose3d.predict import Predictor


def timed(predictor: Callable[[np.ndarray], object], images: np.ndarray, repeats: int) -> float:
    """Median seconds of `repeats` calls on `images`, after one warm-up call."""
    predictor(images)  # warm-up (tracing, allocation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor(images)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix != ".tflite"]
    return sum(p.stat().st_size for p in files) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--keras", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, 225, 225, 3), dtype=np.uint8)
    batch = rng.integers(0, 256, (32, 225, 225, 3), dtype=np.uint8)
    forms = ([(args.keras, None)] if args.keras else []) + [(args.export_dir, None)]
    forms += [(FORMS[k].path(args.export_dir, args.export_dir.parent.name), t) for k in TFLITE_KINDS for t in (1, 2)]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| form | threads | size (MB) | latency, 1 image (ms, median) | throughput, batch 32 (images/s) |")
    print("|---|---|---|---|---|")
    for path, threads in forms:
        predictor = Predictor(path, threads=threads)
        latency = timed(predictor, one, args.repeats) * 1000
        rate = 32 / timed(predictor, batch, max(3, args.repeats // 5))
        name = path.name if predictor.kind == "tflite" else predictor.kind
        print(f"| {name} | {threads or 'TF default'} | {size_mb(path):.1f} | {latency:.1f} | {rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
