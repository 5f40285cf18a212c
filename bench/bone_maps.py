"""Which depth of BlazePose's frozen trunk the bone-length head should read, on held-out renders: one table.

The main job's bone head (`tfpose3d.estimator._bone_features`: the map normalised, two 3x3 convolutions of
128 maps, averaged over the cells, a dense layer of 256, then 16 log-lengths) is trained alone on each of the
trunk's maps, computed once for --train training renders (no augmentation), with the main job's bone loss
(the absolute log-ratio), and scored as bench/versus_blazepose.py scores bones on the first --test held-out
renders: the mean relative error of a bone, the share of people whose every limb bone is within 10%, and how
well the size (the 8 limb bones' total) follows the truth. The maps (layer names in
`tfpose3d/data/blazepose_trunk.npz`):

- `conv_2d_239`, 8 x 8 x 288, the features the paper's branches read (`ModelConfig.bones_from = "trunk"`);
- `add_126`, 16 x 16 x 88: the last map at twice that resolution, where a joint's place is held to 16 px of
  the trunk's 256 px input instead of 32 (the main job trained with its bone head there: docs/results.md,
  "What was tried");
- both: the 16 x 16 map's head features beside the 8 x 8 map's.

Run: .venv/bin/python bench/bone_maps.py --data data/bandai-namco-mesh-4-plain-20000-2000-s0 \
         [--train 8000] [--test 500] [--epochs 20]
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
from versus_blazepose import bone_scores  # noqa: E402

from tfpose3d import contract, metrics, skeleton  # noqa: E402
from tfpose3d.blazepose import BlazePoseBackbone, trunk_asset  # noqa: E402
from tfpose3d.data.sources import open_source  # noqa: E402
from tfpose3d.estimator import _bone_features  # noqa: E402

FEATURES = trunk_asset()["outputs"]["features"]
FINE_MAP = "add_126"  # the last map of the shipped graph at 16 x 16, one of the features' ancestors
MAPS = {FEATURES: "8 x 8 x 288", FINE_MAP: "16 x 16 x 88"}


def trunk_maps(probe: keras.Model, source, split: str, count: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`probe`'s `MAPS` (float16) and the true bone lengths (N, 16) of the first `count` renders of `split`."""
    maps, lengths = {name: [] for name in MAPS}, []
    for batch in source.samples(split, contract.IMAGE_SIZE).take(count).batch(64).as_numpy_iterator():
        for name, values in zip(MAPS, probe.predict_on_batch(batch["image"])):
            maps[name].append(np.asarray(values, np.float16))
        lengths.append(metrics.bone_lengths(batch["joints_3d"].astype(np.float64)))
    return {name: np.concatenate(v) for name, v in maps.items()}, np.concatenate(lengths)


def bone_head(shapes: list[tuple[int, ...]]) -> keras.Model:
    """The main job's bone head on each map of `shapes`, the features side by side, then 16 log-lengths."""
    inputs = [keras.Input(shape) for shape in shapes]
    features = []
    for k, x in enumerate(inputs):
        head = keras.Model(x, _bone_features(x), name=f"head_{k}")  # its own layer names per map
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
    args = parser.parse_args()

    source = open_source(args.data)
    trunk = BlazePoseBackbone(contract.IMAGE_SIZE)
    probe = keras.Model(trunk.input, [trunk.get_layer(name).output for name in MAPS])
    train_maps, train_lengths = trunk_maps(probe, source, "train", args.train)
    test_maps, test_lengths = trunk_maps(probe, source, "test", args.test)
    mean_log = np.log(train_lengths).mean(0)
    rows = []
    for label, names in ((MAPS[FEATURES], [FEATURES]), (MAPS[FINE_MAP], [FINE_MAP]), ("both", [FEATURES, FINE_MAP])):
        keras.utils.set_random_seed(args.seed)
        model = bone_head([train_maps[n].shape[1:] for n in names])
        model.compile(keras.optimizers.Adam(1e-3), loss="mean_absolute_error")
        model.fit([train_maps[n] for n in names], np.log(train_lengths) - mean_log, batch_size=64,
                  epochs=args.epochs, verbose=0)
        predicted = np.exp(model.predict([test_maps[n] for n in names], verbose=0) + mean_log)
        rows.append({"trunk map the bone head reads": label, **bone_scores(predicted, test_lengths)})
        print(rows[-1], flush=True)
    print(provenance(f"{args.train} training and {args.test} held-out renders of {args.data}; {args.epochs} epochs") + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
