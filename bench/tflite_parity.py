"""Agreement of each exported form with the Keras model on rendered test images.

Run: .venv/bin/python bench/tflite_parity.py RUN EXPORT_VERSION_DIR [--count 500]
For each form: MPJPE against the truth, its difference from the Keras model's,
the mean distance between its poses and Keras's, and the file size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tfpose3d import metrics
from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.evaluate import run_source
from tfpose3d.export import FORMS, TFLITE_KINDS
from tfpose3d.predict import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    source = run_source(args.run)
    data = list(source.samples("test", IMAGE_SIZE).take(args.count).as_numpy_iterator())
    images = np.stack([s["image"] for s in data])
    truth = np.stack([s["joints_3d"] for s in data])

    def poses(predictor: Predictor) -> np.ndarray:
        return np.concatenate([predictor(images[i : i + 50])["pose_3d"] for i in range(0, len(images), 50)])

    keras_pose = poses(Predictor(args.run / "model.keras"))
    base = metrics.mpjpe(keras_pose, truth)
    print(f"{len(images)} rendered test images from {source.spec}")
    print("| form | size (MB) | MPJPE vs truth (mm) | difference from Keras (mm) | mean distance to Keras poses (mm) |")
    print("|---|---|---|---|---|")
    print(f"| Keras (model.keras) | {(args.run / 'model.keras').stat().st_size / 1e6:.1f} | {base:.1f} | 0 | 0 |")
    name = args.export_dir.parent.name
    for kind in TFLITE_KINDS:
        path = FORMS[kind].path(args.export_dir, name)
        pose = poses(Predictor(path, threads=2))
        error = metrics.mpjpe(pose, truth)
        gap = np.linalg.norm(pose - keras_pose, axis=-1).mean()
        print(f"| {path.name} | {path.stat().st_size / 1e6:.1f} | {error:.1f} | {error - base:+.2f} | {gap:.2f} |", flush=True)


if __name__ == "__main__":
    main()
