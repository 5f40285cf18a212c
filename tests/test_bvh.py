import json
import re
from pathlib import Path

import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.data import body, bvh, mocap

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "bandai-namco-mocap"

TINY = """HIERARCHY
ROOT Base
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
1 2 3 90 0 0 0 90 0
0 0 0 0 0 0 0 0 0
"""


def test_forward_kinematics_by_hand():
    motion = bvh.parse_bvh(TINY)
    assert motion.names == ["Base", "Arm", "Arm_end"] and motion.parents == [-1, 0, 1]
    pos = motion.globals()[1]
    # Frame 0: Base at (1,2,3) turned 90 deg about Z: Arm's (10,0,0) -> (0,10,0).
    # Arm turns 90 deg about X: the End Site's (0,5,0) -> (0,0,5), then Base's Z turn keeps it.
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 12, 8]], atol=1e-9)
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [10, 0, 0], [10, 5, 0]], atol=1e-9)
    assert motion.frame_time == 0.04


def test_rotation_order_follows_channel_list():
    # Z then Y (R = Rz @ Ry) differs from Y then Z: check against explicit matrices.
    text = TINY.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 2 Zrotation Yrotation")
    text = text.replace("1 2 3 90 0 0 0 90 0\n0 0 0 0 0 0 0 0 0", "0 0 0 0 0 0 90 90\n0 0 0 0 0 0 0 0")
    end = bvh.parse_bvh(text).globals()[1][0, 2] - [10, 0, 0]
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    ry = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    np.testing.assert_allclose(end, rz @ ry @ [0, 5, 0], atol=1e-9)


def test_unknown_naming_lists_joints(tmp_path, capsys):
    path = tmp_path / "odd.bvh"
    path.write_text(TINY)
    with pytest.raises(ValueError, match="Base, Arm, Arm_end"):
        bvh.import_bvh(path)
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "--joint-map" in capsys.readouterr().err
    assert not (tmp_path / "p.npz").exists()


@pytest.mark.parametrize("text, message", [
    ("hello", "not a BVH"),
    (TINY.replace("Frames: 2", "Frames: 3"), "expected 3 frames"),
    (TINY.replace("Frames: 2", "Frames: 0").split("Frame Time")[0] + "Frame Time: 0.04\n", "no frames"),
    (TINY.replace("Frame Time: 0.04", "Frame Time: 0"), "Frame Time:' must be positive"),
    (TINY.replace("OFFSET 0 0 0", "OFFSET 0 nan 0", 1), "NaN or infinite"),
    (TINY.replace("CHANNELS", "CHANNELS", 1).replace("OFFSET", "OFFSET }", 1), "malformed BVH"),
    ("HIERARCHY\n{\n OFFSET 0 0 0\n}\nMOTION\nFrames: 1\nFrame Time: 0.04\n0\n", "no ROOT, JOINT or End Site opens"),
])
def test_malformed_bvh_is_named(text, message):
    with pytest.raises(ValueError, match=message):
        bvh.parse_bvh(text, source="x.bvh")


@pytest.mark.skipif(not SHARED.is_dir(), reason="Bandai Namco BVH folder not present")
def test_bandai_clip_drives_a_body_that_walks_on_the_ground():
    path = SHARED / "dataset-1" / "dataset-1_walk_normal_001.bvh"
    rotations, root, leg, frame_time = bvh.import_bvh(path)
    assert frame_time == pytest.approx(1 / 30, rel=1e-4) and 750 < leg < 900
    poses = mocap.from_bvh_files([path])
    shaped = body.default_model().body(body.Shape(height=0.9))
    frames = range(0, len(poses), 10)
    lowest = np.array([poses.pose(shaped, f)[0][:, 1].min() for f in frames])
    # Root path scaled by leg length: the soles stay within a few centimetres of the floor (y = 0).
    assert np.abs(np.median(lowest)) < 40 and lowest.min() > -60
    joints = poses.joints(shaped, frames)
    assert np.all(joints[:, skeleton.JOINT_INDEX["head"], 1] > joints[:, 0, 1] + 300)
    # A walk goes somewhere: the pelvis travels over a metre.
    assert np.linalg.norm(joints[-1, 0, [0, 2]] - joints[0, 0, [0, 2]]) > 1000


