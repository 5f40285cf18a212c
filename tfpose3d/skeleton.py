"""The Human3.6M 17-joint skeleton that every part of tfpose3d speaks.

Joint order, parents and left/right pairs follow the convention used by most
Human3.6M code (e.g. the 17-joint subset of the 32 motion-capture joints).
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
    "spine", "thorax", "neck", "head",
    "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# Parent of each joint in the kinematic tree; the pelvis is the tree's root.
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# (left, right) joint pairs, swapped by a horizontal flip.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))

PELVIS = JOINT_INDEX["pelvis"]

# The paper uses Nr = 6 roots but its figure naming them is not available.
# These six are chosen so that every joint is a root or a kinematic neighbour
# of one: each end effector (ankle, wrist, head) is one bone from a root, so no
# relative target spans more than two bones from its nearest root.
DEFAULT_ROOTS: tuple[str, ...] = ("pelvis", "r_knee", "l_knee", "neck", "l_elbow", "r_elbow")

BONES: tuple[tuple[int, int], ...] = tuple((p, j) for j, p in enumerate(PARENTS) if p >= 0)


def flip_permutation() -> list[int]:
    """Joint permutation that swaps left and right (used by horizontal flips)."""
    perm = list(range(NUM_JOINTS))
    for left, right in LEFT_RIGHT_PAIRS:
        perm[left], perm[right] = right, left
    return perm


def neighbours(joint: int) -> set[int]:
    """Joints one bone away from `joint`."""
    return {b for a, b in BONES if a == joint} | {a for a, b in BONES if b == joint}


def bone_distance(sources: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """For every joint, the number of bones to the nearest of the `sources` joints."""
    distance = {j: 0 for j in sources}
    frontier, steps = set(sources), 0
    while frontier:
        steps += 1
        frontier = {n for j in frontier for n in neighbours(j) if n not in distance}
        distance.update({n: steps for n in frontier})
    return tuple(distance[j] for j in range(NUM_JOINTS))


def root_indices(roots: tuple[str, ...] | list[str]) -> tuple[int, ...]:
    """Map root joint names to indices, with an error naming any unknown name."""
    unknown = [r for r in roots if r not in JOINT_INDEX]
    if unknown:
        raise ValueError(f"Unknown root joint(s) {unknown}; valid names are {list(JOINT_NAMES)}")
    if len(set(roots)) != len(roots):
        raise ValueError(f"Root joints must be distinct, got {list(roots)}")
    if not roots:
        raise ValueError("At least one root joint is required")
    return tuple(JOINT_INDEX[r] for r in roots)


def torso_ends(joints_2d):
    """The middle of the hips and the middle of the shoulders of (..., 17, 2) joints: the two points whose
    line the crops are turned upright along (as BlazePose aligns on its hips and shoulders)."""
    hips = (joints_2d[..., JOINT_INDEX["r_hip"], :] + joints_2d[..., JOINT_INDEX["l_hip"], :]) / 2
    shoulders = (joints_2d[..., JOINT_INDEX["r_shoulder"], :] + joints_2d[..., JOINT_INDEX["l_shoulder"], :]) / 2
    return hips, shoulders
