"""Real photographs of people with annotated 2D joints: for measuring models trained on renders, never for training.

`PhotoSet.load` reads a folder in the form of `../shared/data/real-photos-dev` (its SOURCE.md), frames each
person as the renderer frames its bodies (`crop_person`), and scores 2D joints against the annotations, so one
set of crops serves `tfpose3d evaluate --photos`, the per-epoch watch of `tfpose3d train --photos` and the
benchmarks.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfpose3d import contract, skeleton
from tfpose3d.data import render
from tfpose3d.data.camera import Region, body_region
from tfpose3d.data.images import crop_region, image_size, read_rgb

if TYPE_CHECKING:  # sources is tf.data; photos are also scored where TensorFlow is not installed
    from tfpose3d.data.sources import Source

PCK_FRACTION = 0.1  # of the crop side


def read_photos(folder: str | os.PathLike) -> list[dict]:
    """People in real photographs with 2D joints (`annotations.json` as in real-photos-dev, see its SOURCE.md).

    Each entry: `image` (path), `joints_2d` (17, 2) float with NaN where a joint is not annotated, `set`, and
    `box` (x, y, w, h) where the file gives the person's box (else None).
    """
    folder = Path(folder)
    path = folder / "annotations.json"
    if folder.is_file():
        raise ValueError(f"{folder}: a file; pass the folder that holds annotations.json and the photos")
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no annotations.json (a folder of photos with 2D joints is needed)")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: not a photo annotation file (not JSON: {err})") from None
    if not isinstance(data, dict) or "joint_names" not in data or not isinstance(data.get("people"), list):
        raise ValueError(f"{path}: not a photo annotation file (a JSON object with 'joint_names' and 'people' is needed)")
    names = tuple(data["joint_names"]) if isinstance(data["joint_names"], list) else ()
    if names != skeleton.JOINT_NAMES:
        raise ValueError(f"{path}: joint_names must be Human3.6M's 17 in its order ({', '.join(skeleton.JOINT_NAMES)}); "
                         f"got {len(names)} names" + (f", {names[0]!r} first" if names else ""))
    people = []
    for k, p in enumerate(data["people"]):
        where = f"{path}: person {k}" + (f" ({p.get('image')})" if isinstance(p, dict) else "")
        if not isinstance(p, dict) or not isinstance(p.get("image"), str) or not isinstance(p.get("joints_2d"), list):
            raise ValueError(f"{where}: needs 'image' (a path) and 'joints_2d' (a list)")
        if len(p["joints_2d"]) != skeleton.NUM_JOINTS:
            raise ValueError(f"{where} has {len(p['joints_2d'])} joints, not the {skeleton.NUM_JOINTS} of joint_names")
        try:
            joints = np.array([j if j is not None else [np.nan, np.nan] for j in p["joints_2d"]], np.float64)
        except (TypeError, ValueError):
            joints = np.empty(0)
        if joints.shape != (skeleton.NUM_JOINTS, 2):
            raise ValueError(f"{where}: each joint is [x, y] (two numbers, the photo's pixels) or null")
        if not np.isfinite(joints).all(1).any():
            raise ValueError(f"{where} has no annotated joint (each is [x, y] or null)")
        box = p.get("bbox") or None  # absent, null or empty: no box
        if box is not None and not (isinstance(box, list) and len(box) == 4
                                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            raise ValueError(f"{where}: bbox is [x, y, w, h] in pixels, or absent")
        image = folder / p["image"]
        width, height = image_size(image)
        # Joints in another image's pixels (a resized copy, a crop) would score a crop of nothing.
        inside = ((joints >= 0) & (joints <= [width, height])).all(1)
        if not inside.any():
            raise ValueError(f"{where}: none of the annotated joints lies in the {width}x{height} photo; joints_2d "
                             "are that photo's own pixels")
        # A joint cut off by the border may be annotated where it would be (a head above the frame); one farther out
        # than the person reaches inside the photo is a typo, and would frame the scored crop on empty space.
        reach = np.ptp(joints[inside], 0).max()
        beyond = np.maximum(np.maximum(-joints, joints - [width, height]), 0).max(1)
        if (far := np.flatnonzero(beyond > reach)).size:
            j = far[0]
            raise ValueError(f"{where}: {skeleton.JOINT_NAMES[j]} at ({joints[j, 0]:g}, {joints[j, 1]:g}) lies "
                             f"{beyond[j]:.0f} px outside the {width}x{height} photo, farther than the person's joints "
                             f"inside it reach ({reach:.0f} px); joints_2d are that photo's own pixels, null where a "
                             "joint is not annotated")
        people.append({"image": image, "set": p.get("set", ""), "box": tuple(box) if box else None, "joints_2d": joints})
    if not people:
        raise ValueError(f"{path}: no people")
    return people


def crop_person(image: np.ndarray, joints_2d: np.ndarray, size: int, margin: float = render.H36M_CAMERAS.crop_margin) -> tuple[np.ndarray, np.ndarray]:
    """A square crop around the annotated joints, as the renderer frames a person (turned upright on the hips
    and shoulders where they are annotated); returns it and the joints in it."""
    region = body_region(joints_2d, margin)
    return crop_region(image, region, size), region.into_crop(joints_2d, size)


def found_people(people: list[dict], regions: list[Region], torsos: list[np.ndarray], share: float = 0.8,
                 near: float = 0.2) -> list[int | None]:
    """For each annotated person (`read_photos` entries of one photo), the index of the detection that found
    them, else None.

    Detection k is its crop `regions[k]` and where it puts the person's torso, `torsos[k]` (2, 2): the middle
    of the hips and of the shoulders (`skeleton.torso_ends`), from the detector's keypoints or the estimated
    pose. It finds a person when the region holds at least `share` of their annotated joints and the torso
    lies within `near` of the person's height (the longer side of their joints' box) from the annotated one
    (from the joints' box centre where hips or shoulders are not annotated): a large crop around a neighbour
    holds a person's joints too, but puts the torso on the neighbour. Each detection finds one person at most,
    the nearest pairs first.
    """
    pairs = []
    for i, person in enumerate(people):
        joints = person["joints_2d"]
        seen = joints[np.isfinite(joints).all(1)]
        size = max(float(np.max(seen.max(0) - seen.min(0))), 1.0)
        truth = np.stack(skeleton.torso_ends(joints))
        truth = np.where(np.isfinite(truth), truth, (seen.min(0) + seen.max(0)) / 2)
        for k, (region, torso) in enumerate(zip(regions, torsos)):
            distance = float(np.linalg.norm(np.asarray(torso) - truth, axis=-1).mean()) / size
            if distance <= near and np.mean(region.holds(seen)) >= share:
                pairs.append((distance, i, k))
    match: list[int | None] = [None] * len(people)
    used: set[int] = set()
    for _, i, k in sorted(pairs):
        if match[i] is None and k not in used:
            match[i] = k
            used.add(k)
    return match


def training_mean_2d(source: Source, image_size: int, count: int = 5000) -> np.ndarray:
    """The mean 2D pose of a source's training samples, as a fraction of the image side."""
    joints = [s["joints_2d"] / image_size for s in source.samples("train", image_size).take(count).as_numpy_iterator()]
    return np.mean(joints, axis=0)


@dataclasses.dataclass(frozen=True)
class PhotoSet:
    """The people of a photo folder, cropped once.

    Attributes:
        people: `read_photos` entries.
        crops: (N, 225, 225, 3) uint8, each person framed as the renderer frames a body (`crop_person`).
        joints_2d: (N, 17, 2) annotated joints as fractions of the crop side, NaN where not annotated.
        regions: (N,) where each crop lies in its photo (`camera.Region`).
    """

    people: list[dict]
    crops: np.ndarray
    joints_2d: np.ndarray
    regions: tuple[Region, ...]

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "PhotoSet":
        people = read_photos(folder)
        size = contract.IMAGE_SIZE
        crops, joints = zip(*(crop_person(read_rgb(p["image"]), p["joints_2d"], size) for p in people))
        regions = tuple(body_region(p["joints_2d"], render.H36M_CAMERAS.crop_margin) for p in people)
        return cls(people, np.stack(crops), np.stack(joints) / size, regions)

    def subset(self, keep: np.ndarray) -> "PhotoSet":
        """The people where `keep` (N,) is true."""
        index = np.flatnonzero(keep)
        return PhotoSet([self.people[i] for i in index], self.crops[index], self.joints_2d[index],
                        tuple(self.regions[i] for i in index))

    def distances(self, joints_2d: np.ndarray) -> np.ndarray:
        """(N, 17) distance of `joints_2d` (N or 1, 17, 2; fractions of the side) from each annotated joint, NaN elsewhere."""
        return np.linalg.norm(np.asarray(joints_2d, np.float64) - self.joints_2d, axis=-1)

    def score(self, joints_2d: np.ndarray) -> dict[str, float]:
        """Mean 2D error over the annotated joints (a fraction of the crop side) and PCK at `PCK_FRACTION`."""
        error = self.distances(joints_2d)
        error = error[np.isfinite(error)]
        return {"2D error": float(error.mean()), f"PCK@{PCK_FRACTION:g}": float((error <= PCK_FRACTION).mean()),
                "joints": int(error.size)}
