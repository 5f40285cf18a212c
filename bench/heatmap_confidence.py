"""How sure the 2D heatmaps are on real photographs and on held-out renders: mean peak probability and entropy.

Run: .venv/bin/python bench/heatmap_confidence.py MODEL --photos ../shared/data/real-photos-dev --data DATA [--renders 200]
"""

from __future__ import annotations

import argparse

import numpy as np

from tfpose3d.data.images import read_rgb
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import crop_person, read_photos
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
    crops = np.stack([crop_person(read_rgb(p["image"]), p["joints_2d"], 225)[0] for p in read_photos(args.photos)])
    renders = np.stack([s["image"] for s in open_source(args.data).samples("test", 225).take(args.renders).as_numpy_iterator()])
    photo = predictor(crops)["heatmaps_2d"]
    print("| images | mean peak probability | mean entropy (nats) |\n|---|---|---|")
    print("| real photos | %.2f | %.2f |" % confidence(photo))
    print("| held-out renders | %.2f | %.2f |" % confidence(predictor(renders.astype(np.uint8))["heatmaps_2d"]))
    print(f"uniform entropy: {np.log(photo.shape[-1] * photo.shape[-2]):.2f}")


if __name__ == "__main__":
    main()
