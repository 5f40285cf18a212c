"""The paper's Table 2: the four variants trained with one budget over several seeds, then evaluated."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from tfpose3d import skeleton
from tfpose3d.config import VARIANTS
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import evaluate
from tfpose3d.presets import train_preset
from tfpose3d.train import train

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


def ablate(preset: str, out_dir: str | os.PathLike, data: str | None = None, seeds: Sequence[int] = (0,),
           **overrides: Any) -> dict[str, pd.DataFrame]:
    """Train and evaluate every variant for every seed into out_dir/<variant>-s<seed>; write out_dir/ablation.md.

    Returns the per-variant table (mean and standard deviation over seeds), the paired steps of the paper's
    ordering, MPJPE per action (mean over seeds) and every run's row (with its final training losses, to show
    the 2D and weighted 3D terms on the same scale in every variant), and MPJPE by distance from the pelvis and
    from the nearest root. A run already finished is resumed, not retrained.
    """
    out = Path(out_dir)
    rows, per_action, per_joint = [], [], []
    for seed in seeds:
        for variant in VARIANTS:
            config = train_preset(preset, {"variant": variant}, **overrides, seed=seed)
            start = time.perf_counter()
            train(config, out / f"{variant}-s{seed}", data)
            seconds = time.perf_counter() - start
            source = open_source(data, config.render_options)  # the same data for every variant
            result = evaluate(out / f"{variant}-s{seed}", source)
            summary = result["summary"].iloc[0]
            history = pd.read_csv(out / f"{variant}-s{seed}" / "history.csv")
            last, val = history.iloc[-1], history["val_pose_3d_mpjpe"]
            best_epoch = int(val.idxmin())
            rows.append({"variant": variant, "seed": seed, "MPJPE (mm)": summary["MPJPE (mm)"],
                         "P-MPJPE (mm)": summary["P-MPJPE (mm)"], "loss_2d": last["loss_2d"],
                         "λ3D·loss_3d": config.model.loss_weight_3d * last["loss_3d"],
                         "best val epoch": f"{best_epoch + 1}/{config.epochs}",
                         # Near zero when validation has stopped improving by the end of the budget.
                         "val change, last 3 epochs (mm)": val.iloc[-1] - val.iloc[max(len(val) - 4, 0)],
                         "train seconds": round(seconds)})
            per_action.append(result["per_action"].assign(variant=variant, seed=seed))
            per_joint.append(result["per_joint"].assign(variant=variant, seed=seed))
    runs = pd.DataFrame(rows)
    table = runs.groupby("variant", sort=False).agg(**{
        "MPJPE (mm)": ("MPJPE (mm)", "mean"), "sd (mm)": ("MPJPE (mm)", "std"),
        "P-MPJPE (mm)": ("P-MPJPE (mm)", "mean"), "seeds": ("seed", "count")}).reset_index()
    table["paper MPJPE (mm, H36M)"] = table["variant"].map(PAPER_TABLE2_AVERAGE_MM)
    actions = pd.concat(per_action).pivot_table(index="action", columns="variant", values="MPJPE (mm)", aggfunc="mean")
    actions = actions[list(VARIANTS)]
    steps = steps_table(runs)
    joints = pd.concat(per_joint)
    by_distance, by_root = distance_table(joints), distance_table(joints, config.model.roots)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("ablation", table), ("ablation_steps", steps), ("ablation_runs", runs),
                        ("ablation_by_distance", by_distance), ("ablation_by_root", by_root)):
        frame.to_csv(out / f"{name}.csv", index=False)
    actions.to_csv(out / "ablation_per_action.csv")
    (out / "ablation.md").write_text(
        f"# Ablation ({preset} preset, seeds {list(seeds)}, test data {source.spec})\n\n"
        f"{table.to_markdown(index=False, floatfmt='.1f')}\n\n## The paper's ordering, step by step (paired by seed)\n\n"
        f"{steps.to_markdown(index=False, floatfmt='.1f')}\n\n## Every run\n\n{runs.to_markdown(index=False, floatfmt='.1f')}\n\n"
        f"## MPJPE per action (mm, mean over seeds)\n\n{actions.to_markdown(floatfmt='.0f')}\n\n"
        f"## MPJPE by distance from the pelvis (mm, mean over joints and seeds)\n\n"
        f"{by_distance.to_markdown(index=False, floatfmt='.1f')}\n\n"
        f"## MPJPE by distance from the nearest of the roots {list(config.model.roots)}\n\n"
        f"{by_root.to_markdown(index=False, floatfmt='.1f')}\n\nOverrides: {json.dumps(overrides)}\n"
    )
    return {"variants": table, "steps": steps, "per_action": actions, "runs": runs, "by_distance": by_distance,
            "by_root": by_root}
