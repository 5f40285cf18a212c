"""The body: MakeHuman's shape rules, skinning, Human3.6M's bone ratios, and retargeting from BVH."""

import json

import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.data import body, bvh, mocap
from tfpose3d.data.rotations import align, axis_angle, from_quaternion, unit

J = skeleton.JOINT_INDEX
# Real Human3.6M bone lengths (four subjects, mm): the ratio to the thigh is checked against the midpoints.
H36M = {
    ("pelvis", "r_hip"): (119, 147), ("r_knee", "r_ankle"): (438, 454), ("pelvis", "spine"): (224, 261),
    ("spine", "thorax"): (251, 257), ("thorax", "neck"): (107, 121), ("neck", "head"): (115, 115),
    ("thorax", "l_shoulder"): (140, 169), ("l_shoulder", "l_elbow"): (265, 290), ("l_elbow", "l_wrist"): (244, 252),
}
THIGH = (428 + 452) / 2


def assert_human36m_ratios(joints: np.ndarray) -> None:
    """Every bone's mean length over the thigh's within 15% of Human3.6M's ratio, over frames (F, 17, 3)."""
    thigh = np.linalg.norm(joints[:, J["r_hip"]] - joints[:, J["r_knee"]], axis=-1).mean()
    for (a, b), (lo, hi) in H36M.items():
        ratio = np.linalg.norm(joints[:, J[a]] - joints[:, J[b]], axis=-1).mean() / thigh
        expected = (lo + hi) / 2 / THIGH
        assert abs(ratio / expected - 1) < 0.15, f"{a}->{b}: ratio {ratio:.3f}, Human3.6M {expected:.3f}"


@pytest.fixture(scope="module")
def model():
    return body.BodyModel()


def test_target_weights_follow_makehuman_rules_by_hand(model):
    shape = body.Shape(sex=0.25, age=0.75, muscle=0.75, weight=0.5, height=0.8, proportions=0.5,
                       ancestry=(0.2, 0.3, 0.5), limbs=(0.5, -0.25, 0, 0, 0))
    w = dict(zip(map(str, model.target_names), model.target_weights(shape)))
    # female 0.75 x (young 0.5, old 0.5) x muscle (average 0.5, max 0.5) x weight average 1.
    assert w["macrodetails/universal-female-old-maxmuscle-averageweight"] == pytest.approx(0.75 * 0.5 * 0.5)
    assert w["macrodetails/universal-male-young-averagemuscle-averageweight"] == pytest.approx(0.25 * 0.5 * 0.5)
    assert w["macrodetails/universal-male-young-minmuscle-averageweight"] == 0.0
    # height 0.8 -> maxheight 0.6, on top of the same four factors.
    assert w["macrodetails/height/female-old-maxmuscle-averageweight-maxheight"] == pytest.approx(0.75 * 0.5 * 0.5 * 0.6)
    assert w["macrodetails/height/female-old-maxmuscle-averageweight-minheight"] == 0.0
    assert w["macrodetails/asian-male-old"] == pytest.approx(0.3 * 0.25 * 0.5)
    assert w["legs/measure-upperleg-height-incr"] == 0.5 and w["legs/measure-upperleg-height-decr"] == 0.0
    assert w["legs/measure-lowerleg-height-decr"] == 0.25
    # The body is the rest mesh plus exactly those targets.
    points = model.points + (np.array([w[str(n)] for n in model.target_names]) @ model.deltas).reshape(-1, 3)
    np.testing.assert_allclose(model.body(shape).vertices, points[: model.num_vertices], atol=1e-6)


def test_undoing_the_rest_rotations_gives_the_rest_mesh(model):
    shaped = model.body(body.sample_shape(np.random.default_rng(0)))
    # Motion-bone rotations that cancel each first rig bone's rest rotation leave every rig bone unturned.
    rotations = np.empty((len(body.MOTION_BONES), 3, 3))
    for b, name in enumerate(shaped.bone_names):
        rotations[shaped.drivers[b]] = shaped.rest_rotations[b].T
    vertices, joints = shaped.pose(rotations, shaped.bone_heads[0])
    np.testing.assert_allclose(vertices, shaped.vertices, atol=1e-6)
    np.testing.assert_allclose(joints, shaped.joints, atol=1e-6)


