"""The choices the paper leaves open, measured: grid size Ng, the soft target's radius omega_g, the root set.

Each setting trains the `full` variant of a preset with one budget and dataset, for each seed, and is evaluated
on the held-out renders and on the real dev photos; the default's rows are the ablation's `full` runs of the
same preset and budget when --ablation points at them (else they are trained here too). Prints each run, then
per setting the mean over seeds, its spread and its change from the default paired by seed.

Run: .venv/bin/python bench/open_choices.py --data DATA --out runs/open-choices [--ablation runs/ablation]
     [--preset cpu-quick] [--seeds 0 1] [--epochs 5] [--steps-per-epoch 300] [--photos ../shared/data/real-photos-dev]
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import pandas as pd

from tfpose3d import contract
from tfpose3d.config import ModelConfig
from tfpose3d.data.sources import open_source
from tfpose3d.data.photos import training_mean_2d
from tfpose3d.evaluate import evaluate, evaluate_photos
from tfpose3d.presets import model_preset, train_preset
from tfpose3d.train import train

END_EFFECTORS = ("pelvis", "head", "l_wrist", "r_wrist", "l_ankle", "r_ankle")
DEFAULT = "default (Ng 16, omega one cell, six roots)"
# name, the model overrides for a preset's network. The default comes last, so that an ablation running beside
# this has finished its `full` run by then.
SETTINGS = [
    ("Ng 8", lambda m: {"grid_size": 8}),
    ("Ng 24", lambda m: {"grid_size": 24}),
    ("omega two cells", lambda m: {"grid_width": 2 * m.image_size / m.grid_size}),
    ("roots: pelvis, head, wrists, ankles", lambda m: {"roots": END_EFFECTORS}),
    (DEFAULT, lambda m: {}),
]


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting: means over seeds, the MPJPE spread, and the MPJPE change from the default paired by seed."""
    default = runs[runs["setting"] == DEFAULT].set_index("seed")["MPJPE mm"]
    runs = runs.assign(**{"vs default mm": runs["MPJPE mm"] - runs["seed"].map(default)})
    table = runs.groupby("setting", sort=False).agg(**{
        "seeds": ("seed", "count"), "MPJPE mm": ("MPJPE mm", "mean"), "sd mm": ("MPJPE mm", "std"),
        "vs default mm": ("vs default mm", "mean"), "vs default sd": ("vs default mm", "std"),
        "P-MPJPE mm": ("P-MPJPE mm", "mean"), "2D PCK@5%": ("2D PCK@5%", "mean"),
        "photo 2D error / mean-2D's": ("photo 2D error / mean-2D's", "mean"), "photo PCK@10%": ("photo PCK@10%", "mean")})
    return table.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ablation", default=None, help="an ablation folder whose full-s<seed> runs are the default rows")
    parser.add_argument("--preset", default="cpu-quick")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: the preset's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    args = parser.parse_args()
    source = open_source(args.data)
    mean_2d = training_mean_2d(source, contract.IMAGE_SIZE)
    network: ModelConfig = model_preset(args.preset)
    budget = train_preset(args.preset, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch)
    print(f"machine: {platform.processor() or platform.machine()}; {args.preset} full variant, {budget.epochs} epochs "
          f"of {budget.steps_per_epoch} steps, seeds {args.seeds}, data {source.spec}\n")
    rows = []
    for seed in args.seeds:
        for name, overrides in SETTINGS:
            run = Path(args.out) / (name.split(" (")[0].replace(" ", "-").replace(",", "").replace(":", "") + f"-s{seed}")
            if name == DEFAULT and args.ablation:
                run = Path(args.ablation) / f"full-s{seed}"
            config = train_preset(args.preset, {"variant": "full", **overrides(network)}, epochs=args.epochs,
                                  steps_per_epoch=args.steps_per_epoch, seed=seed)
            train(config, run, args.data, verbose=0)
            summary = evaluate(run, source)["summary"].iloc[0]
            photos = evaluate_photos(run, args.photos, mean_2d, run / "evaluation").iloc[0]
            rows.append({"setting": name, "seed": seed, "MPJPE mm": summary["MPJPE (mm)"],
                         "P-MPJPE mm": summary["P-MPJPE (mm)"],
                         "2D PCK@5%": next(v for k, v in summary.items() if k.startswith("PCK2D")),
                         "photo 2D error / mean-2D's": photos["vs mean 2D"], "photo PCK@10%": photos["PCK@0.1"]})
            print(rows[-1], flush=True)
    runs = pd.DataFrame(rows)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    runs.to_csv(Path(args.out) / "open_choices_runs.csv", index=False)
    print("\n" + summary_table(runs).to_markdown(index=False, floatfmt=("", "", ".1f", ".1f", ".1f", ".1f", ".1f", ".3f", ".3f", ".3f")))


if __name__ == "__main__":
    main()
