"""BVH motion capture: a vectorised parser, forward kinematics, and retargeting to the body's motion bones."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re

import numpy as np

from tfpose3d.data import body
from tfpose3d.data.rotations import align, nearest_rotation, unit

def _sided(names: dict[str, tuple[str, str | None]]) -> dict[str, list[str | None]]:
    """Expand "{S}"/"{Side}" in a convention's bone map to the left and right bones."""
    out = {}
    for bone, (joint, child) in names.items():
        for s, side, sd in (("l", "Left", "L"), ("r", "Right", "R")) if bone.startswith("{s}") else ((None, None, None),):
            fill = (lambda t: t.format(s=s, Side=side, S=sd)) if s else (lambda t: t)
            out[fill(bone)] = [fill(joint), fill(child) if child else None]
    return out


# Each convention: for every motion bone (tfpose3d.data.body.MOTION_BONES), the BVH joint whose rotation
# turns it and the joint at its far end (None where the file has no such joint: the twist then comes from
# the body frame), and the BVH unit in mm.
BANDAI_NAMCO = {
    "unit_mm": 10.0,  # centimetres
    "bones": _sided({
        "hips": ("Hips", "Spine"), "lower_back": ("Spine", "Chest"), "spine": ("Spine", "Chest"),
        "chest": ("Chest", "Neck"), "neck": ("Neck", "Head"), "head": ("Head", None),
        "{s}_clavicle": ("Shoulder_{S}", "UpperArm_{S}"), "{s}_upper_arm": ("UpperArm_{S}", "LowerArm_{S}"),
        "{s}_forearm": ("LowerArm_{S}", "Hand_{S}"), "{s}_hand": ("Hand_{S}", None),
        "{s}_thigh": ("UpperLeg_{S}", "LowerLeg_{S}"), "{s}_shin": ("LowerLeg_{S}", "Foot_{S}"), "{s}_foot": ("Foot_{S}", "Toes_{S}"),
    }),
}
# The limbs and head as CMU's BVH conversion names them, a naming Mixamo took over.
_CMU_LIMBS = {
    "neck": ("Neck", "Head"), "head": ("Head", None),
    "{s}_clavicle": ("{Side}Shoulder", "{Side}Arm"), "{s}_upper_arm": ("{Side}Arm", "{Side}ForeArm"),
    "{s}_forearm": ("{Side}ForeArm", "{Side}Hand"), "{s}_hand": ("{Side}Hand", None),
    "{s}_thigh": ("{Side}UpLeg", "{Side}Leg"), "{s}_shin": ("{Side}Leg", "{Side}Foot"), "{s}_foot": ("{Side}Foot", "{Side}ToeBase"),
}
CMU = {  # the CMU motion-capture database's BVH conversion (and MakeHuman's "cmu_mb" rig)
    "unit_mm": 0.056444 * 1000.0,  # the conversion's unit: 1/0.45 inch
    "bones": _sided({"hips": ("Hips", "LowerBack"), "lower_back": ("LowerBack", "Spine"), "spine": ("Spine", "Spine1"),
                     "chest": ("Spine1", "Neck"), **_CMU_LIMBS}),
}
MIXAMO = {  # Mixamo's rigs (and the many tools that follow its naming), after any "mixamorig:" namespace
    "unit_mm": 10.0,  # centimetres
    "bones": _sided({"hips": ("Hips", "Spine"), "lower_back": ("Spine", "Spine1"), "spine": ("Spine1", "Spine2"),
                     "chest": ("Spine2", "Neck"), **_CMU_LIMBS}),
}
CONVENTIONS = {"bandai-namco": BANDAI_NAMCO, "cmu": CMU, "mixamo": MIXAMO}


def _joints_of(convention: dict) -> set[str]:
    return {j for pair in convention["bones"].values() for j in pair if j}


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

    def globals(self) -> tuple[np.ndarray, np.ndarray]:
        """Global joint rotations (F, J, 3, 3) and positions (F, J, 3) in file units, by forward kinematics."""
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
        return rot.transpose(1, 0, 2, 3), pos.transpose(1, 0, 2)


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
            if pending is None:
                raise ValueError(f"{source}: a '{{' that no ROOT, JOINT or End Site opens, in HIERARCHY")
            stack.append(pending)
            pending = None
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


def _namespace(names: list[str]) -> str:
    """The prefix every joint name shares up to a ':' or '|' (Mixamo's "mixamorig:"), else ""."""
    first = names[0]
    for sep in (":", "|"):
        if sep in first:
            prefix = first[: first.index(sep) + 1]
            if all(n.startswith(prefix) for n in names):
                return prefix
    return ""


