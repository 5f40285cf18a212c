"""BVH motion capture: a vectorised parser, forward kinematics, and mapping to the 17 joints."""

from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np

from tfpose3d import skeleton

# Each convention: joint (or "<Joint>_end" for its End Site) for every H36M joint, and the BVH unit in mm.
BANDAI_NAMCO = {
    "unit_mm": 10.0,  # centimetres
    "joints": {
        "pelvis": "Hips", "r_hip": "UpperLeg_R", "r_knee": "LowerLeg_R", "r_ankle": "Foot_R",
        "l_hip": "UpperLeg_L", "l_knee": "LowerLeg_L", "l_ankle": "Foot_L",
        "spine": "Spine", "thorax": "Chest", "neck": "Neck", "head": "Head_end",
        "l_shoulder": "UpperArm_L", "l_elbow": "LowerArm_L", "l_wrist": "Hand_L",
        "r_shoulder": "UpperArm_R", "r_elbow": "LowerArm_R", "r_wrist": "Hand_R",
    },
}
CMU = {
    "unit_mm": 0.056444 * 1000.0,  # the CMU conversion's unit: 1/0.45 inch
    "joints": {
        "pelvis": "Hips", "r_hip": "RightHip", "r_knee": "RightKnee", "r_ankle": "RightAnkle",
        "l_hip": "LeftHip", "l_knee": "LeftKnee", "l_ankle": "LeftAnkle",
        "spine": "Chest", "thorax": "lowerneck", "neck": "Neck", "head": "Head_end",
        "l_shoulder": "LeftShoulder", "l_elbow": "LeftElbow", "l_wrist": "LeftWrist",
        "r_shoulder": "RightShoulder", "r_elbow": "RightElbow", "r_wrist": "RightWrist",
    },
}
CONVENTIONS = {"bandai-namco": BANDAI_NAMCO, "cmu": CMU}


