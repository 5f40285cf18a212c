"""Whether a training set's poses can express the people in real photographs at all, before any training.

Run: .venv/bin/python bench/pose_coverage.py --photos ../shared/data/real-photos-dev --data DATA [--data DATA ...]

For each person in the photos (cropped as `tfpose3d evaluate --photos` crops), the 2D error of the nearest
training pose: as the renderer framed it, and after its best scale and shift. A perfect model of the training
renders can do no better than the framed figure, so where it is above the goal (half the mean 2D pose's error)
the data, not the network, limits real photographs. The mean 2D pose of the same renders is the baseline.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import pandas as pd

from tfpose3d.data.photos import PhotoSet
from tfpose3d.data.sources import open_source

SIZE = 128  # training joints are read as fractions of the image side, so any size gives the same figures


def nearest(train: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Mean joint distance to the nearest of `train` (N, 17, 2), as framed and after a best scale and shift."""
    seen = np.isfinite(truth).all(1)
    a, t = train[:, seen], truth[seen]
    framed = np.linalg.norm(a - t, axis=-1).mean(1).min()
    a0, t0 = a - a.mean(1, keepdims=True), t - t.mean(0)
    scale = (a0 * t0).sum((1, 2)) / (a0 ** 2).sum((1, 2))
    fitted = np.linalg.norm(a0 * scale[:, None, None] - t0, axis=-1).mean(1).min()
    return float(framed), float(fitted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", required=True)
    parser.add_argument("--data", action="append", required=True, help="rendered data (repeat to compare sets)")
    parser.add_argument("--count", type=int, default=20000, help="training poses read from each set")
    args = parser.parse_args()
    photos = PhotoSet.load(args.photos)
    # Per-person figures are averaged over joints, as `PhotoSet.score` (and `tfpose3d evaluate --photos`) does.
    joints = np.isfinite(photos.joints_2d).all(-1).sum(1)
    rows, per_person = [], pd.DataFrame({"set": [p["set"] for p in photos.people],
                                         "image": [p["image"].name for p in photos.people]})
    for data in args.data:
        train = np.stack([s["joints_2d"] / SIZE for s in
                          open_source(data).samples("train", SIZE).take(args.count).as_numpy_iterator()])
        baseline = photos.score(train.mean(0)[None])["2D error"]
        framed, fitted = np.array([nearest(train, t) for t in photos.joints_2d]).T
        framed_mean = float(np.average(framed, weights=joints))
        rows.append({"training renders": data, "poses": len(train), "mean 2D pose": baseline,
                     "nearest pose, framed": framed_mean,
                     "nearest pose, scaled and shifted": float(np.average(fitted, weights=joints)),
                     "framed / mean 2D": framed_mean / baseline,
                     "people the nearest pose fits within 0.1": int((framed <= 0.1).sum())})
        per_person[data] = framed
    print(f"{len(photos.people)} people in {args.photos}; errors are fractions of the crop side; "
          f"{platform.processor() or platform.machine()}\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))
    print("\nThe nearest pose, framed, per person:\n")
    print(per_person.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
