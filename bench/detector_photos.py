"""Person detectors on the real dev photographs' whole images: people found, false boxes, time a photo.

A person is found when one box (a detector's crop square) holds at least 80% of their annotated joints and
puts the torso (the detector's hips and shoulders keypoints; a HOG box's centre) within a fifth of the
person's height of the annotated one, each box counting for one person at most
(`tfpose3d.data.photos.found_people`); a box that finds nobody is a false box. The table also counts the
people found by the first condition alone, the looser count where a large box around a neighbour counts.

The photos hold people nobody annotated (the crowded frame dozens of spectators), so a box on one of them
is a false box in the plain count, which is an upper bound. `dev_photos_unannotated.json` (beside this
script) marks them by hand, one box a person or one a crowd; a false box whose torso lies inside a mark, and
not on an annotated person (within a fifth of their height, a second box on them), is counted as a box on
an unannotated person, and "false boxes on nothing" are the rest: a lower bound, since the crowd marks are
coarse. A last column counts the boxes each detector puts on the 128 background photographs the package
ships for its renders (`tfpose3d.data.scenes`: streets, rooms, landscapes, animals; a few hold small
people far off). Detectors:

- OpenCV's HOG pedestrian detector (Dalal & Triggs 2005), its box framed as a given box is;
- BlazePose's person detector on the whole image alone, as MediaPipe runs it, and with levels of tiles;
- the part network alone (`tfpose3d.parts`: OpenPose's part heatmaps and affinity fields, its people joined
  from their parts), and BlazePose's detector on the whole image, its people vetted by the part network
  (at least `MIN_PARTS` parts peaking in their body circle), with the part network's people where
  BlazePose found nobody, and in a photo where 8 or more people are found (`detect.CROWD`), the part
  network's people with the photo seen larger too (`detect.CROWD_SIDE`) (`tfpose3d.detect.PersonDetector`,
  the package's default); with --crowds, the same from other counts of people, or (0) without that pass;
- with --turns, the package's default and the part network on the photo turned by quarter turns, its
  people turned back and added where no one was found: people lying or upside down reach it upright;
- with --sides, the package's default and the part network's people with the photo seen at other shorter
  sides; with --floors, the same with the part network's people joined from lower heatmap peaks or fewer
  parts (faint or partly hidden people; the network runs a second time for them); with --search,
  BlazePose's detector and the part network's maps averaged over OpenPose's scale search (0.5 to 2 times
  its own side, in place of its own side alone), as the OpenPose authors' original demo runs it: small
  people in a crowd are seen larger;
- BlazePose's detector at score 0.6 beside the part network, against the package's 0.5;
- with --vetted-tiles, the package's default with BlazePose's detector also at those levels of tiles (its
  people vetted by the part network's parts alike);
- with --around, the package's default with BlazePose's detector also on a square around each person found,
  that many body circles wide (`PersonDetector(around=...)`, its people vetted alike): a closer look at a
  partner or a neighbour;
- with --vetting, only this: how many parts peak in the body circle of each of BlazePose's detections
  (whole image, score 0.5), on the dev photos and on the background photographs (the vetting keeps
  `MIN_PARTS` or more);
- with --landmarks, each of these but HOG again, keeping only the boxes where BlazePose's landmark model
  (MediaPipe's .tflite, through LiteRT) gives a pose presence of at least --presence, as MediaPipe's own
  pipeline drops a crop without a person;
- with --model, the people the package's pipeline returns (`Predictor.predict_image`): each person's final
  crop and the torso of their pose, once with every detection kept and once as the package returns them,
  a body reached by two detections kept once (`tfpose3d.predict.distinct`), and with --vetted-tiles the
  same for the detector at its finest level. Its times include the poses.

Run: .venv/bin/python bench/detector_photos.py [--photos ../shared/data/real-photos-dev] [--tiles 1 2]
         [--scores 0.6 0.5] [--turns 1 2 3] [--sides 552 656 736] [--search]
         [--floors 0.05,4 0.1,3] [--vetted-tiles 2 4] [--around 1 2] [--crowds 0 5] [--vetting]
         [--landmarks /tmp/mp/pose_landmark_full.tflite]
         [--model serving_models/tfpose3d/3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd

from tfpose3d.data import scenes
from tfpose3d.data.camera import Region
from tfpose3d.data.images import crop_region, read_rgb
from tfpose3d import skeleton
from tfpose3d.data.photos import found_people, read_photos
from tfpose3d.detect import CROWD, CROWD_SIDE, Detection, PersonDetector, add_new, crop_margin, from_maps, parts_within
from tfpose3d.parts import MIN_PARTS, PEAK_FLOOR, SHORT_SIDE, PartNetwork, peaks_in_image
from tfpose3d.predict import Person, Predictor
from provenance import provenance  # a script beside this one


# Dalal & Triggs' 64x128 window holds the person with about 16 px of margin on every side: the person's own
# box is the middle half of the window's width and three quarters of its height.
WINDOW_TO_PERSON = (0.5, 0.75)


def hog(long_side: int = 1000) -> Callable[[np.ndarray], list[Detection]]:
    """OpenCV's HOG pedestrian detector as a detector of square boxes (`crop_margin()` times each person's
    box); the image is scaled so its longer side is about `long_side` pixels (small images up to twice)."""
    descriptor = cv2.HOGDescriptor()
    descriptor.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(image: np.ndarray) -> list[Detection]:
        scale = min(2.0, long_side / max(image.shape[:2]))
        small = cv2.resize(np.ascontiguousarray(image[..., ::-1]), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        windows, scores = descriptor.detectMultiScale(small, winStride=(8, 8), padding=(16, 16), scale=1.05)
        if len(windows) == 0:
            return []
        windows = np.asarray(windows, np.float64) / scale
        size = windows[:, 2:] * WINDOW_TO_PERSON
        boxes = np.concatenate([windows[:, :2] + (windows[:, 2:] - size) / 2, size], 1)
        keep = np.ravel(cv2.dnn.NMSBoxes(boxes.tolist(), np.ravel(scores).astype(float).tolist(), 0.3, 0.5)).astype(int)
        sides = boxes[keep, 2:].max(1) * crop_margin()
        centres = boxes[keep, :2] + boxes[keep, 2:] / 2
        return [Detection((*(c - side / 2), side, side)) for c, side in zip(centres, sides)]

    return detect


def added(detector: PersonDetector, more: Callable[[np.ndarray], list[Detection]]) -> Callable[[np.ndarray], list[Detection]]:
    """The package's detector, then `more`'s people, each added where no one was found yet (`same_person`)."""

    return lambda image: add_new(detector(image), more(image))


def turned(detector: PersonDetector, quarters: int) -> Callable[[np.ndarray], list[Detection]]:
    """The package's detector, then the part network on the image turned `quarters` times a quarter turn
    anticlockwise, its people turned back and added where no one was found: people lying (one or three
    turns) or upside down (two) reach it upright."""

    def turned_people(image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        out = []
        for person in detector.parts_people(np.ascontiguousarray(np.rot90(image, quarters))):
            points = person.keypoints
            for k in range(quarters):
                # Undo one anticlockwise quarter turn of the image as it was after `quarters - 1 - k` of them.
                side = width if (quarters - 1 - k) % 2 == 0 else height
                points = np.stack([side - points[:, 1], points[:, 0]], 1)
            out.append(Detection.from_keypoints(points, person.score))
        return out

    return added(detector, turned_people)


def larger(short_side: int = SHORT_SIDE, threshold: float = PEAK_FLOOR,
           min_parts: int = MIN_PARTS) -> Callable[[np.ndarray], list[Detection]]:
    """The part network's people with the photo seen at `short_side`, parts from heatmap peaks of `threshold`
    and people of `min_parts` parts, on a network of its own (LiteRT reallocates its tensors on every change
    of input size)."""
    network = PartNetwork(threads=1)
    return lambda image: from_maps(*network(image, short_side), threshold, min_parts)


def scale_search(factors: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)) -> Callable[[np.ndarray], list[Detection]]:
    """The part network's people from its maps averaged over several input sizes (`factors` times its own
    shorter side, each resized to the largest's cells), as the OpenPose authors' original demo (Cao et al.
    2017) searches scales; a network for each size."""
    networks = [PartNetwork(threads=1) for _ in factors]

    def detect(image: np.ndarray) -> list[Detection]:
        seen = [network(image, int(factor * SHORT_SIDE)) for network, factor in zip(networks, factors)]
        largest, scale = max(seen, key=lambda maps_scale: maps_scale[0].size)
        return from_maps(np.mean([cv2.resize(m, largest.shape[1::-1], interpolation=cv2.INTER_CUBIC)
                                  for m, _ in seen], 0), scale)

    return detect


def blazepose(**options) -> Callable[[np.ndarray], list[Detection]]:
    """BlazePose's person detector alone (the part network off)."""
    return PersonDetector(threads=1, parts=False, **options)


