"""The paper's Table 2: the four variants trained with one budget over several seeds, then evaluated."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Sequence

import pandas as pd

from tfpose3d.config import VARIANTS
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import evaluate
from tfpose3d.paths import writable
from tfpose3d.presets import train_preset
from tfpose3d.table2 import distance_table, steps_table, variant_table
from tfpose3d.train import train


def ablate(preset: str, out_dir: str | os.PathLike, data: str | None = None, seeds: Sequence[int] = (0,),
           **overrides: Any) -> dict[str, pd.DataFrame]:
    """Train and evaluate every variant for every seed into out_dir/<variant>-s<seed>; write out_dir/ablation.md.

    Returns the per-variant table (mean and standard deviation over seeds), the paired steps of the paper's
    ordering, MPJPE per action (mean over seeds) and every run's row (with its final training losses, to show
    the 2D and weighted 3D terms on the same scale in every variant), and MPJPE by distance from the pelvis and
    from the nearest root. A run already finished is resumed, not retrained.
    """
    out = writable(out_dir, "--out")
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
    table = variant_table(runs)
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
