"""Where the bone head's lengths start, at the main job's schedule: the estimator's 100 mm for every bone, or
the training renders' mean lengths (what the bone stage starts from, `tfpose3d.bone_stage`). One table.

The main job's bone head (bench/bone_maps.py's `bone_head`) on the frozen trunk's map (--maps coarse: the
8 x 8 x 288 features, the main job's; fine: the 16 x 16 x 88 map, `cpu-pretrained-long`'s), computed once
for the first --train training renders (each once, not augmented), trained as long as the main job trains
its own (--epochs of batches of 64, Adam on a cosine schedule from 1e-3 to 1% of it, as
`tfpose3d.estimator.compile_model`), and scored on the first 500 held-out renders as bench/versus_blazepose.py
scores bones. The two rows differ only in where every bone's log-length starts.

Run: .venv/bin/python bench/bone_start.py --data data/bandai-namco-mesh-4-plain-20000-2000-s0 [--maps fine]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bone_maps import ROWS, bone_head, trunk_maps  # noqa: E402 (scripts beside this one)
from provenance import provenance  # noqa: E402
from versus_blazepose import bone_scores  # noqa: E402

from tfpose3d import contract, metrics  # noqa: E402
from tfpose3d.blazepose import BlazePoseBackbone  # noqa: E402
from tfpose3d.bone_stage import mean_length_bias  # noqa: E402
from tfpose3d.data.sources import open_source  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the main job's rendered data")
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=4, help="4 epochs of 20,000: 1,252 steps, the main job's 1,200")
    parser.add_argument("--maps", choices=["coarse", "fine"], default="coarse")
    parser.add_argument("--head-maps", type=int, default=128, help="maps of the head's two convolutions")
    args = parser.parse_args()

    source = open_source(args.data)
    label, (name,) = ROWS[args.maps]
    trunk = BlazePoseBackbone(contract.IMAGE_SIZE)
    probe = keras.Model(trunk.input, trunk.get_layer(name).output)
    train_maps, train_poses = trunk_maps(probe, [name], source, "train", args.train)
    test_maps, test_poses = trunk_maps(probe, [name], source, "test", args.test)
    lengths, test_lengths = metrics.bone_lengths(train_poses), metrics.bone_lengths(test_poses)
    steps = args.epochs * -(-len(lengths) // 64)
    rows = []
    # Offsets in log-millimetres: the bias of a head whose unit is 1 mm.
    for start, offset in (("100 mm (the estimator's)", np.full(lengths.shape[1], np.log(100.0))),
                          ("the training renders' mean lengths (the bone stage's)",
                           mean_length_bias(train_poses, unit_mm=1.0))):
        keras.utils.set_random_seed(0)
        # Zero output weights: every bone starts at exp(offset).
        model = bone_head([train_maps[name].shape[1:]], args.head_maps)
        model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.01)),
                      loss="mean_absolute_error")
        model.fit(train_maps[name], np.log(lengths) - offset, batch_size=64, epochs=args.epochs, verbose=2)
        pred = np.exp(model.predict(test_maps[name], verbose=0) + offset)
        rows.append({"bones start at": start, **bone_scores(pred, test_lengths)})
    print(provenance(f"{args.train} training and {args.test} held-out renders of {args.data}; the {label} map; "
                     f"{steps} steps; the head's convolutions of {args.head_maps} maps") + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
