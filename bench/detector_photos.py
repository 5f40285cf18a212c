"""The person detector on real photographs: how many annotated people it finds, and how well its boxes fit.

An annotated person is found when a detected box overlaps the annotated box by an intersection over union of
at least 0.5 (PASCAL VOC's rule); a detected box that overlaps no annotated person by 0.5 is a false box
(unannotated people in crowds count as false here, so that figure is an upper bound).

Run: .venv/bin/python bench/detector_photos.py [--photos ../shared/data/real-photos-dev]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import defaultdict

from tfpose3d.data.images import read_rgb
from tfpose3d.detect import Detection, PersonDetector, iou
from tfpose3d.data.photos import read_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    args = parser.parse_args()
    by_image = defaultdict(list)
    for person in read_photos(args.photos):
        by_image[person["image"]].append(Detection(person["box"]))
    detector = PersonDetector()
    overlaps, false_boxes, seconds = [], 0, []
    print(f"machine: {platform.processor() or platform.machine()}; {sum(map(len, by_image.values()))} people in "
          f"{len(by_image)} photos\n")
    print("| photo | people | boxes found | best overlap per person |\n|---|---|---|---|")
    for image, people in sorted(by_image.items()):
        rgb = read_rgb(image)
        start = time.perf_counter()
        found = detector(rgb)
        seconds.append(time.perf_counter() - start)
        best = [max((iou(p, d) for d in found), default=0.0) for p in people]
        overlaps += best
        false_boxes += sum(1 for d in found if max(iou(p, d) for p in people) < 0.5)
        print(f"| {image.name} ({rgb.shape[1]}x{rgb.shape[0]}) | {len(people)} | {len(found)} | "
              f"{', '.join(f'{b:.2f}' for b in best)} |")
    hits = sum(b >= 0.5 for b in overlaps)
    print(f"\nfound {hits} of {len(overlaps)} people (IoU >= 0.5); median best IoU {statistics.median(overlaps):.2f}; "
          f"{false_boxes} false boxes; median {1000 * statistics.median(seconds):.0f} ms a photo")


if __name__ == "__main__":
    main()
