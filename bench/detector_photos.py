"""Person detectors on the real dev photographs' whole images: people found, false boxes, time a photo.

A person is found when one box (a detector's crop square) holds at least 80% of their annotated joints and
puts the torso (the detector's hips and shoulders keypoints; a HOG box's centre) within a fifth of the
person's height of the annotated one, each box counting for one person at most
(`tfpose3d.data.photos.found_people`); a box that finds nobody is a false box. The table also counts the
people found by the first condition alone, the looser count where a large box around a neighbour counts. The crowded frame holds many people nobody annotated, so a box on one of them counts as false here: the
false-box figure is an upper bound. Detectors:

- OpenCV's HOG pedestrian detector (Dalal & Triggs 2005) alone, its box framed as a given box is;
- BlazePose's person detector (`tfpose3d.detect.PersonDetector`) on the whole image alone, as MediaPipe runs
  it; with levels of tiles; and with tiles and the squares around HOG's people (the package's default).

Run: .venv/bin/python bench/detector_photos.py [--photos ../shared/data/real-photos-dev] [--tiles 0 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from typing import Callable

import numpy as np
import pandas as pd

from tfpose3d.data.images import read_rgb
from tfpose3d.data.photos import found_people, read_photos
from tfpose3d.detect import Detection, HogProposals, PersonDetector, crop_margin
from provenance import provenance  # a script beside this one


def blazepose(**options) -> Callable[[np.ndarray], list[Detection]]:
    detector = PersonDetector(threads=1, **options)
    return detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--tiles", type=int, nargs="+", default=[1, 2], help="tile levels to measure")
    args = parser.parse_args()
    by_image = defaultdict(list)
    for person in read_photos(args.photos):
        by_image[person["image"]].append(person)
    photos = {image: read_rgb(image) for image in sorted(by_image)}
    hog = HogProposals(crop_margin())
    detectors = {
        "HOG (OpenCV)": lambda image: [Detection((r.centre[0] - r.side / 2, r.centre[1] - r.side / 2, r.side, r.side))
                                       for r in hog(image)],
        "BlazePose as MediaPipe runs it (whole image, score 0.5)": blazepose(threshold=0.5, tiles=0, proposals=False),
        **{f"BlazePose, {t} tile levels, score 0.6": blazepose(tiles=t, proposals=False) for t in args.tiles},
        **{f"BlazePose, {t} tile levels and HOG's squares, score 0.6{' (the package default)' if t == 1 else ''}":
           blazepose(tiles=t) for t in args.tiles},
    }
    rows, per_photo = [], []
    for name, detect in detectors.items():
        found = false = holding = 0
        seconds = []
        for image, rgb in photos.items():
            start = time.perf_counter()
            regions = detect(rgb)
            seconds.append(time.perf_counter() - start)
            boxes, torsos = [d.region(1.0) for d in regions], [d.torso() for d in regions]
            match = found_people(by_image[image], boxes, torsos)
            hits = sum(m is not None for m in match)
            held = sum(m is not None for m in found_people(by_image[image], boxes, torsos, near=np.inf))
            found, false, holding = found + hits, false + len(regions) - hits, holding + held
            per_photo.append({"detector": name, "photo": image.name, "people": len(match), "found": hits,
                              "false boxes": len(regions) - hits})
        rows.append({"detector": name, "people found": f"{found} of {sum(map(len, by_image.values()))}",
                     "held only (a box holds 80% of their joints)": holding,
                     "false boxes": false, "median ms a photo (1 thread)": 1000 * statistics.median(seconds)})
    print(provenance(f"{len(photos)} photos, 1 thread") + "\n")
    print(pd.DataFrame(per_photo).pivot(index="photo", columns="detector", values="found").to_markdown())
    print()
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".0f"))


if __name__ == "__main__":
    main()
