"""The choices the paper leaves open, measured: grid size Ng, the soft target's radius omega_g, the root set.

Each setting trains the `full` variant with one budget, seed and dataset, and is evaluated on the held-out
renders and on the real dev photos; the default's row is the ablation's `full` run of the same budget when
--ablation points at it (else it is trained here too).

Run: .venv/bin/python bench/open_choices.py --data DATA --out runs/open-choices [--ablation runs/ablation]
     [--epochs 5] [--steps-per-epoch 300] [--photos ../shared/data/real-photos-dev]
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from tfpose3d import contract
from tfpose3d.data.sources import open_source
from tfpose3d.data.photos import training_mean_2d
from tfpose3d.evaluate import evaluate, evaluate_photos
from tfpose3d.presets import train_preset
from tfpose3d.train import train

END_EFFECTORS = ("pelvis", "head", "l_wrist", "r_wrist", "l_ankle", "r_ankle")
# name, model overrides (cpu-quick: 128 px input, so one cell of Ng = 16 is 8 px)
# The default comes last, so that an ablation running beside this has finished its `full` run by then.
SETTINGS = [
    ("Ng 8", {"grid_size": 8}),
    ("Ng 24", {"grid_size": 24}),
    ("omega two cells", {"grid_width": 16.0}),
    ("roots: pelvis, head, wrists, ankles", {"roots": END_EFFECTORS}),
    ("default (Ng 16, omega one cell, six roots)", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ablation", default=None, help="an ablation folder whose full-s<seed> run is the default row")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    args = parser.parse_args()
    source = open_source(args.data)
    mean_2d = training_mean_2d(source, contract.IMAGE_SIZE)
    print(f"machine: {platform.processor() or platform.machine()}; cpu-quick full variant, {args.epochs} epochs of "
          f"{args.steps_per_epoch} steps, seed {args.seed}, data {source.spec}\n")
    print("| setting | MPJPE mm | P-MPJPE mm | 2D PCK@5% | photo 2D error / mean-2D's | photo PCK@10% |\n|---|---|---|---|---|---|")
    for name, model in SETTINGS:
        run = Path(args.out) / name.split(" (")[0].replace(" ", "-").replace(",", "").replace(":", "")
        if not model and args.ablation:
            run = Path(args.ablation) / f"full-s{args.seed}"
        config = train_preset("cpu-quick", {"variant": "full", **model}, epochs=args.epochs,
                              steps_per_epoch=args.steps_per_epoch, seed=args.seed)
        train(config, run, args.data, verbose=0)
        summary = evaluate(run, source)["summary"].iloc[0]
        photos = evaluate_photos(run, args.photos, mean_2d, run / "evaluation").iloc[0]
        pck2d = next(v for k, v in summary.items() if k.startswith("PCK2D"))
        print(f"| {name} | {summary['MPJPE (mm)']:.1f} | {summary['P-MPJPE (mm)']:.1f} | {pck2d:.3f} | "
              f"{photos['vs mean 2D']:.3f} | {photos['PCK@0.1']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
