"""Where on the body the 2D error on real photographs sits: per joint, a model beside BlazePose's landmarks.

On the annotation crops of the real dev photos (as `tfpose3d evaluate --photos` makes them), the mean 2D error
of each Human3.6M joint (a fraction of the crop side) for each --model, for BlazePose GHUM full's image
landmarks mapped by hand (`skeleton.blazepose_weights`), and for the same landmarks mapped by a linear map
fitted by least squares on --renders training renders (what a network trained on renders would learn to map
them to). BlazePose's landmarks come from the package's converted network (`BlazePoseBackbone`), which gives
the LiteRT interpreter's landmarks (tests/test_blazepose.py).

A second table counts, per predictor, the people it reads mirrored (their left and right joints swapped
lie nearer the annotation: the body's front taken for its back), which people they are, and the figure with
those people's joints swapped back: how much of the error a left/right decision holds.

Run: .venv/bin/python bench/photo_joints.py --data data/bandai-namco-mesh-4-plain-20000-2000-s0 \
         --model runs/cpu-pretrained/model.keras [--model ...] [--photos ../shared/data/real-photos-dev]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess

import numpy as np
import pandas as pd

from tfpose3d import contract, skeleton
from tfpose3d.blazepose import INPUT, BlazePoseBackbone
from tfpose3d.data import pipeline
from tfpose3d.data.photos import PhotoSet
from tfpose3d.predict import Predictor
from tfpose3d.preprocessing import resize_square

SIZE = contract.IMAGE_SIZE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a rendered data folder with train/ (the main job's renders)")
    parser.add_argument("--model", action="append", default=[], help="a model file or export (repeatable)")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--renders", type=int, default=2000, help="training renders the linear map is fitted on")
    args = parser.parse_args()

    network = BlazePoseBackbone(SIZE, landmarks=True)

    def landmarks(images: np.ndarray) -> np.ndarray:  # (N, 33, 2) pixels of the SIZE px crop
        raw = network.predict(images, batch_size=64, verbose=0)["landmarks"]
        return raw.reshape(-1, skeleton.BLAZEPOSE_LANDMARKS, 5)[:, : skeleton.BLAZEPOSE_BODY, :2] * (SIZE / INPUT)

    renders = pipeline.records_dataset(f"{args.data}/train", SIZE, shuffle=False).take(args.renders).batch(64)
    found, truth = zip(*[(landmarks(b["image"]), b["joints_2d"]) for b in renders.as_numpy_iterator()])
    found, truth = np.concatenate(found), np.concatenate(truth)
    # One weight per landmark and joint, shared by x and y, as the hand map's are.
    fitted, *_ = np.linalg.lstsq(np.concatenate([found[..., 0], found[..., 1]]),
                                 np.concatenate([truth[..., 0], truth[..., 1]]), rcond=None)
    photos = PhotoSet.load(args.photos)
    crops = resize_square(photos.crops, SIZE)
    marks = landmarks(crops)
    rows = {"BlazePose, hand map": np.einsum("nkd,kj->njd", marks, skeleton.blazepose_weights()),
            f"BlazePose, map fitted on {len(found)} renders": np.einsum("nkd,kj->njd", marks, fitted)}
    for model in args.model:
        rows[model] = Predictor(model)(crops)["joints_2d"]
    baseline = photos.score(truth.mean(0)[None] / SIZE)["2D error"]
    table = pd.DataFrame({name: np.nanmean(photos.distances(joints / SIZE), 0) for name, joints in rows.items()},
                         index=skeleton.JOINT_NAMES)
    people = np.isfinite(photos.distances(rows["BlazePose, hand map"] / SIZE)).sum(0)
    table.insert(0, "people", people.astype(str))  # a count, not a float
    table = table[people > 0]
    overall = {name: photos.score(joints / SIZE)["2D error"] / baseline for name, joints in rows.items()}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}; {datetime.date.today()}; {platform.machine()}; {len(photos.crops)} people in {args.photos}\n")
    print(table.to_markdown(floatfmt=".3f"), "\n")
    print(pd.DataFrame([overall], index=["all joints, vs mean 2D"]).to_markdown(floatfmt=".3f"), "\n")
    print(mirrored(photos, {name: joints / SIZE for name, joints in rows.items()}, baseline).to_markdown(floatfmt=".3f"))


def unmirrored(photos: PhotoSet, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`joints` (N, 17, 2; fractions of the crop side, NaN for people not found) with each person read mirrored
    swapped back, and (N,) which people were: those whose left/right-swapped joints lie nearer the annotation."""
    swapped = joints[:, skeleton.flip_permutation()]
    flipped = np.nanmean(photos.distances(swapped), 1) < np.nanmean(photos.distances(joints), 1)
    return np.where(flipped[:, None, None], swapped, joints), flipped


def mirrored(photos: PhotoSet, rows: dict[str, np.ndarray], baseline: float) -> pd.DataFrame:
    """Per predictor (joints as fractions of the crop side): the people it reads mirrored, and its figure
    against `baseline` as read and with those people swapped back."""
    out = []
    for name, joints in rows.items():
        best, flipped = unmirrored(photos, joints)
        out.append({"predictor": name, "people read mirrored": int(flipped.sum()),
                    "which (photos.png tiles)": " ".join(map(str, np.flatnonzero(flipped))) or "-",
                    "vs mean 2D": photos.score(joints)["2D error"] / baseline,
                    "with them swapped back": photos.score(best)["2D error"] / baseline})
    return pd.DataFrame(out)


if __name__ == "__main__":
    main()