def test_turning_a_forearm_moves_only_that_hand(model):
    shaped = model.body()
    rest = body.canonical_rotations()
    turned = rest.copy()
    turned[body.MOTION_BONE_NAMES.index("l_forearm")] = align(body.LEFT, body.UP)
    _, a = shaped.pose(rest, np.zeros(3))
    _, b = shaped.pose(turned, np.zeros(3))
    moved = np.linalg.norm(a - b, axis=-1) > 1e-6
    assert moved.tolist() == [n == "l_wrist" for n in skeleton.JOINT_NAMES]
    # The forearm now points up, keeping its length.
    np.testing.assert_allclose(unit(b[J["l_wrist"]] - b[J["l_elbow"]]), body.UP, atol=1e-9)
    assert np.linalg.norm(b[J["l_wrist"]] - b[J["l_elbow"]]) == pytest.approx(np.linalg.norm(a[J["l_wrist"]] - a[J["l_elbow"]]))


def test_bodies_differ_in_size_and_proportion(model):
    rng = np.random.default_rng(1)
    bodies = [model.body(body.sample_shape(rng)) for _ in range(200)]
    heights = np.array([np.ptp(b.vertices[:, 1]) for b in bodies])
    assert heights.min() < 1600 and heights.max() > 1800
    joints = np.stack([b.joints for b in bodies])
    thigh = np.linalg.norm(joints[:, J["r_hip"]] - joints[:, J["r_knee"]], axis=-1)
    forearm = np.linalg.norm(joints[:, J["l_elbow"]] - joints[:, J["l_wrist"]], axis=-1)
    # Proportions vary, not only scale: the forearm/thigh ratio spreads.
    assert np.std(forearm / thigh) > 0.02
    assert_human36m_ratios(model.body().joints[None])


# A skeleton for synthetic BVH files: name, parent, T-pose position (cm, Y up, facing +Z, left = +X).
def _skeleton(naming: str) -> list[tuple[str, str | None, tuple[float, float, float]]]:
    if naming == "cmu":
        spine = [("Hips", None, (0, 95, 0)), ("LowerBack", "Hips", (0, 105, 0)), ("Spine", "LowerBack", (0, 118, 0)),
                 ("Spine1", "Spine", (0, 132, 0)), ("Neck", "Spine1", (0, 146, 0)), ("Neck1", "Neck", (0, 152, 0)),
                 ("Head", "Neck1", (0, 158, 0))]
        side = [("{Side}Shoulder", "Spine1", (2, 142, 0)), ("{Side}Arm", "{Side}Shoulder", (17, 142, 0)),
                ("{Side}ForeArm", "{Side}Arm", (45, 142, 0)), ("{Side}Hand", "{Side}ForeArm", (70, 142, 0)),
                ("{Side}FingerBase", "{Side}Hand", (78, 142, 0)),
                ("{S}HipJoint", "Hips", (1, 95, 0)), ("{Side}UpLeg", "{S}HipJoint", (10, 92, 0)),
                ("{Side}Leg", "{Side}UpLeg", (10, 50, 0)), ("{Side}Foot", "{Side}Leg", (10, 8, 0)),
                ("{Side}ToeBase", "{Side}Foot", (10, 1, 14))]
    else:
        spine = [("Hips", None, (0, 95, 0)), ("Spine", "Hips", (0, 110, 0)), ("Chest", "Spine", (0, 125, 0)),
                 ("Neck", "Chest", (0, 146, 0)), ("Head", "Neck", (0, 155, 0))]
        side = [("Shoulder_{S}", "Chest", (3, 142, 0)), ("UpperArm_{S}", "Shoulder_{S}", (17, 142, 0)),
                ("LowerArm_{S}", "UpperArm_{S}", (45, 142, 0)), ("Hand_{S}", "LowerArm_{S}", (70, 142, 0)),
                ("UpperLeg_{S}", "Hips", (10, 92, 0)), ("LowerLeg_{S}", "UpperLeg_{S}", (10, 50, 0)),
                ("Foot_{S}", "LowerLeg_{S}", (10, 8, 0)), ("Toes_{S}", "Foot_{S}", (10, 1, 14))]
    out = list(spine)
    for sign, s, side_name in ((1, "L", "Left"), (-1, "R", "Right")):
        for name, parent, (x, y, z) in side:
            fill = lambda t: t.format(S=s, Side=side_name)  # noqa: E731
            out.append((fill(name), fill(parent), (sign * x, y, z)))
    return out


