"""The Human3.6M 17-joint skeleton that every part of tfpose3d speaks.

Joint order, parents and left/right pairs follow the convention used by most
Human3.6M code (e.g. the 17-joint subset of the 32 motion-capture joints).
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


def torso_ends(joints_2d: Any) -> tuple[Any, Any]:
    """The middle of the hips and the middle of the shoulders of (..., 17, 2) joints: the two points whose
    line the crops are turned upright along (as BlazePose aligns on its hips and shoulders)."""
    hips = (joints_2d[..., JOINT_INDEX["r_hip"], :] + joints_2d[..., JOINT_INDEX["l_hip"], :]) / 2
    shoulders = (joints_2d[..., JOINT_INDEX["r_shoulder"], :] + joints_2d[..., JOINT_INDEX["l_shoulder"], :]) / 2
    return hips, shoulders


# BlazePose's landmark network gives 39 landmarks, each (x, y, z, visibility, presence) in its image output and
# (x, y, z) in its world output; the first 33 are the body's, the rest place its own crop.
BLAZEPOSE_LANDMARKS, BLAZEPOSE_BODY = 39, 33

# BlazePose's landmarks (MediaPipe's pose landmark model card) that are Human3.6M joints: the twelve limb joints.
# BlazePose's hip landmarks sit near the femoral heads, as Human3.6M's hips do.
BLAZEPOSE_SAME: dict[str, int] = {"l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15,
                                  "r_wrist": 16, "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26,
                                  "l_ankle": 27, "r_ankle": 28}
_NOSE, _EARS, _MOUTH = 0, (7, 8), (9, 10)


def blazepose_weights() -> np.ndarray:
    """(33, 17): each Human3.6M joint as a weighted sum of BlazePose's 33 landmarks (image or world alike).

    Twelve are the same joints (`BLAZEPOSE_SAME`); the pelvis and thorax are the mid-points of the hips and the
    shoulders, the spine half-way between them (Human3.6M: pelvis->spine 224-261 mm, spine->thorax 251-257),
    the neck the nose (Human3.6M's "neck" sits near it) and the head top twice as far above the ears as the
    mouth is below them (an adult head). Each column sums to one, so the joints move with the landmarks.

    Example:
    >>> weights = blazepose_weights()
    >>> weights.shape, bool(np.allclose(weights.sum(0), 1))
    ((33, 17), True)
    >>> landmarks = np.zeros((33, 2)); landmarks[[11, 12]] = [[10.0, 0.0], [20.0, 0.0]]
    >>> (landmarks.T @ weights)[:, JOINT_INDEX["thorax"]].tolist()
    [15.0, 0.0]
    """
    weights = np.zeros((BLAZEPOSE_BODY, NUM_JOINTS))
    for name, k in BLAZEPOSE_SAME.items():
        weights[k, JOINT_INDEX[name]] = 1.0
    weights[[23, 24], PELVIS] = 0.5
    weights[[11, 12], JOINT_INDEX["thorax"]] = 0.5
    weights[:, JOINT_INDEX["spine"]] = (weights[:, PELVIS] + weights[:, JOINT_INDEX["thorax"]]) / 2
    weights[_NOSE, JOINT_INDEX["neck"]] = 1.0
    weights[list(_EARS), JOINT_INDEX["head"]] = 1.5  # ears + 2 (ears - mouth), each a mid-point
    weights[list(_MOUTH), JOINT_INDEX["head"]] = -1.0
    return weights