def test_shipped_motion_set_and_its_split():
    poses = mocap.load_motion("bandai-namco")
    assert len(poses) == 37861 and len(poses.clips) == 216
    assert "CC BY-NC 4.0" in poses.source
    train, test = poses.select("train"), poses.select("test")
    assert len(train) + len(test) == len(poses)
    assert not set(poses.clips[train.clip]) & set(poses.clips[test.clip])
    assert set(poses.subjects[np.unique(test.clip)]) == {"proud", "tired", "exhausted"}
    with pytest.raises(FileNotFoundError, match="not a shipped name"):
        mocap.load_motion("cmu-all")


def test_a_damaged_or_misnamed_motion_set_is_named(tmp_path):
    shipped = mocap.SHIPPED["bandai-namco"].read_bytes()
    (tmp_path / "cut.npz").write_bytes(shipped[: len(shipped) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ("cut.npz", "empty.npz"):
        with pytest.raises(ValueError, match=f"{name}: not a tfpose3d motion set"):
            mocap.load_motion(tmp_path / name)
    with pytest.raises(ValueError, match="poses: a motion set is written as a .npz file; name it poses.npz"):
        mocap.load_motion("bandai-namco").save(tmp_path / "poses")
    assert not list(tmp_path.glob("poses*"))


def _renamed(text: str, rename) -> str:
    """BVH text with every ROOT/JOINT name passed through `rename` (End Sites have no names)."""
    return re.sub(r"^(\s*(?:ROOT|JOINT)\s+)(\S+)", lambda m: m.group(1) + rename(m.group(2)), text, flags=re.M)


BANDAI_WALK = SHARED / "dataset-1" / "dataset-1_walk_normal_001.bvh"


@pytest.mark.skipif(not SHARED.is_dir(), reason="Bandai Namco BVH folder not present")
def test_the_shape_alone_gives_back_the_hand_written_joint_map():
    # Every file of the shipped motion's source, its names ignored: the proposal is the convention written by hand.
    for path in sorted(SHARED.glob("*/*.bvh"))[::12]:
        proposal = bvh.propose_joint_map(bvh.parse_bvh(path.read_text()))
        assert proposal == {"unit_mm": 10.0, "bones": bvh.BANDAI_NAMCO["bones"]}, path.name


@pytest.mark.skipif(not SHARED.is_dir(), reason="Bandai Namco BVH folder not present")
def test_unknown_names_get_a_proposed_joint_map_that_imports_the_same_motion(tmp_path, capsys):
    names = {}
    anonymous = tmp_path / "anonymous.bvh"
    anonymous.write_text(_renamed(BANDAI_WALK.read_text(), lambda n: names.setdefault(n, f"bone{len(names):02d}")))
    out = tmp_path / "new" / "motion.npz"  # the proposal's folder is made
    assert main(["data", "import-bvh", str(anonymous), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    proposal = tmp_path / "new" / "motion.joint-map.json"
    assert "read from the skeleton's shape" in err and f"--joint-map {proposal}" in err and not out.exists()
    mapped = json.loads(proposal.read_text())
    assert mapped["bones"]["l_thigh"] == [names["UpperLeg_L"], names["LowerLeg_L"]]
    assert main(["data", "import-bvh", str(anonymous), "--out", str(out), "--joint-map", str(proposal)]) == 0
    assert len(mocap.load_motion(out)) == len(bvh.parse_bvh(BANDAI_WALK.read_text()).motion)
    for got, expected in zip(bvh.import_bvh(anonymous, bvh.load_joint_map(proposal)), bvh.import_bvh(BANDAI_WALK)):
        np.testing.assert_allclose(got, expected, atol=1e-9)


def test_mixamo_names_are_recognised_under_their_namespace():
    joints = sorted({j for pair in bvh.MIXAMO["bones"].values() for j in pair if j})
    convention = bvh.detect_convention([f"mixamorig:{j}" for j in joints] + ["mixamorig:HeadTop_End"])
    assert convention["bones"]["l_thigh"] == ["mixamorig:LeftUpLeg", "mixamorig:LeftLeg"]
    assert convention["bones"]["head"] == ["mixamorig:Head", None]
    with pytest.raises(bvh.UnknownNaming):
        bvh.detect_convention([f"rig:{j}" for j in joints[:-3]])


def _bvh(tree, frames: int = 3) -> str:
    """BVH text of a skeleton given as (name, offset, [children]) in a still pose (every rotation zero)."""
    lines, channels = ["HIERARCHY"], 0

    def write(node, depth, root=False):
        nonlocal channels
        name, offset, children = node
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {name}\n{pad}{{\n{pad}  OFFSET {' '.join(map(str, offset))}")
        lines.append(f"{pad}  CHANNELS {6 if root else 3} {'Xposition Yposition Zposition ' if root else ''}"
                     "Zrotation Xrotation Yrotation")
        channels += 6 if root else 3
        for child in children:
            write(child, depth + 1)
        if not children:
            lines.append(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET 0 -2 0\n{pad}  }}")
        lines.append(pad + "}")

    write(tree, 0, root=True)
    still = ["0 95 0" + " 0" * (channels - 3)] * frames
    return "\n".join(lines) + f"\nMOTION\nFrames: {frames}\nFrame Time: 0.0333333\n" + "\n".join(still) + "\n"


def _person(side_names):
    """A standing person, feet forward (+z), arms hanging, in centimetres; `side_names(side, part)` names limbs."""
    def leg(s, x):
        return (side_names(s, "Hip"), (x, 0, 0), [(side_names(s, "Knee"), (0, -43, 0), [
            (side_names(s, "Ankle"), (0, -42, 0), [(side_names(s, "Toe"), (0, -6, 14), [])])])])

    def arm(s, x):
        return (side_names(s, "Collar"), (x * 0.3, 20, 0), [(side_names(s, "Shoulder"), (x, 0, 0), [
            (side_names(s, "Elbow"), (0, -29, 0), [(side_names(s, "Wrist"), (0, -25, 0), [])])])])

    spine = ("Chest", (0, 10, 0), [("Chest2", (0, 11, 0), [("Chest3", (0, 10, 0), [
        ("lowerneck", (0, 14, 0), [("Head", (0, 9, 0), [])]), arm("L", 15), arm("R", -15)])])])
    return ("Hips", (0, 0, 0), [spine, leg("L", 9), leg("R", -9)])


def test_names_that_agree_with_the_shape_are_recognised(tmp_path, capsys):
    # CMU's other BVH naming (LeftHip, LeftKnee, Chest2, lowerneck, LeftCollar): no table lists it, but its
    # names agree with what the skeleton's shape says, so it imports without a joint map.
    path = tmp_path / "cmu_other.bvh"
    path.write_text(_bvh(_person(lambda s, part: ("Left" if s == "L" else "Right") + part)))
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "new" / "m.npz")]) == 0  # its folder made
    convention = bvh.detect_convention(bvh.parse_bvh(path.read_text()).names, bvh.parse_bvh(path.read_text()))
    assert convention["bones"]["l_thigh"] == ["LeftHip", "LeftKnee"] and convention["bones"]["r_foot"] == ["RightAnkle", "RightToe"]
    assert convention["bones"]["l_upper_arm"] == ["LeftShoulder", "LeftElbow"] and convention["unit_mm"] == 10.0
    assert convention["bones"]["neck"] == ["lowerneck", "Head"] and convention["bones"]["chest"] == ["Chest3", "lowerneck"]


def test_names_that_contradict_the_shape_get_a_proposal_to_check(tmp_path, capsys):
    # The person's left limbs named right: the shape is read, the names disagree, so a person must look.
    path = tmp_path / "swapped.bvh"
    path.write_text(_bvh(_person(lambda s, part: ("Right" if s == "L" else "Left") + part)))
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "m.npz")]) == 2
    proposal = json.loads((tmp_path / "m.joint-map.json").read_text())
    assert proposal["bones"]["l_thigh"] == ["RightHip", "RightKnee"]  # by the shape: the person's left
    assert "read from the skeleton's shape" in capsys.readouterr().err
