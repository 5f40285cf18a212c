"""How small a person can be: the main job on crops shrunk to N px and enlarged again, as `predict` enlarges the
region of a small person (`--box`, or a detection) to the model's input.

Each held-out render and each dev photo's annotation crop (225 px, the person framed as the renderer frames a
body) is shrunk to a side of N px (`data.images.crop_region`, which averages blocks of pixels first, as a
camera's pixels would), then enlarged back to 225 px by the same function, and estimated. One table: per side,
the person's height in pixels (the longer side of the joints' box, median), the 2D error on the photos
against the mean 2D pose's, their PCK@0.1, and on the renders the 2D error against the mean pose's and the
MPJPE.

Run: .venv/bin/python bench/small_people.py --run runs/cpu-pretrained [--photos ../shared/data/real-photos-dev]
         [--renders 500] [--sides 225 160 112 80 56 40 28 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from provenance import provenance  # noqa: E402 (a script beside this one)

from tfpose3d import contract, metrics  # noqa: E402
from tfpose3d.data.camera import Region  # noqa: E402
from tfpose3d.data.images import crop_region  # noqa: E402
from tfpose3d.data.photos import PhotoSet, training_mean_2d  # noqa: E402
from tfpose3d.estimator import load_model  # noqa: E402
from tfpose3d.evaluate import run_source  # noqa: E402

SIZE = contract.IMAGE_SIZE


def shrunk(crops: np.ndarray, side: int) -> np.ndarray:
    """Each crop (N, 225, 225, 3) shrunk to `side` px and enlarged back to 225."""
    whole = Region((SIZE / 2, SIZE / 2), float(SIZE))
    small = Region((side / 2, side / 2), float(side))
    return np.stack([crop_region(crop_region(c, whole, side), small, SIZE) for c in crops])


def height_px(joints_2d: np.ndarray) -> np.ndarray:
    """(N,) the longer side of each person's joints' box (N, 17, 2), NaN joints left out."""
    return np.nanmax(np.nanmax(joints_2d, 1) - np.nanmin(joints_2d, 1), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a run folder (its model.keras and data)")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--renders", type=int, default=500, help="held-out renders (the first of the test split)")
    parser.add_argument("--sides", type=int, nargs="+", default=[225, 160, 112, 80, 56, 40, 28, 20])
    args = parser.parse_args()
    model, source = load_model(args.run), run_source(args.run)
    mean_2d = training_mean_2d(source, SIZE)
    photos = PhotoSet.load(args.photos)
    samples = list(source.samples("test", SIZE).take(args.renders).as_numpy_iterator())
    images = np.stack([s["image"] for s in samples])
    true_2d = np.stack([s["joints_2d"] for s in samples]) / SIZE
    true_3d = np.stack([s["joints_3d"] for s in samples])
    reference = {"photos": photos.score(mean_2d[None])["2D error"],
                 "renders": float(np.linalg.norm(mean_2d[None] - true_2d, axis=-1).mean())}
    print(provenance(f"run {args.run}; {len(photos.people)} dev people, {len(samples)} held-out renders of "
                     f"{source.spec}") + "\n")
    print("| crop side (px) | person's height (px, median: photos / renders) | photos: 2D / mean 2D | photos: PCK@0.1 "
          "| renders: 2D / mean 2D | renders: MPJPE (mm) |\n|---|---|---|---|---|---|")
    full_height = (np.median(height_px(photos.joints_2d * SIZE)), np.median(height_px(true_2d * SIZE)))
    for side in args.sides:
        scale = side / SIZE
        photo_out = model.predict(shrunk(photos.crops, side).astype(np.float32), batch_size=32, verbose=0)
        render_out = model.predict(shrunk(images, side).astype(np.float32), batch_size=32, verbose=0)
        photo_score = photos.score(photo_out["joints_2d"] / SIZE)
        render_2d = float(np.linalg.norm(render_out["joints_2d"] / SIZE - true_2d, axis=-1).mean())
        print(f"| {side} | {full_height[0] * scale:.0f} / {full_height[1] * scale:.0f} | {photo_score['2D error'] / reference['photos']:.3f} | "
              f"{photo_score['PCK@0.1']:.3f} | {render_2d / reference['renders']:.3f} | "
              f"{metrics.mpjpe(render_out['pose_3d'], true_3d):.1f} |", flush=True)


if __name__ == "__main__":
    main()
