"""The ablation's verdict on each step of the paper's ordering, by hand."""

import pandas as pd
import pytest

from tfpose3d import skeleton
from tfpose3d.table2 import distance_table, steps_table


def runs(mpjpe: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "seed": s, "MPJPE (mm)": e} for v, errors in mpjpe.items() for s, e in enumerate(errors)])


def test_steps_paired_by_seed():
    steps = steps_table(runs({
        "baseline": [120.0, 130.0, 125.0],
        "multi_root": [118.0, 128.0, 122.0],  # -2, -2, -3: lower on every seed, mean -2.33, sd 0.58
        "cls2d": [121.0, 129.0, 124.0],  # +1, -1, -1: mean -0.33, sd 1.15
        "full": [118.0, 128.0, 121.0],
    })).set_index("step")
    row = steps.loc["baseline -> multi_root"]
    assert row["mean change (mm)"] == pytest.approx(-7 / 3) and row["sd (mm)"] == pytest.approx(0.57735, rel=1e-4)
    assert row["verdict"] == "lower beyond the spread" and row["paper (mm)"] == pytest.approx(-2.8)
    assert steps.loc["baseline -> cls2d", "verdict"] == "lower, within the spread"
    # Paired: the seeds' own spread (10 mm between seeds) does not hide a step every seed agrees on.
    assert steps.loc["cls2d -> full", "verdict"] == "lower beyond the spread"


def test_a_step_that_goes_up_is_called_higher():
    steps = steps_table(runs({"baseline": [100.0, 101.0], "multi_root": [103.0, 105.0], "cls2d": [99.0, 100.0],
                              "full": [104.0, 104.5]})).set_index("step")
    assert steps.loc["baseline -> multi_root", "verdict"] == "higher beyond the spread"


def test_bone_distance_by_hand():
    from_pelvis = dict(zip(skeleton.JOINT_NAMES, skeleton.bone_distance([skeleton.JOINT_INDEX["pelvis"]])))
    # pelvis -> spine -> thorax -> l_shoulder -> l_elbow -> l_wrist; pelvis -> spine -> thorax -> neck -> head
    assert (from_pelvis["pelvis"], from_pelvis["r_hip"], from_pelvis["r_ankle"]) == (0, 1, 3)
    assert (from_pelvis["head"], from_pelvis["l_wrist"], from_pelvis["r_elbow"]) == (4, 5, 4)
    # The six default roots leave every joint a root or one bone from one.
    from_roots = skeleton.bone_distance(skeleton.root_indices(skeleton.DEFAULT_ROOTS))
    assert max(from_roots) == 1 and from_roots.count(0) == 6


def test_distance_table_averages_joints_at_each_distance():
    rows = []
    for variant, extra in (("baseline", 0.0), ("multi_root", -4.0), ("cls2d", 1.0), ("full", -1.0)):
        for seed in (0, 1):
            for joint in skeleton.JOINT_NAMES:
                far = joint in ("l_wrist", "r_wrist")  # five bones from the pelvis
                error = 0.0 if joint == "pelvis" else 100.0 + 10 * seed + (extra if far else 0.0) + (50.0 if joint == "r_wrist" else 0.0)
                rows.append({"variant": variant, "seed": seed, "joint": joint, "MPJPE (mm)": error})
    table = distance_table(pd.DataFrame(rows)).set_index("bones from pelvis")
    assert list(table.index) == [1, 2, 3, 4, 5]  # the pelvis left out
    assert table.loc[5, "joints"] == "l_wrist, r_wrist"
    # Wrists: (100 + 150) / 2 over joints, + 5 over seeds, + the variant's extra.
    assert table.loc[5, "baseline"] == pytest.approx(130.0) and table.loc[5, "multi_root"] == pytest.approx(126.0)
    assert table.loc[5, "baseline -> multi_root"] == pytest.approx(-4.0) and table.loc[5, "cls2d -> full"] == pytest.approx(-2.0)
    assert table.loc[1, "baseline -> multi_root"] == pytest.approx(0.0) and table.loc[1, "full"] == pytest.approx(105.0)
    # By the six default roots the wrists are one bone from an elbow root, with nine other non-root joints.
    by_root = distance_table(pd.DataFrame(rows), skeleton.DEFAULT_ROOTS).set_index("bones from the nearest root")
    assert list(by_root.index) == [0, 1]
    assert by_root.loc[0, "joints"] == "r_knee, l_knee, neck, l_elbow, r_elbow"
    # (11 * 100 + r_wrist's 50 + the wrists' extra twice) / 11 over joints, + 5 over seeds.
    assert by_root.loc[1, "multi_root"] == pytest.approx((1100.0 + 50.0 - 8.0) / 11 + 5.0)
    assert by_root.loc[0, "baseline -> multi_root"] == pytest.approx(0.0)