def detect_convention(names: list[str], motion: "BvhMotion | None" = None) -> dict:
    """The built-in convention whose joint names all occur in `names` (after a namespace every name shares).

    Where none does and `motion` is given, the skeleton's shape is read (`propose_joint_map`); when the
    names agree with that reading (`names_agree`: every left limb named left, every right one right), that map
    is the convention. Otherwise the error names the joints found and carries the map read from the shape as
    its `proposal` attribute, for a person to check.
    """
    prefix = _namespace(names)
    present = {n[len(prefix):] for n in names}
    for convention in CONVENTIONS.values():
        if _joints_of(convention) <= present:
            return {**convention, "bones": {bone: [prefix + j if j else None for j in pair]
                                            for bone, pair in convention["bones"].items()}}
    proposal = None
    if motion is not None:
        with contextlib.suppress(ValueError):  # a skeleton whose shape cannot be read gets no proposal
            proposal = propose_joint_map(motion)
        if proposal is not None and names_agree(proposal):
            return proposal
    error = UnknownNaming(
        "Unknown BVH skeleton naming; pass --joint-map FILE.json giving, for each motion bone "
        f"({', '.join(body.MOTION_BONE_NAMES)}), [the joint that turns it, the joint at its end or null], "
        f"among these joints found in the file: {', '.join(names)}"
    )
    error.proposal = proposal
    raise error