class Presence:
    """BlazePose's landmark model's pose-presence score (its output `Identity_1`, a probability) for a
    detection's region, as MediaPipe's pipeline drops crops without a person."""

    def __init__(self, path: str):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=path, num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = {tuple(d["shape"]): d["index"] for d in self.interpreter.get_output_details()}[(1, 1)]

    def __call__(self, image: np.ndarray, detection: Detection) -> float:
        crop = crop_region(image, detection.region(1.0), 256).astype(np.float32) / 255
        self.interpreter.set_tensor(self.input, crop[None])
        self.interpreter.invoke()
        return float(self.interpreter.get_tensor(self.output).ravel()[0])

    def filter(self, detect: Callable[[np.ndarray], list[Detection]], floor: float) -> Callable[[np.ndarray], list[Detection]]:
        return lambda image: [d for d in detect(image) if self(image, d) >= floor]


class Returned:
    """A person the package's pipeline returns, read as the table reads a detection: the crop the pose was
    estimated in, and the torso of that pose."""

    def __init__(self, person: Person):
        self.person = person

    def region(self, margin: float) -> Region:
        # `margin` frames a detection's box; a returned person's crop is already framed.
        return self.person.region

    def torso(self) -> np.ndarray:
        return np.stack(skeleton.torso_ends(self.person.joints_2d))


