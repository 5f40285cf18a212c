"""The ablation's verdict on each step of the paper's ordering, by hand."""

import pandas as pd
import pytest

from tfpose3d.ablate import steps_table


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
