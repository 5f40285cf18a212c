"""How sure the 2D heatmaps are on real photographs, on held-out renders and on crops with nobody in them: mean
peak probability and entropy, and the photos' 2D error read from the heatmaps' likeliest cells instead of their
soft-argmax.

Run: .venv/bin/python bench/heatmap_confidence.py MODEL --photos ../shared/data/real-photos-dev --data DATA [--renders 200]
"""

from __future__ import annotations

import argparse

import numpy as np

from tfpose3d.data.photos import PhotoSet
from tfpose3d.data.sources import open_source
from tfpose3d.predict import Predictor


def confidence(heatmaps: np.ndarray) -> tuple[float, float]:
    flat = heatmaps.reshape(*heatmaps.shape[:2], -1)
    return float(flat.max(-1).mean()), float(-(flat * np.log(flat + 1e-9)).sum(-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--photos", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()
    predictor = Predictor(args.model)
    photos = PhotoSet.load(args.photos)
    renders = np.stack([s["image"] for s in open_source(args.data).samples("test", 225).take(args.renders).as_numpy_iterator()])
    out = predictor(photos.crops)
    photo = out["heatmaps_2d"]
    print("| images | mean peak probability | mean entropy (nats) |\n|---|---|---|")
    print("| real photos | %.2f | %.2f |" % confidence(photo))
    print("| held-out renders | %.2f | %.2f |" % confidence(predictor(renders.astype(np.uint8))["heatmaps_2d"]))
    # Crops with nobody in them: where the tracker's confidence floor (`video.Tracker`) must sit above.
    nobody = np.stack([np.random.default_rng(k).integers(0, 256, (225, 225, 3), dtype=np.uint8) for k in range(8)]
                      + [np.full((225, 225, 3), v, np.uint8) for v in (40, 128, 220)])
    empty = predictor(nobody)["heatmaps_2d"]
    print("| noise and blank crops | %.2f | %.2f |" % confidence(empty))
    peaks = photo.reshape(*photo.shape[:2], -1).max(-1).mean(-1)
    print(f"per person on the photos: {np.percentile(peaks, [10, 50, 90]).round(3).tolist()} (10th, 50th, 90th percentile)")
    empty_peaks = empty.reshape(*empty.shape[:2], -1).max(-1).mean(-1)
    print(f"per crop with nobody: highest {empty_peaks.max():.3f}; people on the photos below it: "
          f"{(peaks < empty_peaks.max()).sum()} of {len(peaks)}")
    print(f"uniform entropy: {np.log(photo.shape[-1] * photo.shape[-2]):.2f}")
    # Whether the soft-argmax's average of an unsure heatmap is what goes wrong, or the heatmap itself.
    grid = photo.shape[-1]
    row, col = np.divmod(photo.reshape(*photo.shape[:2], -1).argmax(-1), grid)
    likeliest = np.stack([col + 0.5, row + 0.5], -1) / grid
    print(f"\n2D error on the photos, of the crop side: soft-argmax {photos.score(out['joints_2d'] / 225)['2D error']:.3f}, "
          f"the likeliest cell's centre {photos.score(likeliest)['2D error']:.3f}")


if __name__ == "__main__":
    main()
