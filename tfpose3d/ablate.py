"""The paper's Table 2: the four variants trained with one budget and seed, then evaluated."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from tfpose3d.config import VARIANTS
from tfpose3d.evaluate import evaluate
from tfpose3d.presets import train_preset
from tfpose3d.data.sources import open_source
from tfpose3d.train import train

PAPER_TABLE2_AVERAGE_MM = {"baseline": 125.5, "multi_root": 122.7, "cls2d": 118.2, "full": 116.2}


def ablate(preset: str, out_dir: str | os.PathLike, data: str | None = None, **overrides: Any) -> pd.DataFrame:
    """Train and evaluate every variant into out_dir/<variant>; write out_dir/ablation.{csv,md}."""
    out = Path(out_dir)
    rows, per_action = [], {}
    for variant in VARIANTS:
        config = train_preset(preset, {"variant": variant}, **overrides)
        start = time.perf_counter()
        train(config, out / variant, data)
        seconds = time.perf_counter() - start
        source = open_source(data, config.render_options)  # the same data for every variant
        result = evaluate(out / variant, source)
        summary = result["summary"].iloc[0]
        per_action[variant] = result["per_action"].set_index("action")["MPJPE (mm)"]
        rows.append({"variant": variant, "MPJPE (mm)": summary["MPJPE (mm)"], "P-MPJPE (mm)": summary["P-MPJPE (mm)"],
                     "paper MPJPE (mm, H36M)": PAPER_TABLE2_AVERAGE_MM[variant], "train seconds": round(seconds)})
    table = pd.DataFrame(rows)
    actions = pd.DataFrame(per_action).T.rename_axis("variant")
    table.to_csv(out / "ablation.csv", index=False)
    actions.to_csv(out / "ablation_per_action.csv")
    (out / "ablation.md").write_text(
        f"# Ablation ({preset} preset, test data {source.spec})\n\n"
        f"{table.to_markdown(index=False, floatfmt='.1f')}\n\n## MPJPE per action (mm)\n\n"
        f"{actions.to_markdown(floatfmt='.0f')}\n\nOverrides: {json.dumps(overrides)}\n"
    )
    return table
