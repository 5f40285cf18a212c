"""What each real-photo ingredient earns: one model per look of `render.LOOKS`, each adding one ingredient.

Run: .venv/bin/python bench/real_photo_ablation.py --photos ../shared/data/real-photos-dev [--epochs 5]
     [--train-images 10000] [--out runs/looks]

Each look trains the cpu-quick network with the same budget and seed (`tfpose3d train --look L`), then is
measured on the real photographs (2D error as a fraction of the crop side, against the mean 2D pose of its
own training renders) and on held-out renders of the plain and the full look (MPJPE). Prints one Markdown
table; a finished look is not retrained when the command is run again.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tfpose3d.data.render import LOOKS

CLI = [sys.executable, "-m", "tfpose3d.cli"]


def run(*args: str) -> None:
    subprocess.run([*CLI, *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", required=True)
    parser.add_argument("--out", default="runs/looks")
    parser.add_argument("--epochs", default="5")
    parser.add_argument("--train-images", default="10000")
    parser.add_argument("--looks", default=",".join(LOOKS))
    args = parser.parse_args()
    out = Path(args.out)
    budget = ["--preset", "cpu-quick", "--epochs", args.epochs, "--train-images", args.train_images]
    rows = []
    for look in args.looks.split(","):
        folder = out / look
        run("train", *budget, "--look", look, "--out", str(folder))
        row = {"look": look}
        for test_look in ("plain", "full"):
            data = Path("data") / f"looks-test-{test_look}"
            if not (data / "test" / "dataset.json").exists():
                run("data", "render", "--out", str(data / "test"), "--count", "1000", "--seed", "1", "--split", "test",
                    "--look", test_look)
            run("evaluate", str(folder), "--data", str(data), "--out", str(folder / f"on-{test_look}"))
            summary = json.loads((folder / f"on-{test_look}" / "evaluation" / "summary.json").read_text())
            row[f"MPJPE {test_look} renders (mm)"] = summary[0]["MPJPE (mm)"]
            row[f"mean pose {test_look} (mm)"] = summary[1]["MPJPE (mm)"]
        run("evaluate", str(folder), "--photos", args.photos, "--out", str(folder))
        photos = pd.read_csv(folder / "evaluation" / "photos.csv").set_index("predictor")
        row["photos 2D error"] = photos.loc["model", "2D error (of crop side)"]
        row["photos PCK@0.1"] = photos.loc["model", "PCK@0.1"]
        row["mean-2D 2D error"] = photos.loc["mean 2D pose", "2D error (of crop side)"]
        row["vs mean 2D"] = photos.loc["model", "vs mean 2D"]
        rows.append(row)
    print(f"machine: {platform.processor() or platform.machine()}; cpu-quick, {args.epochs} epochs of 300 steps, "
          f"{args.train_images} training images, seed 0")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