def _side_of(name: str) -> str | None:
    """"l" or "r" where a joint's name says its side (LeftKnee, lThigh, L_Hip, LHipJoint, UpperLeg_L, knee.r),
    else None: its words (split at case changes, digits and punctuation) hold "left" or "l", or "right" or "r"."""
    words = {w.lower() for w in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", re.split(r"[:|]", name)[-1])}
    left, right = bool(words & {"left", "l"}), bool(words & {"right", "r"})
    return "l" if left and not right else "r" if right and not left else None


def names_agree(joint_map: dict) -> bool:
    """Whether a joint map read from a skeleton's shape agrees with its joint names: the joints of every left
    limb bone are named left and those of every right one right (the names then confirm the reading).

    Example:
        >>> names_agree({"bones": {"l_thigh": ["LeftHip", "LeftKnee"], "r_thigh": ["RightHip", "RightKnee"]}})
        True
        >>> names_agree({"bones": {"l_thigh": ["RightHip", "RightKnee"], "r_thigh": ["LeftHip", "LeftKnee"]}})
        False
    """
    sided = [(bone[0], joint) for bone, pair in joint_map["bones"].items() if bone[:2] in ("l_", "r_")
             for joint in pair if joint]
    return bool(sided) and all(_side_of(joint) == side for side, joint in sided)


class UnknownNaming(ValueError):
    """A BVH skeleton whose joint names no built-in convention has; `proposal` is a joint map read from the
    skeleton's shape, or None where the shape could not be read."""

    proposal: dict | None = None


def propose_joint_map(motion: BvhMotion) -> dict:
    """A joint map read from the skeleton's shape alone, whatever its names, for a person to check.

    From the root, the first joint with several branches is the hips: the branch with the most ends is the
    upper body, the two alike among the others the legs. Up the spine, the first joint with several branches
    is the chest: its two alike branches are the arms, the longest other one the neck and head. Along a leg or
    an arm, the two longest bones in a row are the thigh and shin, or the upper arm and forearm. In the first
    frame, the hips-to-chest line is up and the lower foot points forward, which says which side is the person's
    left. The unit is the one (mm, cm, inch, CMU's, m) that makes the leg about 85 cm long.
    """
    names, parents = motion.names, motion.parents
    children: list[list[int]] = [[] for _ in names]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    # Posed frames: rest poses differ between tools (T, A, every bone along x); a person does not.
    frames = motion.globals()[1]
    at = frames[0]  # bone lengths, which every frame shares

    def subtree(j: int) -> list[int]:
        return [j] + [k for c in children[j] for k in subtree(c)]

    def branching(j: int) -> int:
        while len(children[j]) == 1:
            j = children[j][0]
        return j

    def longest(j: int) -> list[int]:  # j ... the end of its longest chain of joints
        return [j] + max((longest(c) for c in children[j]), key=len, default=[])

    def alike(branches: list[int]) -> tuple[int, int]:  # the two branches of the same size, largest first
        sizes = {c: len(subtree(c)) for c in branches}
        pairs = [(a, b) for i, a in enumerate(branches) for b in branches[i + 1:] if sizes[a] == sizes[b]]
        if not pairs:
            raise ValueError(f"no two alike branches among {[names[c] for c in branches]}")
        return max(pairs, key=lambda ab: sizes[ab[0]])

    def pair(chain: list[int]) -> int:  # where the two longest bones in a row start
        lengths = [np.linalg.norm(at[b] - at[a]) for a, b in zip(chain, chain[1:])]
        if len(lengths) < 2:
            raise ValueError(f"the limb at {names[chain[0]]} has fewer than two bones")
        return max(range(len(lengths) - 1), key=lambda i: lengths[i] + lengths[i + 1])

    hips = branching(0)
    ends = {c: sum(not children[k] for k in subtree(c)) for c in children[hips]}
    if len(children[hips]) < 2:
        raise ValueError("the skeleton does not branch into legs and a body")
    upper = max(children[hips], key=lambda c: ends[c])
    lower = [c for c in children[hips] if c != upper]
    legs = alike(lower) if len(lower) > 1 else tuple(children[branching(lower[0])][:2])
    chest = branching(upper)
    arms = alike(children[chest])
    neck_branch = max((c for c in children[chest] if c not in arms), key=lambda c: len(longest(c)), default=None)
    if neck_branch is None or len(legs) < 2:
        raise ValueError("the skeleton has no head, or fewer than two legs")
    leg_chains = [longest(c) for c in legs]
    arm_chains = [longest(c) for c in arms]
    up = unit(frames[:, chest] - frames[:, hips])
    feet, lows = [], []
    for chain in leg_chains:
        i = pair(chain)
        if i + 3 >= len(chain):
            raise ValueError(f"the leg at {names[chain[0]]} has no foot below its shin")
        foot = frames[:, chain[i + 3]] - frames[:, chain[i + 2]]
        feet.append(foot - np.sum(foot * up, -1, keepdims=True) * up)
        lows.append(np.sum(frames[:, chain[i + 2]] * up, -1))
    # The foot on the ground points forward; one in the air may point anywhere (a runner's, behind).
    forward = np.where((lows[0] <= lows[1])[:, None], feet[0], feet[1])
    left = unit(np.cross(up, forward))  # per frame; the sides are voted over all frames

    bones: dict[str, list[str | None]] = {}
    spine = [hips]
    while spine[-1] != chest:
        spine.append(children[spine[-1]][0] if len(children[spine[-1]]) == 1 else
                     next(c for c in children[spine[-1]] if chest in subtree(c)))
    head_chain = longest(neck_branch)
    head = head_chain[-2] if len(head_chain) > 1 else head_chain[0]
    following = lambda j: spine[spine.index(j) + 1] if j != chest else neck_branch  # noqa: E731
    middle = spine[1:-1] or spine[-1:]
    bones["hips"] = [names[hips], names[following(hips)]]
    bones["lower_back"] = [names[middle[0]], names[following(middle[0])]]
    bones["spine"] = [names[middle[-1]], names[following(middle[-1])]]
    bones["chest"] = [names[chest], names[neck_branch]]
    bones["neck"] = [names[neck_branch], names[head] if head != neck_branch else None]
    bones["head"] = [names[head], None]
    for chains, limb in ((leg_chains, "leg"), (arm_chains, "arm")):
        # Of the two alike limbs, the one further to the person's left over the frames is the left one.
        score = [np.sum((frames[:, c[pair(c)]] - frames[:, hips]) * left, -1).mean() for c in chains]
        for chain, s in zip(chains, ("l", "r") if score[0] > score[1] else ("r", "l")):
            i = pair(chain)
            if limb == "leg":
                bones[f"{s}_thigh"], bones[f"{s}_shin"] = [names[chain[i]], names[chain[i + 1]]], [names[chain[i + 1]], names[chain[i + 2]]]
                bones[f"{s}_foot"] = [names[chain[i + 2]], names[chain[i + 3]]]
            else:
                bones[f"{s}_clavicle"] = [names[chain[max(i - 1, 0)]], names[chain[i]]]
                bones[f"{s}_upper_arm"], bones[f"{s}_forearm"] = [names[chain[i]], names[chain[i + 1]]], [names[chain[i + 1]], names[chain[i + 2]]]
                bones[f"{s}_hand"] = [names[chain[i + 2]], None]
    leg = np.mean([np.linalg.norm(at[c[pair(c) + 1]] - at[c[pair(c)]]) + np.linalg.norm(at[c[pair(c) + 2]] - at[c[pair(c) + 1]])
                   for c in leg_chains])
    guess = 850.0 / max(float(leg), 1e-9)
    unit_mm = min((1.0, 10.0, 25.4, CMU["unit_mm"], 1000.0), key=lambda u: abs(np.log(u / guess)))
    unit_mm = unit_mm if abs(np.log(unit_mm / guess)) < np.log(1.25) else round(guess, 3)
    return {"unit_mm": unit_mm, "bones": {b: bones[b] for b in body.MOTION_BONE_NAMES}}


def load_joint_map(path: str | os.PathLike) -> dict:
    """Read a joint map JSON: {"unit_mm": float, "bones": {motion bone: [BVH joint, BVH end joint or null]}}."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such joint map file")
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("bones"), dict) or "unit_mm" not in data:
        raise ValueError(f'{path}: a joint map needs "unit_mm" (BVH unit in mm) and "bones" '
                         '({motion bone: [BVH joint, BVH end joint or null]})')
    if not isinstance(data["unit_mm"], (int, float)) or not data["unit_mm"] > 0:
        raise ValueError(f'{path}: "unit_mm" must be a positive number, got {data["unit_mm"]!r}')
    missing = [b for b in body.MOTION_BONE_NAMES if b not in data["bones"]]
    if missing:
        raise ValueError(f"{path}: joint map lacks the motion bones {missing}")
    bad = [b for b, v in data["bones"].items() if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
                                                         and (v[1] is None or isinstance(v[1], str)))]
    if bad:
        raise ValueError(f"{path}: each bone needs [joint, end joint or null]; not so for {bad}")
    return data


def to_motion(motion: BvhMotion, convention: dict | None = None, source: str = "<bvh>") -> tuple[np.ndarray, np.ndarray, float]:
    """Motion-bone rotations from the canonical T-pose (F, M, 3, 3), root position (F, 3) mm, and leg length (mm).

    A bone's rotation is its joint's global rotation times a constant that
    takes the canonical frame to the file's own local frame. The constant is
    estimated over all frames: the bone's direction comes from the positions,
    its twist from the pelvis or chest frame (the hips and shoulders), so files
    whose rest pose is a T-pose, an A-pose, or every bone along x all work.
    """
    convention = convention or detect_convention(motion.names, motion)
    index = {n: i for i, n in enumerate(motion.names)}
    missing = sorted(j for j in _joints_of(convention) if j not in index)
    if missing:
        raise ValueError(f"{source}: joints {missing} not in the file; found {motion.names}")
    rot, pos = motion.globals()
    pos = pos * float(convention["unit_mm"])
    bones = convention["bones"]
    at = lambda name: pos[:, index[name]]  # noqa: E731

    def frame(left: str, right: str, low: str, high: str) -> np.ndarray:
        x = unit(at(bones[left][0]) - at(bones[right][0]))
        y = at(bones[high][0]) - at(bones[low][0])
        y = unit(y - np.sum(y * x, -1, keepdims=True) * x)
        return np.stack([x, y, np.cross(x, y)], -1)  # columns: the body's left, up, forward

    frames = {"pelvis": frame("l_thigh", "r_thigh", "hips", "chest"), "chest": frame("l_upper_arm", "r_upper_arm", "chest", "neck")}
    out = np.empty((len(pos), len(body.MOTION_BONES), 3, 3))
    for m, (name, (canonical, frame_name)) in enumerate(body.MOTION_BONES.items()):
        joint, child = bones[name]
        g = rot[:, index[joint]]
        estimate = frames[frame_name]
        direction = None if child is None else at(child) - at(joint)
        if direction is not None and np.linalg.norm(direction, axis=-1).min() > 1.0:
            estimate = align(estimate @ canonical, direction) @ estimate
        constant = nearest_rotation(np.einsum("fji,fjk->ik", g, estimate))
        if direction is not None and np.linalg.norm(direction, axis=-1).min() > 1.0:
            # Make the bone's direction exact: its end is fixed in the joint's own frame.
            local = unit(np.einsum("fji,fj->i", g, unit(direction)))
            constant = align(constant @ canonical, local) @ constant
        out[:, m] = g @ constant
    leg = np.mean([np.linalg.norm(at(bones[f"{s}_thigh"][1]) - at(bones[f"{s}_thigh"][0]), axis=-1).mean()
                   + np.linalg.norm(at(bones[f"{s}_shin"][1]) - at(bones[f"{s}_shin"][0]), axis=-1).mean() for s in "lr"])
    return out, at(bones["hips"][0]), float(leg)


def import_bvh(path: str | os.PathLike, joint_map: dict | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Read a BVH file: motion-bone rotations, root (mm), leg length (mm) as `to_motion`, and frame time (s)."""
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
    return (*to_motion(motion, joint_map, source=str(path)), motion.frame_time)
