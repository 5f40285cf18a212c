"""Render throughput: rendered + serialised images per second, 1 process and all cores, per look.

Run: .venv/bin/python bench/render_throughput.py [--count 2000] [--looks plain,full]
Prints a Markdown table row per setting (median of --repeats runs); `full` is `tfpose3d data render`'s default.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from tfpose3d.data import mocap, records, render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--looks", default="plain,full")
    args = parser.parse_args()
    poses = mocap.load_motion("bandai-namco").select("train")
    cores = os.cpu_count() or 1
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores, Python {platform.python_version()}")
    render.render_indices(poses, 0, range(2))  # compile the rasteriser once, outside the timings
    print("| look | processes | images | images/s (median) |\n|---|---|---|---|")
    for look in args.looks.split(","):
        for workers in sorted({1, cores}):
            rates = []
            for r in range(args.repeats):
                start = time.perf_counter()
                n = sum(1 for _ in render.iter_rendered(poses, args.count, seed=r, workers=workers, look=render.look_named(look), finish=records.make_example))
                rates.append(n / (time.perf_counter() - start))
            print(f"| {look} | {workers} | {args.count} | {statistics.median(rates):.0f} |")


if __name__ == "__main__":
    main()
