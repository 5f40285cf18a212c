"""Speed of the whole-photo pipeline on one CPU thread: person detection per photo and pose per person, the
package's (LiteRT float32 and int8) beside MediaPipe's (its detector on the whole image, pose_landmark_full).

Detection is timed on each dev photo; pose on each annotated person's crop region, the package's as
`Predictor.predict_image` runs it (two estimates: the detector's crop, then the crop framed on that pose;
without and with test-time flip, which `tfpose3d predict` uses for photos) and BlazePose's as MediaPipe runs it on a photo (one landmark call). Medians over photos and people, each
after a warm-up call, in one run.

Run: .venv/bin/python bench/pipeline_speed.py serving_models/tfpose3d/1 --landmarks /tmp/mp/pose_landmark_full.tflite
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from tfpose3d.data.images import read_rgb
from tfpose3d.data.photos import PhotoSet
from tfpose3d.detect import Detection, PersonDetector
from tfpose3d.export import FORMS
from tfpose3d.predict import Predictor, pose_region

from photo_pipeline import Landmarks  # a script beside this one
from provenance import provenance  # a script beside this one


def median_ms(calls: list[Callable[[], object]]) -> float:
    calls[0]()  # warm-up
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir", type=Path, help="the main job's export (serving_models/tfpose3d/N)")
    parser.add_argument("--landmarks", required=True, help="pose_landmark_full.tflite from MediaPipe's wheel")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    args = parser.parse_args()
    photos = PhotoSet.load(args.photos)
    images = {p["image"]: read_rgb(p["image"]) for p in photos.people}
    people = [(images[p["image"]], region) for p, region in zip(photos.people, photos.regions)]
    rows = []
    for name, detector in (("the package's (BlazePose's detector and the part network, whole image)", PersonDetector(threads=1)),
                           ("MediaPipe's (BlazePose's detector, whole image)", PersonDetector(threshold=0.5, parts=False, threads=1))):
        rows.append({"step": "find people, per photo", "pipeline": name,
                     "ms (median)": median_ms([lambda im=im: detector(im) for im in images.values()])})
    for kind, flip in (("float32", False), ("int8", False), ("float32", True), ("int8", True)):
        predictor = Predictor(FORMS[kind].path(args.export_dir, args.export_dir.parent.name), threads=1, flip=flip)

        def twice(image, region, predictor=predictor):
            box = Detection((0.0, 0.0, 1.0, 1.0))  # not read: the crops are the regions
            first = predictor.estimate(image, [box], [region])[0]
            return predictor.estimate(image, [box], [pose_region(first.joints_2d)])

        rows.append({"step": "pose, per person (two estimates)",
                     "pipeline": f"the package's, LiteRT {kind}" + (", test-time flip (`predict`'s default for photos)" if flip else ""),
                     "ms (median)": median_ms([lambda im=im, r=r: twice(im, r) for im, r in people])})
    landmarks = Landmarks(args.landmarks)
    rows.append({"step": "pose, per person (one estimate)", "pipeline": "MediaPipe's pose_landmark_full, LiteRT float32",
                 "ms (median)": median_ms([lambda im=im, r=r: landmarks(im, r) for im, r in people])})
    print(provenance(f"1 thread; {len(images)} photos, {len(people)} people") + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".1f"))


if __name__ == "__main__":
    main()
