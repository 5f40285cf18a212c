"""The README's picture: the main job's prediction on a held-out render, drawn by `tfpose3d predict`.

Run: .venv/bin/python bench/readme_picture.py --data data/<the main job's renders> [--index 40]
     [--model serving_models/tfpose3d/1] [--out docs/prediction_render.png]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from tfpose3d.cli import main as tfpose3d
from tfpose3d.data.sources import open_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--index", type=int, default=40, help="which held-out render")
    parser.add_argument("--model", help="default: the main job's newest export (as `tfpose3d predict`)")
    parser.add_argument("--out", default="docs/prediction_render.png")
    args = parser.parse_args()
    sample = next(open_source(args.data).samples("test", 225).skip(args.index).take(1).as_numpy_iterator())
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "render.png"
        Image.fromarray(sample["image"]).resize((450, 450), Image.Resampling.BICUBIC).save(photo)
        model = ["--model", args.model] if args.model else []
        assert tfpose3d(["predict", *model, str(photo), "--out-dir", tmp]) == 0
        shutil.copy(Path(tmp) / "render_pose_0.png", args.out)
    print(args.out)


if __name__ == "__main__":
    main()
