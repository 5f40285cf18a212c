"""Which depth of BlazePose's frozen trunk the bone-length head should read, on held-out renders: one table.

The main job's bone head (`tfpose3d.estimator._bone_features`: the map normalised, two 3x3 convolutions of
128 maps, averaged over the cells, a dense layer of 256, then 16 log-lengths) is trained alone on each of the
trunk's maps, computed once for --train training renders (without augmentation, or --copies augmented copies
of each through the training pipeline's augmentation), with the main job's bone loss
(the absolute log-ratio), and scored as bench/versus_blazepose.py scores bones on the first --test held-out
renders: the mean relative error of a bone, the share of people whose every limb bone is within 10%, and how
well the size (the 8 limb bones' total) follows the truth; then the same by kind of body, as
bench/versus_blazepose.py prints it. The maps (layer names in
`tfpose3d/data/blazepose_trunk.npz`):

- `conv_2d_239`, 8 x 8 x 288, the features the paper's branches read (`ModelConfig.bones_from = "trunk"`);
- `add_126`, 16 x 16 x 88: the last map at twice that resolution, where a joint's place is held to 16 px of
  the trunk's 256 px input instead of 32 (`ModelConfig.bones_from = "trunk-16"`, the `cpu-pretrained-long`
  preset's);
- both: the 16 x 16 map's head features beside the 8 x 8 map's.

Run: .venv/bin/python bench/bone_maps.py --data data/bandai-namco-mesh-4-plain-20000-2000-s0 \
         [--train 8000] [--test 500] [--epochs 20] [--copies 3] [--patience 3] [--maps coarse]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from provenance import provenance  # noqa: E402 (a script beside this one)
from versus_blazepose import bodies, body_groups, body_table, bone_scores  # noqa: E402

from tfpose3d import contract, metrics, skeleton  # noqa: E402
from tfpose3d.blazepose import FINE_MAP, BlazePoseBackbone, trunk_asset  # noqa: E402
from tfpose3d.data.options import Augment  # noqa: E402
from tfpose3d.data.sources import open_source  # noqa: E402
from tfpose3d.estimator import _bone_features  # noqa: E402
from tfpose3d.frozen_trunk import trunk_outputs  # noqa: E402

FEATURES = trunk_asset()["outputs"]["features"]
MAPS = {FEATURES: "8 x 8 x 288", FINE_MAP: "16 x 16 x 88"}
# --maps: each row's label and the maps its head reads, side by side.
ROWS = {"coarse": (MAPS[FEATURES], [FEATURES]), "fine": (MAPS[FINE_MAP], [FINE_MAP]), "both": ("both", [FEATURES, FINE_MAP])}


def trunk_maps(probe: keras.Model, names: list[str], source, split: str, count: int,
               copies: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`probe`'s maps `names` (float16) and the true poses (N, 17, 3) of the first `count` renders of
    `split`: each once as rendered, or `copies` times through the training pipeline's augmentation."""
    samples = source.samples(split, contract.IMAGE_SIZE).take(count)
    maps, labels = trunk_outputs(probe, samples, 64, Augment() if copies else None, copies or 1)
    return dict(zip(names, maps if isinstance(maps, list) else [maps])), labels["joints_3d"].astype(np.float64)


def bone_head(shapes: list[tuple[int, ...]], maps: int = 128) -> keras.Model:
    """The main job's bone head on each map of `shapes` (its convolutions of `maps` maps), the features side by
    side, then 16 log-lengths."""
    inputs = [keras.Input(shape) for shape in shapes]
    features = []
    for k, x in enumerate(inputs):
        head = keras.Model(x, _bone_features(x, maps), name=f"head_{k}")  # its own layer names per map
        features.append(head(x))
    x = features[0] if len(features) == 1 else keras.layers.Concatenate()(features)
    return keras.Model(inputs, keras.layers.Dense(len(skeleton.BONES), kernel_initializer="zeros")(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the main job's rendered data")
    parser.add_argument("--train", type=int, default=8000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=int, default=0,
                        help="augmented copies of each training render (0: each once, as rendered)")
    parser.add_argument("--patience", type=int, default=0,
                        help="stop when the val split's loss has not improved for this many epochs, keeping the best "
                             "epoch's weights (0: train all --epochs)")
    parser.add_argument("--maps", choices=list(ROWS), nargs="+", default=list(ROWS), help="which rows to train")
    args = parser.parse_args()

    source = open_source(args.data)
    trunk = BlazePoseBackbone(contract.IMAGE_SIZE)
    names = [name for name in MAPS if any(name in ROWS[row][1] for row in args.maps)]
    probe = keras.Model(trunk.input, [trunk.get_layer(name).output for name in names])
    train_maps, train_poses = trunk_maps(probe, names, source, "train", args.train, args.copies)
    test_maps, test_poses = trunk_maps(probe, names, source, "test", args.test)
    val_maps, val_poses = trunk_maps(probe, names, source, source.validation_split(), args.test)
    train_lengths, test_lengths, val_lengths = (metrics.bone_lengths(p) for p in (train_poses, test_poses, val_poses))
    mean_log = np.log(train_lengths).mean(0)
    rows, logs = [], {}  # logs: each row's predicted log-lengths, by its label
    for label, row_maps in (ROWS[row] for row in args.maps):
        keras.utils.set_random_seed(args.seed)
        model = bone_head([train_maps[n].shape[1:] for n in row_maps])
        model.compile(keras.optimizers.Adam(1e-3), loss="mean_absolute_error")
        # The loss on the val split each epoch (verbose 2): whether more epochs would still help.
        stop = [keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)] if args.patience else []
        history = model.fit([train_maps[n] for n in row_maps], np.log(train_lengths) - mean_log, batch_size=64,
                            epochs=args.epochs, verbose=2, callbacks=stop,
                            validation_data=([val_maps[n] for n in row_maps], np.log(val_lengths) - mean_log))
        logs[label] = model.predict([test_maps[n] for n in row_maps], verbose=0) + mean_log
        val = history.history["val_loss"]
        rows.append({"trunk map the bone head reads": label, **bone_scores(np.exp(logs[label]), test_lengths),
                     "epochs (the kept one)": f"{len(val)} ({int(np.argmin(val)) + 1 if args.patience else len(val)})"})
        print(rows[-1], flush=True)
    if len(logs) > 1:  # heads on different maps err apart: their log-lengths averaged
        rows.append({"trunk map the bone head reads": "the heads above, averaged",
                     **bone_scores(np.exp(np.mean(list(logs.values()), axis=0)), test_lengths), "epochs (the kept one)": ""})
    copies = f", {args.copies} augmented copies of each" if args.copies else ""
    stopped = f", stopped after {args.patience} epochs without a better val loss" if args.patience else ""
    print(provenance(f"{args.train} training{copies} and {args.test} held-out renders of {args.data}; at most "
                     f"{args.epochs} epochs{stopped}") + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))
    print("\nBy kind of body:\n")
    groups = body_groups(bodies(str(source.dataset_dir("test")), test_poses))
    print(body_table({label: np.exp(log) for label, log in logs.items()}, test_poses, groups).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