def _euler_zyx(m: np.ndarray) -> np.ndarray:
    """Degrees (z, y, x) with m = Rz Ry Rx."""
    y = -np.arcsin(np.clip(m[..., 2, 0], -1, 1))
    return np.degrees(np.stack([np.arctan2(m[..., 1, 0], m[..., 0, 0]), y, np.arctan2(m[..., 2, 1], m[..., 2, 2])], -1))


def _random_rotation(rng, degrees):
    axis = unit(rng.normal(size=3))
    angle = np.radians(rng.uniform(-degrees, degrees))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def write_bvh(path, naming: str, frames: int = 12, along_x: bool = False, seed: int = 0) -> None:
    """A BVH of random poses. `along_x`: every joint's local frame has its bone on x (Bandai Namco's rest)."""
    rng = np.random.default_rng(seed)
    joints = _skeleton(naming)
    names = [n for n, _, _ in joints]
    parent = [names.index(p) if p else -1 for _, p, _ in joints]
    tpose = np.array([p for _, _, p in joints], float)
    orient = []
    for j in range(len(joints)):
        children = [c for c in range(len(joints)) if parent[c] == j]
        bone = tpose[children[0]] - tpose[j] if children and along_x else None
        orient.append(align([1.0, 0, 0], bone) if bone is not None else np.eye(3))
    # World pose of each bone relative to the T-pose: a random turn per joint, composed down the tree.
    world = np.empty((frames, len(joints), 3, 3))
    for f in range(frames):
        for j in range(len(joints)):
            turn = _random_rotation(rng, 180 if parent[j] < 0 else 40)
            world[f, j] = turn if parent[j] < 0 else world[f, parent[j]] @ turn
    glob = world @ np.array(orient)
    lines = ["HIERARCHY"]

    def emit(j):
        offset = tpose[j] - (tpose[parent[j]] if parent[j] >= 0 else 0)
        if parent[j] >= 0:
            offset = orient[parent[j]].T @ offset
        lines.append(("ROOT " if parent[j] < 0 else "JOINT ") + names[j])
        lines.append("{")
        lines.append("OFFSET %.6f %.6f %.6f" % tuple(offset))
        lines.append("CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" if parent[j] < 0
                     else "CHANNELS 3 Zrotation Yrotation Xrotation")
        kids = [c for c in range(len(joints)) if parent[c] == j]
        for c in kids:
            emit(c)
        if not kids:
            lines.extend(["End Site", "{", "OFFSET 0 0 0", "}"])
        lines.append("}")

    emit(0)
    order = []

    def walk(j):
        order.append(j)
        for c in range(len(joints)):
            if parent[c] == j:
                walk(c)

    walk(0)
    rows = []
    for f in range(frames):
        values = list(tpose[0] + rng.normal(0, 20, 3) * [1, 0.1, 1])
        for j in order:
            local = glob[f, j] if parent[j] < 0 else glob[f, parent[j]].T @ glob[f, j]
            values += list(_euler_zyx(local))
        rows.append(" ".join("%.6f" % v for v in values))
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333", *rows]
    path.write_text("\n".join(lines))


# Rig bones (their head to the next one's head) and the BVH joints that span the same limb in each naming.
RIG_LIMBS = (("LeftUpLeg", "LeftLeg"), ("RightLeg", "RightFoot"), ("LeftArm", "LeftForeArm"), ("RightForeArm", "RightHand"),
             ("LeftShoulder", "LeftArm"), ("Spine1", "Neck"))
