"""Motion sets: motion capture clips as motion-bone rotations in one compact .npz, split by clip.

A frame is one rotation per motion bone (from the canonical T-pose, see
`body.MOTION_BONES`) and a root position; any body posed by it yields its own
mesh and its own Human3.6M joints (`MotionSet.pose`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from tfpose3d.data import body, bvh, rotations

SHIPPED = {"bandai-namco": Path(__file__).with_name("bandai_namco_motion.npz")}
# Whole styles are held out, so no frame of a training clip is ever in test.
DEFAULT_TEST_PATTERN = r"_(proud|tired|exhausted)_"
_BANDAI_NAME = re.compile(r"^dataset-\d+(?:-\w+)?_(?P<action>[a-z-]+)_(?P<style>[a-z-]+)_\d+$")


@dataclasses.dataclass
class MotionSet:
    """Motion capture frames grouped in clips, world axes with Y up.

    Attributes:
        rotations: (N, M, 4) unit quaternions (w, x, y, z) of the M motion bones, from the canonical T-pose.
        root: (N, 3) pelvis position, millimetres, in the performer's scale.
        clip: (N,) index into `clips` of each frame.
        clips, actions, subjects, splits: per-clip name, action, subject, "train"/"test".
        leg_mm: per clip, the performer's hip-knee-ankle length: a body's root path is scaled by its own
            leg over this, so its feet stay on the ground.
        source: where the motion comes from (attribution).
    """

    rotations: np.ndarray
    root: np.ndarray
    clip: np.ndarray
    clips: np.ndarray
    actions: np.ndarray
    subjects: np.ndarray
    splits: np.ndarray
    leg_mm: np.ndarray
    fps: float
    source: str

    def select(self, split: str | None) -> "MotionSet":
        """The frames of clips in `split` ("train", "test" or None for all)."""
        if split is None:
            return self
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        keep = self.splits[self.clip] == split
        return dataclasses.replace(self, rotations=self.rotations[keep], root=self.root[keep], clip=self.clip[keep])

    def __len__(self) -> int:
        return len(self.rotations)

    def turns(self, frame: int) -> np.ndarray:
        """Bone rotations (M, 3, 3) of `frame`, as captured."""
        return rotations.from_quaternion(self.rotations[frame])

    def pose(self, shaped: body.Body, frame: int, turns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`shaped` in frame `frame`: mesh vertices (V, 3) and Human3.6M joints (17, 3), mm.

        `turns` (M, 3, 3), such as `vary` gives, replace the frame's bone rotations; the root stays the frame's.
        """
        scale = shaped.leg_length / float(self.leg_mm[self.clip[frame]])
        turns = self.turns(frame) if turns is None else turns
        return shaped.pose(turns, self.root[frame] * scale)

    def vary(self, frame: int, rng: np.random.Generator) -> np.ndarray:
        """Bone rotations (M, 3, 3) of `frame` turned into a pose nobody captured, still a human one.

        A few hundred captured clips of walking, waving and bowing cover few of the poses in people's photos
        (kicks, crouches, raised and crossed arms, leaning). Each limb keeps its captured pose relative to
        its parent or takes another frame's (so elbows and knees stay as people bend them), then shoulders,
        hips, knees and the lower back may turn further within their range.
        """
        local = _local(self.turns(frame))
        for chain in _LIMBS:
            if rng.random() < 0.5:
                local[chain] = _local(self.turns(int(rng.integers(len(self)))))[chain]

        def turn(bone: str, axis: Sequence[float], angle: float) -> None:
            # Pre-multiplying turns a bone in its parent's frame (x left, y up, z forward at rest).
            local[_BONE[bone]] = rotations.axis_angle(axis, angle) @ local[_BONE[bone]]

        for side in "lr":
            if rng.random() < 0.5:
                turn(f"{side}_upper_arm", rng.normal(size=3), rng.uniform(0, 1.2))
            if rng.random() < 0.3:  # hip flexion: the thigh swings forward
                turn(f"{side}_thigh", [1, 0, 0], -rng.uniform(0, 1.6))
            if rng.random() < 0.3:  # knee flexion: the shin swings back
                turn(f"{side}_shin", [1, 0, 0], rng.uniform(0, 1.6))
        if rng.random() < 0.3:  # the trunk bends, mostly forward, partly sideways
            turn("lower_back", [1, 0, rng.normal(0, 0.5)], rng.uniform(-0.2, 0.7))
        return _world(local)

    def joints(self, shaped: body.Body, frames: Sequence[int] | None = None) -> np.ndarray:
        """Human3.6M joints (len(frames), 17, 3) of `shaped` in `frames` (default: all)."""
        frames = range(len(self)) if frames is None else frames
        return np.stack([self.pose(shaped, int(f))[1] for f in frames]).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the set to `path`, a .npz file (`check_motion_path`)."""
        check_motion_path(path)
        mm = np.round(self.root)
        if np.abs(mm).max(initial=0) > np.iinfo(np.int16).max:
            raise ValueError(f"{path}: root positions beyond +-32.7 m do not fit the int16 millimetre format")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, rotations=np.round(self.rotations * 32767).astype(np.int16), root=mm.astype(np.int16),
            clip=self.clip.astype(np.int32), clips=self.clips, actions=self.actions, subjects=self.subjects,
            splits=self.splits, leg_mm=self.leg_mm.astype(np.float32), fps=np.float32(self.fps),
            source=np.str_(self.source), motion_bones=np.array(body.MOTION_BONE_NAMES),
        )


_BONE = {name: i for i, name in enumerate(body.MOTION_BONE_NAMES)}
_PARENT = np.array([-1 if p is None else _BONE[p] for p in body.MOTION_PARENTS.values()])
# The bones of each limb, from the trunk out.
_LIMBS = [[_BONE[f"{s}_{b}"] for b in bones] for s in "lr"
          for bones in (("clavicle", "upper_arm", "forearm", "hand"), ("thigh", "shin", "foot"))]


def sit(turns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bone rotations (M, 3, 3) `turns` with the legs seated, as on a chair or in a wheelchair: both thighs
    forward and both shins down, near right angles (the turns of `MotionSet.vary` bend one joint at a time and
    almost never make the whole seated pose). The trunk, arms and feet keep their pose.

    Example:
        >>> t_pose = np.broadcast_to(np.eye(3), (len(body.MOTION_BONE_NAMES), 3, 3))
        >>> seated = sit(t_pose, np.random.default_rng(0))
        >>> thigh = seated[body.MOTION_BONE_NAMES.index("l_thigh")] @ body.DOWN
        >>> bool(thigh @ body.FORWARD > 0.8)  # it points ahead
        True
    """
    local = _local(turns)
    flex = rng.uniform(1.2, 1.8)
    for side in "lr":
        local[_BONE[f"{side}_thigh"]] = (rotations.axis_angle([0, 0, 1], rng.normal(0, 0.15))
                                         @ rotations.axis_angle([1, 0, 0], -flex - rng.normal(0, 0.15)))
        local[_BONE[f"{side}_shin"]] = rotations.axis_angle([1, 0, 0], np.clip(flex + rng.normal(0, 0.3), 0.3, 2.3))
    return _world(local)


