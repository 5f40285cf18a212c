"""Pose sets: 17-joint motion capture clips in one compact .npz, with a train/test split by clip."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from tfpose3d import skeleton
from tfpose3d.data import bvh

SHIPPED = {"bandai-namco": Path(__file__).with_name("bandai_namco_h36m17.npz")}
# Whole styles are held out, so no frame of a training clip is ever in test.
DEFAULT_TEST_PATTERN = r"_(proud|tired|exhausted)_"
_BANDAI_NAME = re.compile(r"^dataset-\d+(?:-\w+)?_(?P<action>[a-z-]+)_(?P<style>[a-z-]+)_\d+$")


@dataclasses.dataclass
class PoseSet:
    """17-joint poses in millimetres, world axes with Y up, grouped in clips.

    Attributes:
        joints: (N, 17, 3) float32 millimetres.
        clip: (N,) index into `clips` of each frame.
        clips, actions, subjects, splits: per-clip name, action, subject, "train"/"test".
        source: where the poses come from (attribution).
    """

    joints: np.ndarray
    clip: np.ndarray
    clips: np.ndarray
    actions: np.ndarray
    subjects: np.ndarray
    splits: np.ndarray
    fps: float
    source: str

    def select(self, split: str | None) -> "PoseSet":
        """The frames of clips in `split` ("train", "test" or None for all)."""
        if split is None:
            return self
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        keep = self.splits[self.clip] == split
        return dataclasses.replace(self, joints=self.joints[keep], clip=self.clip[keep])

    def __len__(self) -> int:
        return len(self.joints)

    def save(self, path: str | os.PathLike) -> None:
        mm = np.round(self.joints)
        if np.abs(mm).max(initial=0) > np.iinfo(np.int16).max:
            raise ValueError(f"{path}: positions beyond +-32.7 m do not fit the int16 millimetre format")
        np.savez_compressed(
            path, joints=mm.astype(np.int16), clip=self.clip.astype(np.int32), clips=self.clips,
            actions=self.actions, subjects=self.subjects, splits=self.splits, fps=np.float32(self.fps),
            source=np.str_(self.source), joint_names=np.array(skeleton.JOINT_NAMES),
        )


def load_poses(name_or_path: str | os.PathLike) -> PoseSet:
    """Load a shipped pose set by name (e.g. "bandai-namco") or a .npz written by `PoseSet.save`."""
    path = SHIPPED.get(str(name_or_path), Path(name_or_path))
    if not Path(path).is_file():
        raise FileNotFoundError(f"No pose set {str(name_or_path)!r}: not a shipped name {sorted(SHIPPED)} nor a file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if tuple(data["joint_names"]) != skeleton.JOINT_NAMES:
                raise ValueError(f"{path}: joint order differs from tfpose3d.skeleton.JOINT_NAMES")
            return PoseSet(
                joints=data["joints"].astype(np.float32), clip=data["clip"], clips=data["clips"],
                actions=data["actions"], subjects=data["subjects"], splits=data["splits"],
                fps=float(data["fps"]), source=str(data["source"]),
            )
    except (KeyError, OSError, ValueError) as err:
        if isinstance(err, ValueError) and str(path) in str(err):
            raise
        raise ValueError(f"{path}: not a tfpose3d pose set ({err})") from None


def from_bvh_files(
    paths: Sequence[str | os.PathLike],
    joint_map: dict | None = None,
    test_pattern: str = DEFAULT_TEST_PATTERN,
    source: str = "",
) -> PoseSet:
    """Import BVH clips into a PoseSet.

    Bandai Namco file names (`dataset-N_<action>_<style>_<id>`) give the
    action and, as subject, the style (the dataset does not label actors);
    other files take their stem as action and their folder as subject. Clips
    whose name matches `test_pattern` form the test split.
    """
    if not paths:
        raise ValueError("No BVH files given")
    joints, clip, names, actions, subjects = [], [], [], [], []
    fps = None
    for i, path in enumerate(sorted(map(Path, paths))):
        frames, frame_time = bvh.import_bvh(path, joint_map)
        rate = round(1.0 / frame_time, 3)
        if fps is not None and abs(rate - fps) > 1e-2:
            raise ValueError(f"{path}: {rate} fps differs from the other files' {fps} fps")
        fps = rate
        match = _BANDAI_NAME.match(path.stem)
        joints.append(frames)
        clip.append(np.full(len(frames), i, np.int32))
        names.append(path.stem)
        actions.append(match["action"] if match else path.stem)
        subjects.append(match["style"] if match else path.parent.name)
    splits = np.array(["test" if re.search(test_pattern, n) else "train" for n in names])
    return PoseSet(
        joints=np.concatenate(joints), clip=np.concatenate(clip), clips=np.array(names),
        actions=np.array(actions), subjects=np.array(subjects), splits=splits, fps=float(fps), source=source,
    )
