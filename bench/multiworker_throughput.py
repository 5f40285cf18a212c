"""Training images/s of `tfpose3d train` in one process and in N worker processes on this machine (loopback).

Each configuration runs the real command (`--strategy multi-worker` with a TF_CONFIG per worker on
127.0.0.1 ports) on the same rendered data, global batch and preset; the figure is the global batch times
steps per epoch over the median epoch time after the first (warm-up) epoch, read from the chief's
train_summary.json. On a machine with fewer cores than workers it measures correctness and overhead, not
speed-up. With GPUs, `--mirrored` adds the same run with MirroredStrategy over all local GPUs.

    .venv/bin/python bench/multiworker_throughput.py [--workers 1 2] [--preset cpu-quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tfpose3d.data import records
from tfpose3d.distribute import free_ports


def run(workers: int, strategy: str, data: Path, out: Path, args: argparse.Namespace) -> float:
    command = [sys.executable, "-m", "tfpose3d.cli", "train", "--preset", args.preset, "--data", str(data),
               "--out", str(out), "--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps),
               "--batch-size", str(args.batch_size), "--validation-steps", "1", "--strategy", strategy]
    ports = free_ports(workers)
    procs = []
    for index in range(workers):
        env = dict(os.environ)
        if strategy == "multi-worker":
            env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                           "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate()[1] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"{strategy} x{workers} failed:\n" + "\n".join(e[-2000:] for e in errors))
    seconds = json.loads((out / "train_summary.json").read_text())["epoch_seconds"][1:]
    return args.steps * args.batch_size / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--mirrored", action="store_true", help="also MirroredStrategy over the local GPUs")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"preset {args.preset}, global batch {args.batch_size}, {args.steps} steps/epoch, median of "
          f"{args.epochs - 1} epochs after warm-up")
    print("| strategy | processes | images/s (global) |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        for split, count, seed in (("train", args.images, 0), ("test", 200, 1)):
            records.write_rendered("bandai-namco", data / split, count, seed, split, progress=False)
        for workers in args.workers:
            strategy = "default" if workers == 1 else "multi-worker"
            rate = run(workers, strategy, data, Path(tmp) / f"run-{workers}", args)
            print(f"| {strategy} | {workers} | {rate:.0f} |", flush=True)
        if args.mirrored:
            print(f"| mirrored | 1 | {run(1, 'mirrored', data, Path(tmp) / 'run-mirrored', args):.0f} |", flush=True)


if __name__ == "__main__":
    main()
