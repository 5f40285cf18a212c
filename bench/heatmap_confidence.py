"""How sure the 2D heatmaps are on real photographs, on held-out renders and on crops with nobody in them: mean
peak probability and entropy, and the photos' 2D error read from the heatmaps' likeliest cells instead of their
soft-argmax.

Crops with nobody in them are where the tracker's confidence floor (`video.Tracker`) must sit above: noise and
blank crops, and the centre square of each of the 128 background photographs the package ships for its
renders (streets, rooms, landscapes, animals; a few hold small people far off), the crop a tracker is left
with when its person walks out of a scene. With --landmarks, BlazePose's own pose-presence score (MediaPipe's
landmark model through LiteRT) on the same crops, beside the heatmaps' confidence, per crop.

Run: .venv/bin/python bench/heatmap_confidence.py MODEL --photos ../shared/data/real-photos-dev --data DATA
         [--renders 200] [--floors 0.22 0.25] [--landmarks /tmp/mp/pose_landmark_full.tflite]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from tfpose3d.data import scenes
from tfpose3d.data.camera import Region
from tfpose3d.data.images import crop_region
from tfpose3d.data.photos import PhotoSet
from tfpose3d.data.sources import open_source
from tfpose3d.predict import Predictor, pose_confidence
from tfpose3d.video import Tracker

from provenance import provenance  # a script beside this one


def confidence(heatmaps: np.ndarray) -> tuple[float, float]:
    flat = heatmaps.reshape(*heatmaps.shape[:2], -1)
    return float(pose_confidence(heatmaps).mean()), float(-(flat * np.log(flat + 1e-9)).sum(-1).mean())


def centre_square(photo: np.ndarray, side: int) -> np.ndarray:
    """The largest centred square of `photo` (H, W, 3) uint8, at `side` px."""
    h, w = photo.shape[:2]
    return crop_region(photo, Region((w / 2, h / 2), float(min(h, w))), side)


def spread(values: np.ndarray) -> str:
    """The 10th, 50th and 90th percentile and the highest of `values`."""
    return " / ".join(f"{v:.3f}" for v in (*np.percentile(values, [10, 50, 90]), values.max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--photos", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--floors", type=float, nargs="*", default=[0.22, 0.25],
                        help="other floors of the heatmaps' confidence to count the crops below, beside the tracker's")
    parser.add_argument("--landmarks", help="pose_landmark_full.tflite from MediaPipe's wheel: also BlazePose's "
                                            "pose presence on each crop")
    args = parser.parse_args()
    predictor = Predictor(args.model)
    photos = PhotoSet.load(args.photos)
    renders = np.stack([s["image"] for s in open_source(args.data).samples("test", 225).take(args.renders).as_numpy_iterator()])
    out = predictor(photos.crops)
    # Crops with nobody in them: where the tracker's confidence floor (`video.Tracker`) must sit above.
    nobody = np.stack([np.random.default_rng(k).integers(0, 256, (225, 225, 3), dtype=np.uint8) for k in range(8)]
                      + [np.full((225, 225, 3), v, np.uint8) for v in (40, 128, 220)])
    people = "people on the photos (annotation crops)"
    sets = {people: photos.crops, "noise and blank crops": nobody,
            "background photographs' centre squares": np.stack([centre_square(p, 225) for p in scenes.photos()])}
    maps = {people: out["heatmaps_2d"], **{name: predictor(crops)["heatmaps_2d"] for name, crops in sets.items()
                                           if name != people}}
    photo = maps[people]
    print(provenance(f"model {args.model}; {len(photos.people)} people in {args.photos}") + "\n")
    print("| images | mean peak probability | mean entropy (nats) |\n|---|---|---|")
    print("| real photos | %.2f | %.2f |" % confidence(photo))
    print("| held-out renders | %.2f | %.2f |" % confidence(predictor(renders.astype(np.uint8))["heatmaps_2d"]))
    print("| noise and blank crops | %.2f | %.2f |" % confidence(maps["noise and blank crops"]))
    per_crop = {"heatmaps' mean peak probability": {name: pose_confidence(m) for name, m in maps.items()}}
    if args.landmarks:
        from blazepose_photos import blazepose  # a script beside this one

        per_crop["BlazePose's pose presence"] = {name: blazepose(args.landmarks, crops)[1] for name, crops in sets.items()}
    print("\nPer crop: 10th, 50th, 90th percentile and the highest\n")
    print(pd.DataFrame({score: {f"{name} ({len(sets[name])})": spread(v) for name, v in by_set.items()}
                        for score, by_set in per_crop.items()}).to_markdown())
    floors = {"heatmaps' mean peak probability": sorted({Tracker().min_confidence, *args.floors}),
              "BlazePose's pose presence": [0.5]}
    print("\nAt a floor (the tracker's default and --floors for the heatmaps, MediaPipe's for the presence): "
          "the crops below it\n")
    print(pd.DataFrame({f"{score} < {floor:g}": {name: f"{(v < floor).sum()} of {len(v)}" for name, v in by_set.items()}
                        for score, by_set in per_crop.items() for floor in floors[score]}).to_markdown())
    print(f"uniform entropy: {np.log(photo.shape[-1] * photo.shape[-2]):.2f}")
    # Whether the soft-argmax's average of an unsure heatmap is what goes wrong, or the heatmap itself.
    grid = photo.shape[-1]
    row, col = np.divmod(photo.reshape(*photo.shape[:2], -1).argmax(-1), grid)
    likeliest = np.stack([col + 0.5, row + 0.5], -1) / grid
    print(f"\n2D error on the photos, of the crop side: soft-argmax {photos.score(out['joints_2d'] / 225)['2D error']:.3f}, "
          f"the likeliest cell's centre {photos.score(likeliest)['2D error']:.3f}")


if __name__ == "__main__":
    main()