def unannotated(torsos: list[np.ndarray], people: list[dict], marks: list[list[float]], near: float = 0.2) -> int:
    """How many of the boxes with `torsos` (each (2, 2): hips and shoulders) put the torso inside a mark
    (x, y, w, h) and not within `near` of an annotated person's height from that person's torso."""
    count = 0
    for torso in torsos:
        middle = np.asarray(torso).mean(0)
        on_annotated = False
        for person in people:
            joints = person["joints_2d"]
            seen = joints[np.isfinite(joints).all(1)]
            ends = np.stack(skeleton.torso_ends(joints))
            centre = np.nanmean(np.where(np.isfinite(ends), ends, (seen.min(0) + seen.max(0)) / 2), 0)
            on_annotated |= np.linalg.norm(middle - centre) <= near * np.max(seen.max(0) - seen.min(0))
        inside = any(x <= middle[0] <= x + w and y <= middle[1] <= y + h for x, y, w, h in marks)
        count += inside and not on_annotated
    return count


def vetting(sets: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """Per set of images, BlazePose's detections (whole image, MediaPipe's score 0.5) by the number of parts
    peaking in their body circle (`tfpose3d.detect.parts_within`)."""
    detector = PersonDetector(threads=1)
    rows = []
    for name, images in sets.items():
        counts = []
        for image in images:
            points = peaks_in_image(*detector.parts(image))
            counts += [parts_within(d, points) for d in detector.blazepose(image)]
        rows.append({"images": name, "BlazePose detections": len(counts),
                     f"kept (at least {MIN_PARTS} parts)": sum(c >= MIN_PARTS for c in counts),
                     "parts in their circles": " ".join(map(str, sorted(counts)))})
    return pd.DataFrame(rows)


def floor_and_parts(text: str) -> tuple[float, int]:
    """`PEAK,PARTS` of --floors, e.g. `0.05,3`."""
    try:
        peak, parts = text.split(",")
        return float(peak), int(parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected PEAK,PARTS, e.g. 0.05,3") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--tiles", type=int, nargs="+", default=[1, 2], help="tile levels to measure")
    parser.add_argument("--scores", type=float, nargs="+", default=[0.6], help="detection score thresholds")
    parser.add_argument("--landmarks", help="pose_landmark_full.tflite from MediaPipe's wheel: also measure each "
                                            "row but HOG's keeping only boxes where its pose presence >= --presence")
    parser.add_argument("--presence", type=float, default=0.5)
    parser.add_argument("--turns", type=int, nargs="*", default=[], choices=[1, 2, 3],
                        help="also the package default with the part network on the photo turned this many "
                             "quarter turns")
    parser.add_argument("--sides", type=int, nargs="*", default=[],
                        help=f"also the package default with the part network's people at these shorter sides "
                             f"(its own is {SHORT_SIDE})")
    parser.add_argument("--crowds", type=int, nargs="*", default=[], metavar="PEOPLE",
                        help=f"also the package default with its crowd pass (the part network at {CROWD_SIDE}) from "
                             f"PEOPLE people found instead of {CROWD} (0: never)")
    parser.add_argument("--floors", nargs="*", default=[], metavar="PEAK,PARTS",
                        type=floor_and_parts,
                        help="also the package default with the part network's people joined from heatmap peaks "
                             f"above PEAK with at least PARTS parts (its own: {PEAK_FLOOR:g},{MIN_PARTS})")
    parser.add_argument("--search", action="store_true",
                        help="also BlazePose with the part network's maps averaged over OpenPose's scale search")
    parser.add_argument("--vetted-tiles", type=int, nargs="*", default=[],
                        help="also the package's default with BlazePose's detector at these tile levels")
    parser.add_argument("--around", type=float, nargs="*", default=[],
                        help="also the package's default with BlazePose's detector on a square this many body "
                             "circles wide around each person found")
    parser.add_argument("--vetting", action="store_true",
                        help="only the parts in each BlazePose detection's body circle, dev and background photos")
    parser.add_argument("--model", help="also the people the package's pipeline returns with this model (any exported form)")
    parser.add_argument("--unannotated", default=Path(__file__).with_name("dev_photos_unannotated.json"),
                        help="hand-marked people the annotations leave out")
    args = parser.parse_args()
    marks = json.loads(Path(args.unannotated).read_text())["images"]
    by_image = defaultdict(list)
    for person in read_photos(args.photos):
        by_image[person["image"]].append(person)
    photos = {image: read_rgb(image) for image in sorted(by_image)}
    backgrounds = scenes.photos()
    if args.vetting:
        print(provenance(f"{len(photos)} photos, {len(backgrounds)} background photos") + "\n")
        print(vetting({"dev photos": list(photos.values()), "background photos": backgrounds}).to_markdown(index=False))
        return
    detectors = {
        "HOG (OpenCV)": hog(),
        "BlazePose as MediaPipe runs it (whole image, score 0.5)": blazepose(threshold=0.5, tiles=0),
        **{f"BlazePose, {t} tile levels, score {s:g}": blazepose(tiles=t, threshold=s)
           for t in args.tiles for s in args.scores},
        "the part network alone": PersonDetector(threads=1).parts_people,
        f"BlazePose (whole image, score 0.5) and the part network, its crowd pass from {CROWD} people "
        "(the package default)": PersonDetector(threads=1),
        f"BlazePose (whole image, score 0.6) and the part network, its crowd pass from {CROWD} people":
            PersonDetector(threshold=0.6, threads=1),
    }
    detectors |= {f"the package default, and the part network on the photo turned {90 * k} degrees":
                  turned(PersonDetector(threads=1), k) for k in args.turns}
    detectors |= {f"the package default, and the part network at shorter side {side}":
                  added(PersonDetector(threads=1), larger(side)) for side in args.sides}
    detectors |= {f"the package default, its crowd pass from {k} people" if k else
                  "the package default without its crowd pass": PersonDetector(crowd=k, threads=1) for k in args.crowds}
    detectors |= {f"the package default, and the part network's people from peaks of {floor:g} and {parts} parts":
                  added(PersonDetector(threads=1), larger(threshold=floor, min_parts=parts))
                  for floor, parts in args.floors}
    detectors |= {f"the package's default, BlazePose's detector also at {t} tile levels (vetted alike)":
                  PersonDetector(tiles=t, threads=1) for t in args.vetted_tiles}
    detectors |= {f"the package's default, BlazePose's detector also around each person found, a square {a:g} x "
                  "the body circle's width (vetted alike)": PersonDetector(around=a, threads=1) for a in args.around}
    if args.search:
        detectors["BlazePose (whole image, score 0.5) and, in place of the part network at its side, its maps "
                  "averaged over 0.5, 1, 1.5 and 2 times it"] = added(blazepose(threshold=0.5), scale_search())
    if args.landmarks:
        presence = Presence(args.landmarks)
        detectors |= {f"{name}, presence >= {args.presence:g}": presence.filter(detect, args.presence)
                      for name, detect in detectors.items() if name != "HOG (OpenCV)"}
    if args.model:
        predictor = Predictor(args.model, threads=1, detector=PersonDetector(threads=1))

        def every_detection(image: np.ndarray) -> list[Returned]:
            boxes = predictor.detect(image)  # given as boxes, none is dropped
            return [Returned(p) for p in predictor.predict_image(image, boxes)] if boxes else []

        detectors |= {"the package's pipeline, every detection kept": every_detection,
                      "the package's pipeline (a body found twice kept once)":
                          lambda image: [Returned(p) for p in predictor.predict_image(image)]}
        if args.vetted_tiles:
            tiled = Predictor(args.model, threads=1, detector=PersonDetector(tiles=max(args.vetted_tiles), threads=1))
            detectors[f"the package's pipeline with BlazePose's detector also at {max(args.vetted_tiles)} tile "
                      "levels (a body found twice kept once)"] = lambda image: [Returned(p) for p in tiled.predict_image(image)]
    rows, per_photo = [], []
    for name, detect in detectors.items():
        found = false = holding = elsewhere = 0
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
            missed = [t for k, t in enumerate(torsos) if k not in match]
            elsewhere += unannotated(missed, by_image[image], marks.get(image.name, []))
            per_photo.append({"detector": name, "photo": image.name, "people": len(match), "found": hits,
                              "false boxes": len(regions) - hits})
        rows.append({"detector": name, "people found": f"{found} of {sum(map(len, by_image.values()))}",
                     "held only (a box holds 80% of their joints)": holding,
                     "false boxes": false, "false boxes on nothing (not on a marked person)": false - elsewhere,
                     "median ms a photo (1 thread)": 1000 * statistics.median(seconds),
                     "mean ms a photo": 1000 * statistics.mean(seconds),
                     f"boxes on {len(backgrounds)} background photos": sum(len(detect(b)) for b in backgrounds)})
    print(provenance(f"{len(photos)} photos, 1 thread") + "\n")
    print(pd.DataFrame(per_photo).pivot(index="photo", columns="detector", values="found").to_markdown())
    print()
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".0f"))


if __name__ == "__main__":
    main()