@dataclasses.dataclass
class BvhMotion:
    """A parsed BVH file: hierarchy plus per-frame channel values.

    `names` includes End Sites as "<parent>_end"; `offsets` are in file units.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3)
    channels: list[list[str]]  # per joint, e.g. ["Xposition", ..., "Zrotation"]
    motion: np.ndarray  # (F, total channels)
    frame_time: float

    def positions(self) -> np.ndarray:
        """Global joint positions (F, J, 3) in file units, by forward kinematics."""
        num_frames = self.motion.shape[0]
        rot = np.empty((len(self.names), num_frames, 3, 3))
        pos = np.empty((len(self.names), num_frames, 3))
        col = 0
        for j, (parent, chans) in enumerate(zip(self.parents, self.channels)):
            values = self.motion[:, col : col + len(chans)]
            col += len(chans)
            local_t = np.broadcast_to(self.offsets[j], (num_frames, 3)).copy()
            local_r = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
            for k, chan in enumerate(chans):
                axis = "XYZ".index(chan[0].upper())
                if chan[1:].lower() == "position":
                    local_t[:, axis] = values[:, k]
                else:
                    local_r = local_r @ _axis_rotation(axis, np.radians(values[:, k]))
            if parent < 0:
                rot[j], pos[j] = local_r, local_t
            else:
                rot[j] = rot[parent] @ local_r
                pos[j] = pos[parent] + np.einsum("fij,fj->fi", rot[parent], local_t)
        return pos.transpose(1, 0, 2)


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(angle.shape + (3, 3))
    i, k = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so that every axis is right-handed
    m[..., axis, axis] = 1.0
    m[..., i, i], m[..., i, k], m[..., k, i], m[..., k, k] = c, -s, s, c
    return m


def parse_bvh(text: str, source: str = "<string>") -> BvhMotion:
    """Parse BVH text. Raises ValueError naming `source` and the problem."""
    try:
        motion = _parse(text, source)
    except (IndexError, ValueError) as err:
        if str(err).startswith(source):
            raise
        raise ValueError(f"{source}: malformed BVH ({err.__class__.__name__}: {err})") from None
    if motion.motion.shape[0] == 0:
        raise ValueError(f"{source}: the MOTION section has no frames")
    if not np.isfinite(motion.motion).all() or not np.isfinite(motion.offsets).all():
        raise ValueError(f"{source}: NaN or infinite values in the motion or offsets")
    if not motion.frame_time > 0:
        raise ValueError(f"{source}: 'Frame Time:' must be positive, got {motion.frame_time}")
    return motion


def _parse(text: str, source: str) -> BvhMotion:
    head, sep, tail = text.partition("MOTION")
    if not head.lstrip().startswith("HIERARCHY") or not sep:
        raise ValueError(f"{source}: not a BVH file (needs HIERARCHY and MOTION sections)")
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    pending: int | None = None
    tokens = head.split()
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            channels.append([])
            offsets.append(None)
            pending = len(names) - 1
            i += 2
        elif tok == "End":
            parent = stack[-1]
            names.append(f"{names[parent]}_end")
            parents.append(parent)
            channels.append([])
            offsets.append(None)
            pending = len(names) - 1
            i += 2
        elif tok == "{":
            stack.append(pending)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"{source}: unexpected token {tok!r} in HIERARCHY")
    if stack or not names or any(o is None for o in offsets):
        raise ValueError(f"{source}: unbalanced braces or a joint without OFFSET in HIERARCHY")
    frames = re.search(r"Frames:\s*(\d+)", tail)
    frame_time = re.search(r"Frame Time:\s*([0-9.eE+-]+)", tail)
    if not frames or not frame_time:
        raise ValueError(f"{source}: MOTION section lacks 'Frames:' or 'Frame Time:'")
    body = tail[frame_time.end() :]
    num_channels = sum(len(c) for c in channels)
    values = np.array(body.split(), dtype=np.float64)
    num_frames = int(frames.group(1))
    if values.size != num_frames * num_channels:
        raise ValueError(
            f"{source}: expected {num_frames} frames x {num_channels} channels = "
            f"{num_frames * num_channels} values, found {values.size}"
        )
    return BvhMotion(names, parents, np.array(offsets), channels, values.reshape(num_frames, num_channels), float(frame_time.group(1)))


def detect_convention(names: list[str]) -> dict:
    """The built-in convention whose joint names all occur in `names`."""
    present = set(names)
    for convention in CONVENTIONS.values():
        if set(convention["joints"].values()) <= present:
            return convention
    raise ValueError(
        "Unknown BVH skeleton naming; pass --joint-map FILE.json mapping the 17 joints "
        f"({', '.join(skeleton.JOINT_NAMES)}) to these joints found in the file: {', '.join(names)}"
    )


def load_joint_map(path: str | os.PathLike) -> dict:
    """Read a joint map JSON: {"unit_mm": float, "joints": {h36m_name: bvh_name, ...}}."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such joint map file")
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("joints"), dict) or "unit_mm" not in data:
        raise ValueError(f'{path}: a joint map needs "unit_mm" (BVH unit in mm) and "joints" ({{h36m name: BVH name}})')
    if not isinstance(data["unit_mm"], (int, float)) or not data["unit_mm"] > 0:
        raise ValueError(f'{path}: "unit_mm" must be a positive number, got {data["unit_mm"]!r}')
    missing = [j for j in skeleton.JOINT_NAMES if j not in data["joints"]]
    if missing:
        raise ValueError(f"{path}: joint map lacks {missing}")
    return data


def to_h36m(motion: BvhMotion, convention: dict | None = None, source: str = "<bvh>") -> np.ndarray:
    """17-joint positions (F, 17, 3) in millimetres, BVH axes (Y up)."""
    convention = convention or detect_convention(motion.names)
    index = {n: i for i, n in enumerate(motion.names)}
    missing = [b for b in convention["joints"].values() if b not in index]
    if missing:
        raise ValueError(f"{source}: joints {missing} not in the file; found {motion.names}")
    cols = [index[convention["joints"][name]] for name in skeleton.JOINT_NAMES]
    return (motion.positions()[:, cols] * float(convention["unit_mm"])).astype(np.float32)


def import_bvh(path: str | os.PathLike, joint_map: dict | None = None) -> tuple[np.ndarray, float]:
    """Read a BVH file into (F, 17, 3) millimetres and its frame time in seconds."""
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; pass BVH files (for example {os.path.join(path, '*.bvh')})")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such BVH file")
    try:
        with open(path) as f:
            text = f.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text BVH file") from None
    motion = parse_bvh(text, source=str(path))
    return to_h36m(motion, joint_map, source=str(path)), motion.frame_time
