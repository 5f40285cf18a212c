"""A model's held-out renders scored exactly as real photographs are, beside its score on the photos.

Run: .venv/bin/python bench/renders_as_photos.py --model RUN_OR_EXPORT --data DATA --photos ../shared/data/real-photos-dev

Held-out renders are written as JPEG files with their 2D joints in the real-photos-dev form and go through
`tfpose3d evaluate --photos` unchanged: the same reader, framing, predictor and mean-2D baseline (of DATA's
training renders). If the renders score as `tfpose3d evaluate` scores them, the photo path is sound, and the
gap between the two rows is what the change from renders to photographs costs the model.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image

from tfpose3d import contract, skeleton
from tfpose3d.data.photos import training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import evaluate_photos


def write_renders_as_photos(source, folder: Path, count: int) -> None:
    """`count` held-out renders as JPEG photos with annotations.json, as real-photos-dev holds them."""
    (folder / "images").mkdir(parents=True)
    people = []
    for k, sample in enumerate(source.samples("test", contract.IMAGE_SIZE).take(count).as_numpy_iterator()):
        Image.fromarray(sample["image"]).save(folder / "images" / f"{k}.jpg", quality=92)
        people.append({"image": f"images/{k}.jpg", "set": "renders", "joints_2d": sample["joints_2d"].tolist()})
    (folder / "annotations.json").write_text(json.dumps({"joint_names": list(skeleton.JOINT_NAMES), "people": people}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a run folder, .keras file or exported form")
    parser.add_argument("--data", required=True, help="the rendered data the model trained on")
    parser.add_argument("--photos", required=True)
    parser.add_argument("--count", type=int, default=200, help="held-out renders to score")
    parser.add_argument("--out", default="runs/renders-as-photos")
    args = parser.parse_args()

    source = open_source(args.data)
    mean_2d = training_mean_2d(source, contract.IMAGE_SIZE)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_renders_as_photos(source, Path(tmp) / "renders", args.count)
        for name, folder in (("held-out renders", Path(tmp) / "renders"), ("real photos", Path(args.photos))):
            table = evaluate_photos(args.model, folder, mean_2d, Path(args.out) / name.replace(" ", "-")).set_index("predictor")
            rows.append({"images": name, "people": table.loc["model", "people"],
                         "model 2D error (of side)": table.loc["model", "2D error (of crop side)"],
                         "mean 2D pose's": table.loc["mean 2D pose", "2D error (of crop side)"],
                         "model / mean": table.loc["model", "vs mean 2D"],
                         "model PCK@0.1": table.loc["model", "PCK@0.1"], "mean PCK@0.1": table.loc["mean 2D pose", "PCK@0.1"]})
    print(f"{args.model} on {platform.processor() or platform.machine()}; pictures under {args.out}")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
