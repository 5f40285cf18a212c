"""Eq 7 against the aligned merges, on one trained multi-root model's own per-root poses.

Run: .venv/bin/python bench/merge_alignment.py RUN_OR_MODEL --data DATA
Predicts the Nr per-root poses of the test split once, merges them with each `MultiRootMerge(align=...)`,
and prints MPJPE and P-MPJPE per option: the same weights, only the merge differs. The merges are compared
before any bone-length refit (`ModelConfig.bone_lengths`), so for such a model the eq 7 row is its pose
before `SkeletonFit`, not its `pose_3d`.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import pandas as pd

from tfpose3d import metrics, skeleton
from tfpose3d.data.sources import open_source
from tfpose3d.estimator import load_model
from tfpose3d.layers import MultiRootMerge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    model = load_model(args.model)
    roots = skeleton.root_indices(model.config.roots)
    per_root, truth = [], []
    for batch in open_source(args.data).samples("test", model.config.image_size).batch(64).as_numpy_iterator():
        per_root.append(model.predict_on_batch(batch["image"].astype(np.float32))["root_poses"])
        truth.append(batch["joints_3d"])
    per_root, truth = np.concatenate(per_root), np.concatenate(truth)
    rows = []
    for align in MultiRootMerge.ALIGNS:
        pose = np.asarray(MultiRootMerge(roots, align=align)(per_root)) * model.config.pose_unit_mm
        rows.append({"merge": "eq 7" if align == "none" else align, "MPJPE (mm)": metrics.mpjpe(pose, truth),
                     "P-MPJPE (mm)": metrics.p_mpjpe(pose, truth)})
    print(f"machine: {platform.processor() or platform.machine()}; {args.model} on {args.data}, {len(truth)} images, "
          f"roots {list(model.config.roots)}")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".1f"))


if __name__ == "__main__":
    main()
