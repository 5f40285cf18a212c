"""Render throughput: rendered + PNG-encoded images per second, 1 process and all cores.

Run: .venv/bin/python bench/render_throughput.py [--count 2000]
Prints a Markdown table row per setting (median of --repeats runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from tfpose3d.data import mocap, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    poses = mocap.load_motion("bandai-namco").select("train")
    cores = os.cpu_count() or 1
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores, Python {platform.python_version()}")
    print("| processes | images | images/s (median) |\n|---|---|---|")
    for workers in sorted({1, cores}):
        rates = []
        for r in range(args.repeats):
            start = time.perf_counter()
            n = sum(1 for _ in records.iter_rendered(poses, args.count, seed=r, workers=workers))
            rates.append(n / (time.perf_counter() - start))
        print(f"| {workers} | {args.count} | {statistics.median(rates):.0f} |")


if __name__ == "__main__":
    main()