def _local(world: np.ndarray) -> np.ndarray:
    """Each bone's rotation (M, 3, 3) relative to its parent's."""
    parent = np.where(_PARENT[:, None, None] < 0, np.eye(3), world[np.maximum(_PARENT, 0)])
    return np.swapaxes(parent, -1, -2) @ world


def _world(local: np.ndarray) -> np.ndarray:
    """Bone rotations from parent-relative ones; parents come first in `body.MOTION_BONES`."""
    world = local.copy()
    for b, p in enumerate(_PARENT):
        if p >= 0:
            world[b] = world[p] @ local[b]
    return world


def check_motion_path(path: str | os.PathLike) -> None:
    """A motion set is a .npz file: numpy would add the suffix to any other name, and the set written be
    found under another name than the one given."""
    if Path(path).suffix != ".npz":
        raise ValueError(f"{path}: a motion set is written as a .npz file; name it {Path(path).name}.npz")


def load_motion(name_or_path: str | os.PathLike) -> MotionSet:
    """Load a shipped motion set by name (e.g. "bandai-namco") or a .npz written by `MotionSet.save`."""
    path = SHIPPED.get(str(name_or_path), Path(name_or_path))
    if not Path(path).is_file():
        raise FileNotFoundError(f"No motion set {str(name_or_path)!r}: not a shipped name {sorted(SHIPPED)} nor a file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if tuple(data["motion_bones"]) != body.MOTION_BONE_NAMES:
                raise ValueError(f"{path}: motion bones differ from tfpose3d.data.body.MOTION_BONE_NAMES")
            return MotionSet(
                rotations=data["rotations"].astype(np.float32) / 32767, root=data["root"].astype(np.float32),
                clip=data["clip"], clips=data["clips"], actions=data["actions"], subjects=data["subjects"],
                splits=data["splits"], leg_mm=data["leg_mm"], fps=float(data["fps"]), source=str(data["source"]),
            )
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # EOFError: an empty file
        if isinstance(err, ValueError) and str(path) in str(err):
            raise
        raise ValueError(f"{path}: not a tfpose3d motion set ({err or type(err).__name__})") from None


def from_bvh_files(
    paths: Sequence[str | os.PathLike],
    joint_map: dict | None = None,
    test_pattern: str = DEFAULT_TEST_PATTERN,
    source: str = "",
) -> MotionSet:
    """Import BVH clips into a MotionSet.

    Bandai Namco file names (`dataset-N_<action>_<style>_<id>`) give the
    action and, as subject, the style (the dataset does not label actors);
    other files take their stem as action and their folder as subject. Clips
    whose name matches `test_pattern` form the test split.
    """
    if not paths:
        raise ValueError("No BVH files given")
    rots, roots, legs, clip, names, actions, subjects = [], [], [], [], [], [], []
    fps = None
    for i, path in enumerate(sorted(map(Path, paths))):
        frames, root, leg, frame_time = bvh.import_bvh(path, joint_map)
        rate = round(1.0 / frame_time, 3)
        if fps is not None and abs(rate - fps) > 1e-2:
            raise ValueError(f"{path}: {rate} fps differs from the other files' {fps} fps")
        fps = rate
        match = _BANDAI_NAME.match(path.stem)
        rots.append(rotations.to_quaternion(frames))
        roots.append(root)
        legs.append(leg)
        clip.append(np.full(len(frames), i, np.int32))
        names.append(path.stem)
        actions.append(match["action"] if match else path.stem)
        subjects.append(match["style"] if match else path.parent.name)
    splits = np.array(["test" if re.search(test_pattern, n) else "train" for n in names])
    return MotionSet(
        rotations=np.concatenate(rots).astype(np.float32), root=np.concatenate(roots).astype(np.float32),
        clip=np.concatenate(clip), clips=np.array(names), actions=np.array(actions), subjects=np.array(subjects),
        splits=splits, leg_mm=np.array(legs, np.float32), fps=float(fps), source=source,
    )
