import json
from pathlib import Path

import numpy as np
import pytest

from tfpose3d import skeleton
from tfpose3d.cli import main
from tfpose3d.data import bvh, mocap

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
    pos = motion.positions()
    # Frame 0: Base at (1,2,3) turned 90 deg about Z: Arm's (10,0,0) -> (0,10,0).
    # Arm turns 90 deg about X: the End Site's (0,5,0) -> (0,0,5), then Base's Z turn keeps it.
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 12, 8]], atol=1e-9)
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [10, 0, 0], [10, 5, 0]], atol=1e-9)
    assert motion.frame_time == 0.04


def test_rotation_order_follows_channel_list():
    # Z then Y (R = Rz @ Ry) differs from Y then Z: check against explicit matrices.
    text = TINY.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 2 Zrotation Yrotation")
    text = text.replace("1 2 3 90 0 0 0 90 0\n0 0 0 0 0 0 0 0 0", "0 0 0 0 0 0 90 90\n0 0 0 0 0 0 0 0")
    end = bvh.parse_bvh(text).positions()[0, 2] - [10, 0, 0]
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    ry = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    np.testing.assert_allclose(end, rz @ ry @ [0, 5, 0], atol=1e-9)


def _cmu_like_bvh() -> str:
    names = ["Hips", "LHipJoint", "LeftHip", "LeftKnee", "LeftAnkle", "RHipJoint", "RightHip", "RightKnee",
             "RightAnkle", "lowerback", "Chest", "Chest2", "lowerneck", "Neck", "LeftCollar", "LeftShoulder", "LeftElbow",
             "LeftWrist", "RightCollar", "RightShoulder", "RightElbow", "RightWrist", "Head"]
    # A flat chain ending at Head (with its End Site) is enough to test naming and units:
    # each joint 1 unit above the previous one.
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"]
    for name in names[1:]:
        lines += [f"JOINT {name}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Yrotation Xrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * len(names)
    lines += ["MOTION", "Frames: 1", "Frame Time: 0.0083333", " ".join(["0"] * (6 + 3 * (len(names) - 1)))]
    return "\n".join(lines), names


def test_cmu_naming_is_recognised_with_its_unit(tmp_path):
    text, names = _cmu_like_bvh()
    path = tmp_path / "cmu.bvh"
    path.write_text(text)
    joints, _ = bvh.import_bvh(path)
    unit = 0.056444 * 1000
    assert joints[0, skeleton.JOINT_INDEX["l_knee"], 1] == pytest.approx(names.index("LeftKnee") * unit, rel=1e-6)
    # head is the End Site after Head, one unit above the last joint.
    assert joints[0, skeleton.JOINT_INDEX["head"], 1] == pytest.approx(len(names) * unit, rel=1e-6)


def test_unknown_naming_lists_joints_and_joint_map_fixes_it(tmp_path, capsys):
    path = tmp_path / "odd.bvh"
    path.write_text(TINY)
    with pytest.raises(ValueError, match="Base, Arm, Arm_end"):
        bvh.import_bvh(path)
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "--joint-map" in capsys.readouterr().err
    joint_map = tmp_path / "map.json"
    joint_map.write_text(json.dumps({"unit_mm": 1.0, "joints": {name: "Arm_end" for name in skeleton.JOINT_NAMES}}))
    assert main(["data", "import-bvh", str(path), "--out", str(tmp_path / "p.npz"), "--joint-map", str(joint_map)]) == 0
    poses = mocap.load_poses(tmp_path / "p.npz")
    np.testing.assert_allclose(poses.joints[0, 5], [1, 12, 8])
    assert poses.fps == 25.0


@pytest.mark.parametrize("text, message", [
    ("hello", "not a BVH"),
    (TINY.replace("Frames: 2", "Frames: 3"), "expected 3 frames"),
    (TINY.replace("Frames: 2", "Frames: 0").split("Frame Time")[0] + "Frame Time: 0.04\n", "no frames"),
    (TINY.replace("Frame Time: 0.04", "Frame Time: 0"), "Frame Time:' must be positive"),
    (TINY.replace("OFFSET 0 0 0", "OFFSET 0 nan 0", 1), "NaN or infinite"),
    (TINY.replace("CHANNELS", "CHANNELS", 1).replace("OFFSET", "OFFSET }", 1), "malformed BVH"),
])
def test_malformed_bvh_is_named(text, message):
    with pytest.raises(ValueError, match=message):
        bvh.parse_bvh(text, source="x.bvh")


@pytest.mark.skipif(not SHARED.is_dir(), reason="Bandai Namco BVH folder not present")
def test_bandai_clip_has_rigid_bones_and_stands_upright():
    joints, frame_time = bvh.import_bvh(SHARED / "dataset-1" / "dataset-1_walk_normal_001.bvh")
    # thorax -> shoulder crosses the BVH clavicle joint, so only it may change length.
    clavicle = {(8, 11), (8, 14)}
    bones = [b for b in skeleton.BONES if b not in clavicle]
    lengths = np.stack([np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in bones], 1)
    assert np.ptp(lengths, axis=0).max() < 1.0  # mm
    assert 350 < lengths[:, bones.index((1, 2))].mean() < 450  # thigh
    assert np.all(joints[:, skeleton.JOINT_INDEX["head"], 1] > joints[:, 0, 1] + 300)
    assert frame_time == pytest.approx(1 / 30, rel=1e-4)


def test_shipped_pose_set_and_its_split():
    poses = mocap.load_poses("bandai-namco")
    assert len(poses) == 37861 and len(poses.clips) == 216
    assert "CC BY-NC 4.0" in poses.source
    train, test = poses.select("train"), poses.select("test")
    assert len(train) + len(test) == len(poses)
    assert not set(poses.clips[train.clip]) & set(poses.clips[test.clip])
    assert set(poses.subjects[np.unique(test.clip)]) == {"proud", "tired", "exhausted"}
    with pytest.raises(FileNotFoundError, match="not a shipped name"):
        mocap.load_poses("cmu-all")
