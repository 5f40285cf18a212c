"""How far a network trained on real photographs gets on the real dev photos: MediaPipe's BlazePose (GHUM,
"full") on the same crops that `tfpose3d evaluate --photos` gives our models, against the same mean 2D pose.

It calibrates the real-photo goal (a 2D error at most half the mean 2D pose's): it shows what that figure looks
like for a model whose features were learnt from real images, on these people and this framing.

BlazePose's 33 landmarks are mapped to Human3.6M's 17. Twelve are the same joints (hips, knees, ankles,
shoulders, elbows, wrists); the torso and head joints are derived (pelvis and thorax the mid-points of the
hips and shoulders, spine half-way between them, neck the nose, head above the ears), so the table reports
both the twelve and all seventeen. BlazePose's hip landmarks sit near the femoral heads, as Human3.6M's do.

The model is not part of tfpose3d and is not shipped: it comes from MediaPipe's wheel (Apache 2.0), extracted
once with

    .venv/bin/python -m pip download --no-deps mediapipe==0.10.14 -d /tmp/mp
    unzip -j /tmp/mp/mediapipe-0.10.14-*.whl mediapipe/modules/pose_landmark/pose_landmark_full.tflite -d /tmp/mp

Held-out renders of --data go through the same path (`bench/renders_as_photos.py`), so the table also says
how well a real-photo network reads our renders.

Run: .venv/bin/python bench/blazepose_photos.py --model /tmp/mp/pose_landmark_full.tflite \
         --data data/<the main job's renders> [--photos ../shared/data/real-photos-dev] [--out runs/blazepose]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from tfpose3d import contract, skeleton
from tfpose3d.data.photos import PhotoSet, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import photo_report

from renders_as_photos import write_renders_as_photos  # a script beside this one

INPUT = 256  # BlazePose's landmark model input side


def to_h36m(landmarks: np.ndarray) -> np.ndarray:
    """(N, 17, D) Human3.6M joints from (N, 33, D) BlazePose landmarks (image or world, D = 2 or 3)."""
    return np.einsum("nkd,kj->njd", landmarks, skeleton.blazepose_weights())


def blazepose_input(crop: np.ndarray) -> np.ndarray:
    """A crop (S, S, 3) uint8 as MediaPipe feeds this model: 256 px, float32 in [0, 1]."""
    return np.asarray(Image.fromarray(crop).resize((INPUT, INPUT), Image.BILINEAR), np.float32) / 255.0


def blazepose(model: str, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 33, 2) landmarks as fractions of the crop side, and (N,) BlazePose's own pose-presence score."""
    interpreter = Interpreter(model_path=model)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outputs = {tuple(d["shape"]): d["index"] for d in interpreter.get_output_details()}
    landmarks, presence = [], []
    for crop in crops:
        interpreter.set_tensor(inp["index"], blazepose_input(crop)[None])
        interpreter.invoke()
        points = interpreter.get_tensor(outputs[(1, 195)]).reshape(skeleton.BLAZEPOSE_LANDMARKS, 5)[: skeleton.BLAZEPOSE_BODY, :2] / INPUT
        landmarks.append(points)
        presence.append(float(interpreter.get_tensor(outputs[(1, 1)]).ravel()[0]))
    return np.stack(landmarks), np.array(presence)  # the graph ends that output in a sigmoid already


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="pose_landmark_full.tflite from MediaPipe's wheel")
    parser.add_argument("--data", required=True, help="the training renders whose mean 2D pose is the reference")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--renders", type=int, default=200, help="held-out renders of --data scored the same way")
    parser.add_argument("--out", default="runs/blazepose", type=Path)
    args = parser.parse_args()
    if not Path(args.model).is_file():
        parser.error(f"--model {args.model}: no such file (see this script's docstring for how to extract it)")

    source = open_source(args.data)
    mean_2d = training_mean_2d(source, contract.IMAGE_SIZE)
    same = np.isin(np.arange(len(skeleton.JOINT_NAMES)), [skeleton.JOINT_NAMES.index(name) for name in skeleton.BLAZEPOSE_SAME])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_renders_as_photos(source, Path(tmp) / "renders", args.renders)
        for name, folder in (("real photos", Path(args.photos)), ("held-out renders", Path(tmp) / "renders")):
            photos = PhotoSet.load(folder)
            landmarks, presence = blazepose(args.model, photos.crops)
            pred = to_h36m(landmarks)
            out = args.out / name.replace(" ", "-")
            photo_report(photos, pred, mean_2d, out, f"BlazePose GHUM full on the {name} in {folder}")
            direct = dataclasses.replace(photos, joints_2d=np.where(same[:, None], photos.joints_2d, np.nan))
            for joints, scored in (("all 17", photos), ("the 12 named alike", direct)):
                model, mean = scored.score(pred), scored.score(mean_2d[None])
                rows.append({"images": name, "people": len(photos.people), "joints": joints,
                             "BlazePose 2D error (of side)": model["2D error"], "mean 2D pose's": mean["2D error"],
                             "BlazePose / mean": model["2D error"] / mean["2D error"],
                             "BlazePose PCK@0.1": model["PCK@0.1"], "mean PCK@0.1": mean["PCK@0.1"],
                             "median presence": float(np.median(presence))})
    print(f"{platform.node()} {platform.processor() or platform.machine()}; pictures under {args.out}")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
