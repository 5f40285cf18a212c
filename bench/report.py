"""Print every table of docs/results.md and the README's parameter counts from their sources.

Run after the commands in docs/results.md:
    .venv/bin/python bench/report.py [--runs runs] [--main cpu-quick]
Reads the main run, runs/cpu-quick (train_summary.json, history.csv with the per-epoch real-photo error where
it was trained with --photos, evaluation/, and evaluation/photos.csv where the main job measured real
photographs), the ablation folders
runs/ablation-cpu-quick-10ep and runs/ablation-cpu-quick-10ep-seed1, and builds the four
paper-size variants to count their parameters.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

import tfpose3d
from tfpose3d.config import VARIANTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--main", default="cpu-quick", help="the main run's folder under --runs")
    args = parser.parse_args()

    print("## Parameters at 225 px (README)")
    for variant in VARIANTS:
        print(f"{variant}: {tfpose3d.build_model(tfpose3d.ModelConfig(variant=variant)).count_params():,}")

    run = args.runs / args.main
    summary = json.loads((run / "train_summary.json").read_text())
    print(f"\n## {args.main}\nmodel.fit seconds: {summary['seconds_this_process']}, parameters: {summary['parameters']:,}")
    table = pd.read_csv(run / "evaluation" / "summary.csv")
    print(table.to_markdown(index=False, floatfmt=".3g"))
    print(f"model / mean pose MPJPE: {table.iloc[0]['MPJPE (mm)'] / table.iloc[1]['MPJPE (mm)']:.1%}")
    history = pd.read_csv(run / "history.csv")
    # Runs trained with --photos also logged the real-photo error each epoch.
    watched = [c for c in ("photos_2d_error", "photos_vs_mean_2d") if c in history]
    curve = history[["epoch", "pose_3d_mpjpe", "val_pose_3d_mpjpe", "val_joints_2d_pixel_error", *watched]].copy()
    curve["epoch"] += 1
    print(curve.to_markdown(index=False, floatfmt=".3g"))
    print(pd.read_csv(run / "evaluation" / "per_action.csv").to_markdown(index=False, floatfmt=".1f"))
    print(pd.read_csv(run / "evaluation" / "per_joint.csv").set_index("joint").T.to_markdown(floatfmt=".0f"))
    photos = run / "evaluation" / "photos.csv"
    if photos.is_file():
        print(f"\n## {args.main} on the real photographs\n{pd.read_csv(photos).to_markdown(index=False, floatfmt='.3g')}")

    totals = {}
    for seed, folder in ((0, "ablation-cpu-quick-10ep"), (1, "ablation-cpu-quick-10ep-seed1")):
        path = args.runs / folder
        if not path.is_dir():
            continue
        ablation = pd.read_csv(path / "ablation.csv").set_index("variant")
        actions = pd.read_csv(path / "ablation_per_action.csv").set_index("variant")
        totals[f"seed {seed} (mm)"] = ablation["MPJPE (mm)"]
        print(f"\n## ablation, seed {seed}\n{ablation.reset_index().to_markdown(index=False, floatfmt='.1f')}")
        print(actions.to_markdown(floatfmt=".0f"))
        m = ablation["MPJPE (mm)"]
        print(f"baseline->cls2d {m.cls2d - m.baseline:+.1f}, baseline->multi_root {m.multi_root - m.baseline:+.1f}, "
              f"cls2d->full {m.full - m.cls2d:+.1f} mm; actions where cls2d < baseline: "
              f"{(actions.loc['cls2d'] < actions.loc['baseline']).sum()}, multi_root > baseline: "
              f"{(actions.loc['multi_root'] > actions.loc['baseline']).sum()}, full > cls2d: "
              f"{(actions.loc['full'] > actions.loc['cls2d']).sum()} of {actions.shape[1]}")
    if totals:
        both = pd.DataFrame(totals)
        both["mean (mm)"] = both.mean(axis=1)
        print(f"\n## both seeds\n{both.reset_index().to_markdown(index=False, floatfmt='.1f')}")


if __name__ == "__main__":
    main()
