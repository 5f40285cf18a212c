"""Heads trained on renders over a trunk trained on real photographs: do they read people in real photos?

The question behind the real-photo issue: is the trunk (what the network learns to see) the whole gap between
renders and photos? This bench freezes the trunk of MediaPipe's BlazePose GHUM "full" landmark network (see
`bench/blazepose_photos.py` for where the model comes from), takes its features at one depth for training
renders, held-out renders and the real photos' crops, and trains small heads on the renders alone: 2D joints
(fractions of the crop side) and the root-relative 3D pose (mm). The photos only measure, as everywhere.

Depths (`--depth`):
    pose   2x2x288, the deepest features of BlazePose's regression branch, which its landmark heads read
           linearly: features that already encode a pose;
    middle 8x8x288, where that branch starts from the shared encoder;
    early  32x32x192 averaged to 8x8, a third of the way through the encoder: closer to generic image features.

Run: .venv/bin/python bench/pretrained_trunk.py --model /tmp/mp/pose_landmark_full.tflite \
         --data data/<the main job's renders> [--train-images 8000] [--depth pose middle] [--out runs/pretrained-trunk]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from ai_edge_litert.interpreter import Interpreter

from tfpose3d import contract, metrics
from tfpose3d.data.photos import PhotoSet, training_mean_2d
from tfpose3d.data.sources import open_source
from tfpose3d.evaluate import photo_report

from blazepose_photos import blazepose_input  # a script beside this one

# Output tensor names of the ops each depth reads (the converted Keras model's layer names survive in them).
DEPTHS = {"pose": "model_1/model/re_lu_63/Relu6;model_1/model/add_22/add",
          "middle": "model_1/model/re_lu_41/Relu6",
          "early": "model_1/model/re_lu_10/Relu6"}


def features(model: str, images: np.ndarray, depths: list[str]) -> dict[str, np.ndarray]:
    """Each depth's features (N, ...) for `images` (N, S, S, 3) uint8, as BlazePose sees them (256 px, 0..1)."""
    interpreter = Interpreter(model_path=model, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    tensors = interpreter.get_tensor_details()
    index = {}
    for depth in depths:
        found = [t for t in tensors if t["name"].startswith(DEPTHS[depth]) and len(t["shape"]) == 4]
        index[depth] = found[0]["index"]
    out: dict[str, list] = {depth: [] for depth in depths}
    for image in images:
        interpreter.set_tensor(inp["index"], blazepose_input(image)[None])
        interpreter.invoke()
        for depth in depths:
            f = interpreter.get_tensor(index[depth])[0]
            if f.shape[0] > 8:  # averaged to 8x8 so that thousands of images fit in memory
                k = f.shape[0] // 8
                f = f.reshape(8, k, 8, k, f.shape[-1]).mean((1, 3))
            out[depth].append(f.astype(np.float16))
    return {depth: np.stack(v) for depth, v in out.items()}


def heads(shape: tuple[int, ...], seed: int) -> keras.Model:
    """2D joints (fractions of the side) and 3D pose (mm) from frozen features."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input(shape)
    if shape[0] > 2:
        x = keras.layers.Conv2D(128, 1, activation="relu")(x)  # fewer maps before flattening a wide grid
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(1024, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    # Linear: a sigmoid output saturated on the early features' large activations and never trained.
    joints_2d = keras.layers.Reshape((17, 2), name="joints_2d")(keras.layers.Dense(34)(x))
    pose_3d = keras.layers.Reshape((17, 3), name="pose_3d")(keras.layers.Dense(51)(x))
    model = keras.Model(inputs, {"joints_2d": joints_2d, "pose_3d": pose_3d})
    # 3D in metres so both terms start near 0.1.
    model.compile(keras.optimizers.Adam(1e-3), loss={"joints_2d": "mae", "pose_3d": "mae"},
                  loss_weights={"joints_2d": 1.0, "pose_3d": 1e-3})
    return model


def load(source, split: str, count: int) -> dict[str, np.ndarray]:
    samples = list(source.samples(split, contract.IMAGE_SIZE).take(count).as_numpy_iterator())
    return {key: np.stack([s[key] for s in samples]) for key in ("image", "joints_2d", "joints_3d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="pose_landmark_full.tflite from MediaPipe's wheel")
    parser.add_argument("--data", required=True, help="rendered data with train/ and test/")
    parser.add_argument("--photos", default="../shared/data/real-photos-dev")
    parser.add_argument("--train-images", type=int, default=8000)
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--depth", nargs="+", choices=DEPTHS, default=list(DEPTHS))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/pretrained-trunk", type=Path, help="each depth's photos.png and tables")
    args = parser.parse_args()
    if not os.path.isfile(args.model):
        parser.error(f"--model {args.model}: no such file (see bench/blazepose_photos.py for how to extract it)")

    source = open_source(args.data)
    train, test = load(source, "train", args.train_images), load(source, "test", args.test_images)
    photos = PhotoSet.load(args.photos)
    mean_2d = training_mean_2d(source, contract.IMAGE_SIZE)
    start = time.perf_counter()
    feats = {name: features(args.model, images, args.depth)
             for name, images in (("train", train["image"]), ("test", test["image"]), ("photos", photos.crops))}
    print(f"features of {len(train['image']) + len(test['image']) + len(photos.crops)} images in "
          f"{time.perf_counter() - start:.0f} s on {platform.processor() or platform.machine()}", flush=True)

    true_3d = metrics.align_root(test["joints_3d"].astype(np.float64))
    rows = [{"depth": "mean pose (reference)", "features": "",
             "renders MPJPE (mm)": metrics.mpjpe(metrics.mean_pose(true_3d), true_3d),
             "renders 2D error (of side)": float(np.linalg.norm(mean_2d - test["joints_2d"] / contract.IMAGE_SIZE, axis=-1).mean()),
             "photos 2D error (of side)": photos.score(mean_2d[None])["2D error"],
             "photos PCK@0.1": photos.score(mean_2d[None])["PCK@0.1"]}]
    for depth in args.depth:
        x = feats["train"][depth].astype(np.float32)
        model = heads(x.shape[1:], args.seed)
        targets = {"joints_2d": train["joints_2d"] / contract.IMAGE_SIZE,
                   "pose_3d": metrics.align_root(train["joints_3d"])}
        model.fit(x, targets, batch_size=64, epochs=args.epochs, verbose=0)
        on_test = model.predict(feats["test"][depth].astype(np.float32), verbose=0)
        on_photos = model.predict(feats["photos"][depth].astype(np.float32), verbose=0)["joints_2d"]
        scored = photos.score(on_photos)
        photo_report(photos, on_photos, mean_2d, args.out / depth,
                     f"heads trained on renders over BlazePose's {depth} features, on the photos in {args.photos}")
        rows.append({"depth": depth, "features": "x".join(map(str, x.shape[1:])),
                     "renders MPJPE (mm)": metrics.mpjpe(on_test["pose_3d"], true_3d),
                     "renders 2D error (of side)": float(np.linalg.norm(on_test["joints_2d"] - test["joints_2d"] / contract.IMAGE_SIZE, axis=-1).mean()),
                     "photos 2D error (of side)": scored["2D error"], "photos PCK@0.1": scored["PCK@0.1"]})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["photos vs mean 2D"] = table["photos 2D error (of side)"] / rows[0]["photos 2D error (of side)"]
    print(f"\n{args.train_images} training renders, {args.test_images} held-out, {len(photos.people)} people; "
          f"heads: {args.epochs} epochs, seed {args.seed}; pictures under {args.out}")
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