LIMBS = {
    "cmu": RIG_LIMBS,
    "bandai-namco": (("UpperLeg_L", "LowerLeg_L"), ("LowerLeg_R", "Foot_R"), ("UpperArm_L", "LowerArm_L"),
                     ("LowerArm_R", "Hand_R"), ("Shoulder_L", "UpperArm_L"), ("Chest", "Neck")),
}


@pytest.mark.parametrize("naming, along_x", [("cmu", False), ("bandai-namco", True), ("bandai-namco", False)])
def test_bvh_drives_the_body_limb_for_limb(tmp_path, model, naming, along_x):
    path = tmp_path / "m.bvh"
    write_bvh(path, naming, along_x=along_x)
    motion = bvh.parse_bvh(path.read_text())
    positions = motion.globals()[1]
    index = {n: i for i, n in enumerate(motion.names)}
    poses = mocap.from_bvh_files([path])
    shaped = model.body()
    joints = poses.joints(shaped)
    assert_human36m_ratios(joints)
    # Each limb of the posed body points where the file's limb points (within 1 degree).
    heads = []
    for f in range(len(poses)):
        rot, trans = shaped.bone_transforms(from_quaternion(poses.rotations[f]), np.zeros(3))
        heads.append(np.einsum("bij,bj->bi", rot, shaped.bone_heads) + trans)
    heads = np.stack(heads)
    for (a, b), (ja, jb) in zip(RIG_LIMBS, LIMBS[naming]):
        ours = unit(heads[:, shaped.bone_names.index(b)] - heads[:, shaped.bone_names.index(a)])
        theirs = unit(positions[:, index[jb]] - positions[:, index[ja]])
        assert np.degrees(np.arccos(np.clip(np.sum(ours * theirs, -1), -1, 1))).max() < 1.0, (a, b)


def test_joint_map_names_any_skeleton(tmp_path, model, capsys):
    path = tmp_path / "odd.bvh"
    write_bvh(path, "cmu")
    path.write_text(path.read_text().replace("Left", "Port").replace("Right", "Starboard"))
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "--joint-map" in capsys.readouterr().err
    bones = {b: [j.replace("Left", "Port").replace("Right", "Starboard") if j else None for j in pair]
             for b, pair in bvh.CMU["bones"].items()}
    joint_map = tmp_path / "map.json"
    joint_map.write_text(json.dumps({"unit_mm": 10.0, "bones": bones}))
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "p.npz"), "--joint-map", str(joint_map)]) == 0
    poses = mocap.load_motion(tmp_path / "p.npz")
    assert poses.fps == pytest.approx(30.0, rel=1e-3) and len(poses) == 12
    assert_human36m_ratios(poses.joints(model.body()))
    # The same file under CMU's names gives the same motion.
    write_bvh(tmp_path / "cmu.bvh", "cmu")
    np.testing.assert_allclose(mocap.from_bvh_files([tmp_path / "cmu.bvh"]).rotations, poses.rotations, atol=1e-4)
    joint_map.write_text(json.dumps({"unit_mm": 10.0, "bones": {**bones, "hips": ["Hips"]}}))
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "q.npz"), "--joint-map", str(joint_map)]) == 2
    assert "[joint, end joint or null]; not so for ['hips']" in capsys.readouterr().err


def test_shipped_motion_poses_bodies_with_human36m_ratios(model):
    poses = mocap.load_motion("bandai-namco")
    frames = np.linspace(0, len(poses) - 1, 60).astype(int)
    assert_human36m_ratios(poses.joints(model.body(), frames))
    # Quaternions survive the int16 file format as rotations.
    r = from_quaternion(poses.rotations[frames])
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-3)


def test_axis_angle_by_hand():
    quarter = axis_angle([2.0, 0, 0], np.pi / 2)  # the axis need not be unit length
    np.testing.assert_allclose(quarter @ body.UP, body.FORWARD, atol=1e-12)  # y turns to z about x
    np.testing.assert_allclose(quarter @ [1.0, 0, 0], [1.0, 0, 0], atol=1e-12)
    axis, angle = np.array([1.0, 2, 3]), 0.7
    r = axis_angle(axis, angle)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.trace(r) == pytest.approx(1 + 2 * np.cos(angle)) and np.linalg.det(r) == pytest.approx(1)


