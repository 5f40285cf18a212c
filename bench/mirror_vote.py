"""The part network as a second opinion on left and right: does it catch the people the model reads mirrored?

The main job and BlazePose's landmarks read the same people of the dev photos mirrored (bench/photo_joints.py),
so BlazePose is no second opinion. The part network (`tfpose3d.parts`, OpenPose's, trained on COCO) labels
left and right on its own. The vote: for each person the package's pipeline returns, the part network's
person nearest to the pose (at least 6 of the 12 limb joints both define, found as pairs) is compared with
the pose as read and with its left and right swapped; when the swapped labels lie nearer by --margin (their
mean distance below margin times the as-read one), the person is swapped.

Measured where the truth is known:
- the dev photos' people the pipeline finds (`pipeline_predictions`): the 2D error against the mean 2D pose's
  on the same people, as read and with the vote, and how many people are read mirrored;
- --renders held-out renders, each in the middle of a grey canvas three times its side: of the people the
  pipeline finds there, how many are read mirrored, and how many of the vote's swaps mend a mirrored person
  and how many mirror a person read right.

Run: .venv/bin/python bench/mirror_vote.py --model serving_models/tfpose3d/1 \
         --data data/bandai-namco-mesh-4-plain-20000-2000-s0 [--photos ../shared/data/real-photos-dev] \
         [--renders 500] [--margin 0.5]
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
import pandas as pd

from tfpose3d import contract, skeleton
from tfpose3d.data.camera import Region
from tfpose3d.data.photos import PhotoSet, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.detect import crop_margin
from tfpose3d.evaluate import pipeline_predictions
from tfpose3d.parts import PARTS, PartNetwork, people_in_image
from tfpose3d.predict import Person, Predictor

from photo_joints import unmirrored  # a script beside this one
from provenance import provenance  # a script beside this one

LIMBS = ("r_shoulder", "l_shoulder", "r_elbow", "l_elbow", "r_wrist", "l_wrist", "r_hip", "l_hip", "r_knee",
         "l_knee", "r_ankle", "l_ankle")
OURS = [skeleton.JOINT_NAMES.index(name) for name in LIMBS]
THEIRS = [PARTS.index(name) for name in LIMBS]
THEIRS_SWAPPED = [PARTS.index(LIMBS[k ^ 1]) for k in range(len(LIMBS))]  # the list holds (right, left) pairs


class Vote:
    """Whether the part network's people say a pose (17, 2; image pixels) is read mirrored."""

    def __init__(self, margin: float):
        self.margin = margin
        self.network = PartNetwork(threads=1)

    def people(self, image: np.ndarray) -> list[np.ndarray]:
        return [points for points, _ in people_in_image(*self.network(image))]

    def mirrored(self, joints_2d: np.ndarray, people: list[np.ndarray]) -> bool:
        nearest = None
        for parts in people:
            both = np.isfinite(parts[THEIRS]).all(1) & np.isfinite(parts[THEIRS_SWAPPED]).all(1)
            if both.sum() < 6:
                continue
            read, swapped = (float(np.linalg.norm(parts[index][both] - joints_2d[OURS][both], axis=1).mean())
                             for index in (THEIRS, THEIRS_SWAPPED))
            if nearest is None or min(read, swapped) < min(nearest):
                nearest = (read, swapped)
        return nearest is not None and nearest[1] < self.margin * nearest[0]


def pipeline(predictor: Predictor, vote: Vote | None) -> Callable[[np.ndarray], list[tuple[Region, np.ndarray]]]:
    """The package's pipeline, each person swapped where `vote` says so (none: as read)."""

    def run(image: np.ndarray) -> list[tuple[Region, np.ndarray]]:
        people = vote.people(image) if vote else []
        out = []
        for person in predictor.predict_image(image):
            joints = person.joints_2d
            if vote and vote.mirrored(joints, people):
                joints = joints[skeleton.flip_permutation()]
            out.append((person.box.region(crop_margin()), joints))
        return out

    return run


def renders(predictor: Predictor, vote: Vote, data: str, count: int) -> dict[str, int]:
    """On `count` held-out renders: people found, read mirrored, and the vote's swaps that mend and that harm."""
    counts = {"people found": 0, "read mirrored": 0, "swaps that mend": 0, "swaps that mirror a person read right": 0}
    pad = contract.IMAGE_SIZE
    for batch in open_source(data).samples("val", pad).take(count).batch(32).as_numpy_iterator():
        for image, joints in zip(batch["image"], batch["joints_2d"]):
            canvas = np.full((3 * pad, 3 * pad, 3), 118, np.uint8)
            canvas[pad:2 * pad, pad:2 * pad] = image.astype(np.uint8)
            truth = joints + pad

            def error(person: Person, swap: bool = False) -> float:
                guess = person.joints_2d[skeleton.flip_permutation()] if swap else person.joints_2d
                return float(np.linalg.norm(guess - truth, axis=1).mean())

            found = predictor.predict_image(canvas)
            person = min(found, key=error, default=None)
            # A person found elsewhere on the canvas is not this one.
            if person is None or error(person) > 0.2 * np.ptp(truth, 0).max():
                continue
            counts["people found"] += 1
            wrong = error(person, swap=True) < error(person)
            counts["read mirrored"] += wrong
            if vote.mirrored(person.joints_2d, vote.people(canvas)):
                counts["swaps that mend" if wrong else "swaps that mirror a person read right"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the main job's model (any exported form)")
    parser.add_argument("--data", required=True, help="the main job's renders (its mean 2D pose; held-out renders)")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--renders", type=int, default=500, help="held-out renders to count the vote's swaps on")
    parser.add_argument("--margin", type=float, default=0.5)
    args = parser.parse_args()
    predictor, vote = Predictor(args.model, threads=1), Vote(args.margin)
    photos = PhotoSet.load(args.photos)
    mean_2d = training_mean_2d(open_source(args.data), contract.IMAGE_SIZE)
    rows = []
    for name, voter in (("as read", None), (f"with the part network's vote (margin {args.margin:g})", vote)):
        pred = pipeline_predictions(photos, pipeline(predictor, voter))
        found = np.isfinite(pred).all((1, 2))
        same = photos.subset(found)
        rows.append({"pipeline": name, "people found": f"{found.sum()} of {len(found)}",
                     "vs mean 2D": same.score(pred[found])["2D error"] / same.score(mean_2d[None])["2D error"],
                     "people read mirrored": int(unmirrored(same, pred[found])[1].sum())})
    print(provenance(f"model {args.model}; {args.photos}; 1 thread") + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"), "\n")
    print(pd.DataFrame([renders(predictor, vote, args.data, args.renders)], index=[f"{args.renders} held-out renders"])
          .to_markdown())


if __name__ == "__main__":
    main()
