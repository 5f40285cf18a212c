"""A skinned MakeHuman body in many shapes, posed by motion capture, with Human3.6M's 17 joints on it.

The asset (`makehuman_body.npz`, made by `make_body_asset`) holds a reduced
MakeHuman mesh, its shape targets, a CMU-named rig with skinning weights, and
landmarks (MakeHuman's joint cubes). A `Shape` picks a body; `BodyModel.body`
blends the targets into that body's rest mesh and places the Human3.6M joints
on it; `Body.pose` poses mesh and joints by linear blend skinning.

Motion is given as one rotation per motion bone (`MOTION_BONES`) relative to
a canonical T-pose: Y up, the body facing +Z, its left towards +X, every bone
of a chain along its canonical direction. Any source (BVH, shipped poses)
converts into that form once, so every source poses the same body, and the
17 joints have one definition.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from tfpose3d import skeleton
from tfpose3d.data.rotations import align

ASSET = Path(__file__).with_name("makehuman_body.npz")
UP, DOWN, LEFT, RIGHT, FORWARD = np.eye(3)[1], -np.eye(3)[1], np.eye(3)[0], -np.eye(3)[0], np.eye(3)[2]

# Motion bone: (canonical direction, the body frame that sets its twist when estimated from positions).
MOTION_BONES: dict[str, tuple[np.ndarray, str]] = {
    "hips": (UP, "pelvis"), "lower_back": (UP, "pelvis"), "spine": (UP, "chest"), "chest": (UP, "chest"),
    "neck": (UP, "chest"), "head": (UP, "chest"),
    **{f"{s}_{b}": (d, "chest") for s, d in (("l", LEFT), ("r", RIGHT)) for b in ("clavicle", "upper_arm", "forearm", "hand")},
    **{f"{s}_{b}": (d, "pelvis") for s in "lr" for b, d in (("thigh", DOWN), ("shin", DOWN), ("foot", FORWARD))},
}
MOTION_BONE_NAMES = tuple(MOTION_BONES)
# Each motion bone's parent in the chain that carries it (the hips carry the whole body).
MOTION_PARENTS: dict[str, str | None] = {
    "hips": None, "lower_back": "hips", "spine": "lower_back", "chest": "spine", "neck": "chest", "head": "neck",
    **{f"{s}_{b}": p for s in "lr" for b, p in (("clavicle", "chest"), ("upper_arm", f"{s}_clavicle"),
                                               ("forearm", f"{s}_upper_arm"), ("hand", f"{s}_forearm"))},
    **{f"{s}_{b}": p for s in "lr" for b, p in (("thigh", "hips"), ("shin", f"{s}_thigh"), ("foot", f"{s}_shin"))},
}

# Each rig bone turns with one motion bone; the first rig bone of a motion bone sets its rest direction.
RIG_DRIVERS = {
    "Hips": "hips", "LHipJoint": "hips", "RHipJoint": "hips", "LowerBack": "lower_back", "Spine": "spine",
    "Spine1": "chest", "Neck": "neck", "Neck1": "neck", "Head": "head",
    **{f"{side}Shoulder": f"{s}_clavicle" for s, side in (("l", "Left"), ("r", "Right"))},
    **{f"{side}{part}": f"{s}_{bone}" for s, side in (("l", "Left"), ("r", "Right"))
       for part, bone in (("Arm", "upper_arm"), ("ForeArm", "forearm"), ("Hand", "hand"), ("UpLeg", "thigh"), ("Leg", "shin"), ("Foot", "foot"))},
}

# Where the Human3.6M joints sit relative to MakeHuman's landmarks. Human3.6M's joints come from its
# motion-capture skeleton, not from anatomy: against its bone lengths (four subjects), its hips sit above
# and outside the femoral heads, its shoulders nearer the sternum than the glenohumeral joints, and its
# neck and head points on the line from the thorax to the crown, the head below the crown. These
# constants give its ratios of bone to thigh length (tests/test_body.py checks them).
HIP_RAISE = 0.07  # hip joint: the femoral head moved up the thigh's line by this fraction of the thigh
HIP_WIDTH = 1.25  # ... and out from the hip centre by this factor
SHOULDER_AT = 0.8  # shoulder = sternal end of the clavicle + this x (clavicle -> glenohumeral joint)
NECK_AT, HEAD_AT = 0.35, 0.72  # fractions of the thorax -> crown line


@dataclasses.dataclass(frozen=True)
class Shape:
    """A body, in MakeHuman's modifier units.

    Args:
        sex: 0 female .. 1 male.
        age: 0.5 (25 years) .. 1.0 (90 years).
        muscle, weight, height, proportions: 0 .. 1, 0.5 average (proportions: 0 uncommon, 1 ideal).
        ancestry: weights of (african, asian, caucasian), summing to 1.
        limbs: thigh, shin, upper arm, forearm and neck length, each -1 (shorter) .. 1 (longer).
    """

    sex: float = 0.5
    age: float = 0.5
    muscle: float = 0.5
    weight: float = 0.5
    height: float = 0.5
    proportions: float = 0.5
    ancestry: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    limbs: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)


# MakeHuman's height modifier is steep and lopsided: on the average body, 0 -> 1 adds 732 mm per unit
# below 0.5 and 1,446 mm per unit above (1363, 1729 and 2452 mm tall). Heights are drawn in millimetres.
HEIGHT_MM_PER_UNIT = (732.0, 1446.0)
HEIGHT_SD_MM = 70.0  # adults of one sex (e.g. NCD-RisC 2016: about 7 cm)


def sample_shape(rng: np.random.Generator) -> Shape:
    """A random adult: the distribution documented in docs/bodies.md."""
    male = rng.random() < 0.5
    offset = float(np.clip(rng.normal(0.0, HEIGHT_SD_MM), -3 * HEIGHT_SD_MM, 3 * HEIGHT_SD_MM))
    return Shape(
        sex=float(rng.uniform(0.8, 1.0) if male else rng.uniform(0.0, 0.2)),
        age=float(rng.uniform(0.5, 0.8)),  # 25 to 64 years
        muscle=float(np.clip(rng.normal(0.5, 0.18), 0, 1)),
        weight=float(np.clip(rng.normal(0.5, 0.2), 0, 1)),
        height=0.5 + offset / HEIGHT_MM_PER_UNIT[offset > 0],
        proportions=float(rng.uniform(0.2, 1.0)),
        ancestry=tuple(float(a) for a in rng.dirichlet([1.0, 1.0, 1.0])),
        limbs=tuple(float(x) for x in np.clip(rng.normal(0.0, 0.15, 5), -1, 1)),
    )


LIMB_PARTS = ("upperleg-height", "lowerleg-height", "upperarm-length", "lowerarm-length", "neck-height")


def _factors(shape: Shape) -> dict[str, float]:
    """MakeHuman's macro modifier rules: each named level's weight for `shape` (a target multiplies some)."""
    def levels(value: float, names: tuple[str, str, str]) -> dict[str, float]:
        low, high = max(0.0, 1.0 - 2.0 * value), max(0.0, 2.0 * value - 1.0)
        return dict(zip(names, (low, 1.0 - low - high, high)))

    return {
        "female": 1.0 - shape.sex, "male": shape.sex, "young": 2.0 - 2.0 * shape.age, "old": 2.0 * shape.age - 1.0,
        **levels(shape.muscle, ("minmuscle", "averagemuscle", "maxmuscle")),
        **levels(shape.weight, ("minweight", "averageweight", "maxweight")),
        **{k: v for k, v in levels(shape.height, ("minheight", "", "maxheight")).items() if k},
        **{k: v for k, v in levels(shape.proportions, ("uncommonproportions", "", "idealproportions")).items() if k},
        **dict(zip(("african", "asian", "caucasian"), shape.ancestry)),
        **{f"{part}-incr": max(0.0, v) for part, v in zip(LIMB_PARTS, shape.limbs)},
        **{f"{part}-decr": max(0.0, -v) for part, v in zip(LIMB_PARTS, shape.limbs)},
    }


def target_factors(names: np.ndarray) -> list[list[str]]:
    """For each target (a path under MakeHuman's targets/), the levels whose weights multiply to its weight."""
    out = []
    for name in map(str, names):
        stem = name.rsplit("/", 1)[-1]
        if stem.startswith("measure-"):
            out.append([stem.removeprefix("measure-")])
        else:
            out.append(stem.removeprefix("universal-").split("-"))
    return out


@dataclasses.dataclass
class Body:
    """One shaped body in its rest pose (MakeHuman's A-pose, mm, Y up, facing +Z).

    Attributes:
        vertices: (V, 3) rest mesh. faces: (F, 3) triangles.
        bone_heads: (B, 3) rest head of each rig bone; parents: (B,).
        rest_rotations: (B, 3, 3) per rig bone, from its rest direction to the canonical one.
        drivers: (B,) index into MOTION_BONE_NAMES of the motion bone that turns each rig bone.
        skin_bones, skin_weights: (V, 4) linear blend skinning.
        joints: (17, 3) Human3.6M joints at rest; joint_bones: (17,) the rig bone each moves with.
        leg_length: mean hip-knee-ankle length (mm), to scale a motion's root translation.
        part: (V,) the rig bone with the largest weight, for materials.
        landmarks: MakeHuman's joint landmarks at rest ("l-knee", "crown", ...), for materials.
    """

    vertices: np.ndarray
    faces: np.ndarray
    bone_names: tuple[str, ...]
    bone_heads: np.ndarray
    parents: np.ndarray
    rest_rotations: np.ndarray
    drivers: np.ndarray
    skin_bones: np.ndarray
    skin_weights: np.ndarray
    joints: np.ndarray
    joint_bones: np.ndarray
    leg_length: float
    part: np.ndarray
    landmarks: dict[str, np.ndarray]
    shape: Shape

    def bone_transforms(self, rotations: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World rotation (B, 3, 3) and translation (B, 3) of every rig bone, for motion-bone `rotations`."""
        rot = rotations[self.drivers] @ self.rest_rotations
        heads = np.empty_like(self.bone_heads)
        for b, p in enumerate(self.parents):  # parents come before children in the asset
            heads[b] = root if p < 0 else heads[p] + rot[p] @ (self.bone_heads[b] - self.bone_heads[p])
        return rot, heads - np.einsum("bij,bj->bi", rot, self.bone_heads)

    def pose(self, rotations: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posed mesh vertices (V, 3) and Human3.6M joints (17, 3), mm.

        Args:
            rotations: (len(MOTION_BONES), 3, 3) rotations from the canonical T-pose.
            root: (3,) where the pelvis goes, in this body's scale.
        """
        rot, trans = self.bone_transforms(rotations, root)
        blend = np.concatenate([rot, trans[..., None]], -1)  # (B, 3, 4)
        mats = np.einsum("vk,vkij->vij", self.skin_weights, blend[self.skin_bones])
        vertices = np.einsum("vij,vj->vi", mats[..., :3], self.vertices) + mats[..., 3]
        joints = np.einsum("jik,jk->ji", rot[self.joint_bones], self.joints) + trans[self.joint_bones]
        return vertices, joints


class BodyModel:
    """The shipped body: `model.body(shape)` gives a `Body`; shaping costs about a millisecond."""

    def __init__(self, path: str | Path = ASSET):
        with np.load(path, allow_pickle=False) as data:
            self.points = data["points"].astype(np.float64)
            self.deltas = data["deltas"].astype(np.float32).reshape(len(data["deltas"]), -1)
            self.target_names = data["target_names"]
            self.num_vertices = int(data["num_vertices"])
            self.faces = data["faces"].astype(np.int32)
            self.bone_names = tuple(map(str, data["bone_names"]))
            self.parents = data["bone_parents"].astype(np.int64)
            self.bone_ends = list(zip(map(str, data["bone_heads"]), map(str, data["bone_tails"])))
            self.landmarks = dict(zip(map(str, data["landmark_names"]), data["landmark_points"].tolist()))
            self.skin_bones = data["skin_bones"].astype(np.int64)
            self.skin_weights = data["skin_weights"].astype(np.float64)
        self.skin_weights /= self.skin_weights.sum(1, keepdims=True)
        self.drivers = np.array([MOTION_BONE_NAMES.index(RIG_DRIVERS[n]) for n in self.bone_names])
        self.part = self.skin_bones[:, 0]
        # Target weights as products of level weights, gathered by index: shaping a body stays ~1 ms.
        self.levels = tuple(_factors(Shape()))
        table = target_factors(self.target_names)
        self.factor_index = np.full((len(table), max(map(len, table))), len(self.levels))
        for t, fs in enumerate(table):
            self.factor_index[t, : len(fs)] = [self.levels.index(f) for f in fs]
        self.first_bone = np.array([self.bone_names.index(next(b for b in self.bone_names if RIG_DRIVERS[b] == RIG_DRIVERS[n]))
                                    for n in self.bone_names])
        self.canonical = np.stack([MOTION_BONES[RIG_DRIVERS[n]][0] for n in self.bone_names])

    def target_weights(self, shape: Shape) -> np.ndarray:
        """How much of each of the asset's targets (`target_names`) makes `shape`."""
        factors = _factors(shape)
        levels = np.append([factors[k] for k in self.levels], 1.0)
        return levels[self.factor_index].prod(1)

    def body(self, shape: Shape = Shape()) -> Body:
        weights = self.target_weights(shape)
        used = np.flatnonzero(weights)  # most targets are off for any one body: a third of the work
        points = self.points + (weights[used] @ self.deltas[used]).reshape(-1, 3)
        mark = {name: points[i] for name, i in self.landmarks.items()}
        mark["neck+head"] = 0.5 * (mark["neck"] + mark["head"])  # the rig's "MEAN" end of Neck/Neck1
        heads = np.stack([mark[h] for h, _ in self.bone_ends])
        tails = np.stack([mark[t] for _, t in self.bone_ends])
        # A motion bone's canonical direction is matched by the rest direction of its first rig bone.
        rest = align(tails[self.first_bone] - heads[self.first_bone], self.canonical)
        joints, bones = self._h36m_joints(mark)
        legs = [np.linalg.norm(mark[f"{s}-upper-leg"] - mark[f"{s}-knee"]) + np.linalg.norm(mark[f"{s}-knee"] - mark[f"{s}-ankle"])
                for s in "lr"]
        return Body(
            vertices=points[: self.num_vertices], faces=self.faces, bone_names=self.bone_names,
            bone_heads=heads, parents=self.parents, rest_rotations=rest, drivers=self.drivers,
            skin_bones=self.skin_bones, skin_weights=self.skin_weights, joints=joints,
            joint_bones=np.array([self.bone_names.index(b) for b in bones]), leg_length=float(np.mean(legs)),
            part=self.part, landmarks=mark, shape=shape,
        )

    @staticmethod
    def _h36m_joints(mark: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
        """The 17 joints at rest and the rig bone each is carried by."""
        hips = {s: mark[f"{s}-upper-leg"] + HIP_RAISE * (mark[f"{s}-upper-leg"] - mark[f"{s}-knee"]) for s in "lr"}
        centre = 0.5 * (hips["l"] + hips["r"])
        thorax = 0.5 * (mark["l-clavicle"] + mark["r-clavicle"])
        # Human3.6M's spine joint is mid-back: the point of the spinal column half way up from pelvis to thorax.
        column = [("spine-3", "LowerBack"), ("spine-2", "Spine"), ("spine-1", "Spine1"), ("neck", "Spine1")]
        mid = 0.5 * (centre[1] + thorax[1])
        spine, spine_bone = mark["spine-1"], "Spine"
        for (a, _), (b, bone) in zip(column, column[1:]):
            pa, pb = mark[a], mark[b]
            if pa[1] <= mid <= pb[1]:
                spine, spine_bone = pa + (mid - pa[1]) / (pb[1] - pa[1]) * (pb - pa), bone
                break
        crown = mark["crown"]
        joint = {
            "pelvis": (centre, "Hips"), "spine": (spine, spine_bone), "thorax": (thorax, "Spine1"),
            "neck": (thorax + NECK_AT * (crown - thorax), "Neck1"), "head": (thorax + HEAD_AT * (crown - thorax), "Head"),
        }
        for s, side in (("l", "Left"), ("r", "Right")):
            joint[f"{s}_hip"] = (centre + HIP_WIDTH * (hips[s] - centre), "Hips")
            joint[f"{s}_knee"] = (mark[f"{s}-knee"], f"{side}Leg")
            joint[f"{s}_ankle"] = (mark[f"{s}-ankle"], f"{side}Foot")
            clavicle = mark[f"{s}-clavicle"]
            joint[f"{s}_shoulder"] = (clavicle + SHOULDER_AT * (mark[f"{s}-shoulder"] - clavicle), f"{side}Shoulder")
            joint[f"{s}_elbow"] = (mark[f"{s}-elbow"], f"{side}ForeArm")
            joint[f"{s}_wrist"] = (mark[f"{s}-hand"], f"{side}Hand")
        return np.stack([joint[n][0] for n in skeleton.JOINT_NAMES]), [joint[n][1] for n in skeleton.JOINT_NAMES]


@functools.lru_cache(maxsize=1)
def default_model() -> BodyModel:
    """The body every render uses unless given another: the shipped mesh at its rest shape."""
    return BodyModel()


def canonical_rotations() -> np.ndarray:
    """The T-pose: every motion bone at its canonical direction."""
    return np.broadcast_to(np.eye(3), (len(MOTION_BONES), 3, 3)).copy()