def test_parent_relative_rotations_round_trip():
    world = from_quaternion(mocap.load_motion("bandai-namco").rotations[:5])
    for frame in world:
        np.testing.assert_allclose(mocap._world(mocap._local(frame)), frame, atol=1e-9)
    assert list(body.MOTION_PARENTS) == list(body.MOTION_BONE_NAMES)  # parents first, as `_world` needs


def test_varied_poses_keep_the_body_and_bend_as_people_do(model):
    poses = mocap.load_motion("bandai-namco").select("train")
    shaped = model.body(body.sample_shape(np.random.default_rng(1)))
    bones = np.array(skeleton.BONES)
    moved = []
    for i, frame in enumerate(np.random.default_rng(2).integers(len(poses), size=40)):
        turns = poses.vary(int(frame), np.random.default_rng(i))
        _, captured = poses.pose(shaped, int(frame))
        vertices, joints = poses.pose(shaped, int(frame), turns)
        np.testing.assert_allclose(turns @ np.swapaxes(turns, -1, -2), np.broadcast_to(np.eye(3), turns.shape), atol=1e-9)
        # The same skeleton, at the same place: only its bones turned. Shins, forearms and the hips keep their
        # lengths exactly. (Human3.6M's shoulders, hips and spine sit off the pivots they turn about, so upper
        # arms, thighs and the trunk stretch as they turn, in captured poses too: by up to 13% in these.)
        length = lambda j: np.linalg.norm(j[bones[:, 0]] - j[bones[:, 1]], axis=-1)
        rigid = [skeleton.BONES.index((J[a], J[b])) for a, b in (("r_knee", "r_ankle"), ("l_knee", "l_ankle"),
                 ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"), ("pelvis", "r_hip"), ("pelvis", "l_hip"))]
        np.testing.assert_allclose(length(joints)[rigid], length(captured)[rigid], rtol=1e-9)
        np.testing.assert_allclose(joints[0], captured[0], atol=1e-9)
        # Knees bend backwards only: the shin never points ahead of its thigh's front.
        for side in "lr":
            thigh_front = turns[body.MOTION_BONE_NAMES.index(f"{side}_thigh")] @ body.FORWARD
            shin = unit(joints[J[f"{side}_ankle"]] - joints[J[f"{side}_knee"]])
            assert shin @ thigh_front < 1e-3
        moved.append(np.linalg.norm(joints - captured, axis=-1).mean())
    # Most poses are new ones: joints move by a hand's width or more on average.
    assert np.mean(np.array(moved) > 50) > 0.6


def test_sitting_bends_only_the_legs_forward_at_the_hips_and_back_at_the_knees():
    poses = mocap.load_motion("bandai-namco").select("train")
    bone = body.MOTION_BONE_NAMES.index
    legs = [bone(f"{side}_{b}") for side in "lr" for b in ("thigh", "shin", "foot")]
    rng = np.random.default_rng(0)
    for frame in rng.integers(len(poses), size=50):
        captured = poses.turns(int(frame))
        seated = mocap.sit(captured, rng)
        pelvis = seated[bone("hips")]
        for side in "lr":
            thigh = pelvis.T @ seated[bone(f"{side}_thigh")] @ body.DOWN  # in the pelvis's own frame
            shin = pelvis.T @ seated[bone(f"{side}_shin")] @ body.DOWN
            assert thigh @ body.FORWARD > np.cos(np.radians(50))  # forward, within 50 degrees of level
            assert shin @ body.DOWN > np.cos(np.radians(60))  # hanging down, not kicked forward or back up
            # The knee bends backwards, as knees do: the shin runs behind the thigh's line.
            assert shin @ body.FORWARD < thigh @ body.FORWARD
        # Everything but the legs keeps the captured pose; the feet keep theirs relative to the shins.
        others = [k for k in range(len(captured)) if k not in legs]
        np.testing.assert_allclose(seated[others], captured[others], atol=1e-9)
        np.testing.assert_allclose(mocap._local(seated)[legs[2::3]], mocap._local(captured)[legs[2::3]], atol=1e-9)
