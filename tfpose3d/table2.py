"""The paper's Table 2 from runs' rows: each variant over its seeds, the steps of the paper's ordering paired by
seed, and the error by distance from the roots.

Pandas alone: `tfpose3d ablate` (trained through tf.data) and `bench/gpu_keras.py` (trained from arrays on
any Keras backend) summarise their runs with the same tables.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from tfpose3d import skeleton
from tfpose3d.config import VARIANTS

PAPER_TABLE2_AVERAGE_MM = {"baseline": 125.5, "multi_root": 122.7, "cls2d": 118.2, "full": 116.2}
# The paper's ordering, one step at a time: each step should lower the error.
STEPS = (("baseline", "multi_root"), ("baseline", "cls2d"), ("multi_root", "full"), ("cls2d", "full"))


def steps_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each step of the paper's ordering as paired differences (same seed, same data) of MPJPE.

    A step holds beyond the seeds' spread when every seed moves the same way and the mean difference is
    larger than the differences' standard deviation.
    """
    mpjpe = runs.pivot(index="seed", columns="variant", values="MPJPE (mm)")
    rows = []
    for a, b in STEPS:
        diff = (mpjpe[b] - mpjpe[a]).to_numpy()
        sd = float(diff.std(ddof=1)) if len(diff) > 1 else float("nan")
        same_way = bool(np.all(diff < 0) or np.all(diff > 0))
        rows.append({"step": f"{a} -> {b}", "mean change (mm)": diff.mean(), "sd (mm)": sd,
                     "paper (mm)": PAPER_TABLE2_AVERAGE_MM[b] - PAPER_TABLE2_AVERAGE_MM[a],
                     "verdict": ("lower" if diff.mean() < 0 else "higher") + (
                         " beyond the spread" if same_way and abs(diff.mean()) > sd else ", within the spread")})
    return pd.DataFrame(rows)


def distance_table(per_joint: pd.DataFrame, roots: Sequence[str] = ("pelvis",)) -> pd.DataFrame:
    """MPJPE by a joint's distance in bones from the nearest of `roots` (default the pelvis, the single root),
    per variant (mean over joints and seeds), with the change multiple roots make with and without 2D fusion.

    The paper's argument for several roots is that joints far from the single root gain most, so the changes
    should grow down the pelvis's table; by the multi-root models' own roots it shows whether the gain or loss
    sits at the joints they regress from. `per_joint` has one row per variant, seed and joint ("MPJPE (mm)");
    the pelvis, at zero error by construction, is left out.
    """
    bones = dict(zip(skeleton.JOINT_NAMES, skeleton.bone_distance(skeleton.root_indices(tuple(roots)))))
    frame = per_joint[per_joint["joint"] != "pelvis"].assign(bones=lambda f: f["joint"].map(bones))
    table = frame.pivot_table(index="bones", columns="variant", values="MPJPE (mm)", aggfunc="mean")[list(VARIANTS)]
    table.insert(0, "joints", frame.groupby("bones")["joint"].agg(lambda j: ", ".join(dict.fromkeys(j))))
    table["baseline -> multi_root"] = table["multi_root"] - table["baseline"]
    table["cls2d -> full"] = table["full"] - table["cls2d"]
    source = roots[0] if len(roots) == 1 else "the nearest root"
    return table.reset_index().rename(columns={"bones": f"bones from {source}"})


def _stopped(column: pd.Series) -> str:
    return ", ".join(f"{why} {n}" for why, n in column.value_counts().items())


# How a column of the runs' rows is summarised per variant, where the rows have it: a fixed-step run has its
# half-way error, a run until a plateau its validation error, epochs and ending.
SUMMARY = {"MPJPE (mm)": ("MPJPE (mm)", "mean"), "sd (mm)": ("MPJPE (mm)", "std"),
           "half-way (mm)": ("MPJPE half-way (mm)", "mean"), "val (mm)": ("val MPJPE (mm)", "mean"),
           "P-MPJPE (mm)": ("P-MPJPE (mm)", "mean"), "seeds": ("seed", "count"), "steps": ("steps", "mean"),
           "best epoch": ("best epoch", "mean"), "epochs": ("epochs", "mean"), "stopped": ("stopped", _stopped)}


def variant_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each variant over its seeds (mean, and the spread of MPJPE) beside the paper's figure; columns that start
    with "photo " are averaged too.

    Example:
    >>> runs = pd.DataFrame({"variant": ["baseline", "baseline", "full"], "seed": [0, 1, 0],
    ...                      "MPJPE (mm)": [100.0, 110.0, 90.0], "P-MPJPE (mm)": [70.0, 80.0, 60.0]})
    >>> variant_table(runs)[["variant", "MPJPE (mm)", "seeds", "paper MPJPE (mm, H36M)"]].values.tolist()
    [['baseline', 105.0, 2, 125.5], ['full', 90.0, 1, 116.2]]
    """
    columns = {**SUMMARY, **{name: (name, "mean") for name in runs.columns if name.startswith("photo ")}}
    table = runs.groupby("variant", sort=False).agg(
        **{name: how for name, how in columns.items() if how[0] in runs.columns}).reset_index()
    table["paper MPJPE (mm, H36M)"] = table["variant"].map(PAPER_TABLE2_AVERAGE_MM)
    return table
