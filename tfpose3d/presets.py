"""The preset table: each preset's network and training budget together, as data.

A row names every training field and the network fields it changes from the
paper's (`ModelConfig()`), so no preset hides in a dataclass default. Add a
preset by adding a row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tfpose3d.config import ModelConfig, TrainConfig

PRESETS: dict[str, dict[str, Any]] = {
    "cpu-quick": {
        "description": "the paper's network from scratch, width 0.25 on 128 px, for the paper's tables on 2 CPU cores (under 20 minutes); blind on real photographs",
        "model": {"image_size": 128, "grid_size": 16, "width": 0.25, "dropout": 0.1},
        "train": {
            "epochs": 18, "steps_per_epoch": 300, "batch_size": 64, "learning_rate": 1e-3,
            "train_images": 20000, "test_images": 2000, "cache": True,
            # At this budget the real-photo look costs 3D accuracy on renders and buys little on real
            # photographs (docs/results.md, "Real photographs").
            "look": "plain",
        },
    },
    "cpu-small": {
        "description": "the paper's layers at width 0.25 on 96 px: many runs on 2 CPU cores (the three-seed ablation, each run to the end of its schedule)",
        "model": {"image_size": 96, "grid_size": 16, "width": 0.25, "dropout": 0.1},
        "train": {
            "epochs": 18, "steps_per_epoch": 300, "batch_size": 64, "learning_rate": 1e-3,
            "train_images": 20000, "test_images": 2000, "cache": True, "look": "plain",
        },
    },
    "cpu-long": {
        "description": "the paper's layers at width 0.5 on 128 px, on the real-photo look with varied poses (about an hour on 2 CPU cores)",
        # Three times cpu-quick's compute: better on full-look renders, but on real photographs still at the
        # mean 2D pose's error, epoch after epoch (docs/results.md, "Real photographs").
        "model": {"image_size": 128, "grid_size": 16, "width": 0.5, "dropout": 0.1},
        "train": {
            "epochs": 30, "steps_per_epoch": 300, "batch_size": 64, "learning_rate": 1e-3,
            "train_images": 40000, "test_images": 2000, "cache": True, "look": "poses",
        },
    },
    "cpu-pretrained": {
        "description": "the main job: the paper's 2D and 3D branches at width 0.25 over BlazePose's frozen network, pretrained on real photographs, its landmarks as the 2D grid's prior and as cues to both branches, and a bone-length head the pose is refit to; the model for real photos (training time: docs/guide.md)",
        # The trunk only runs forward (its speed: docs/benchmarks.md), so the schedule is a fifth of cpu-quick's
        # images; the renders are cpu-quick's, so the two presets share their data. The projection keeps the
        # first FC layers from costing more than the trunk: flattened whole, its 8x8x288 map is 18,432 inputs.
        # The bone head reads the trunk's finer map with 64 maps, a third of 128's multiply-adds for about the
        # same sizes: the run takes most of its 20 minutes (docs/results.md, "Where the bone head starts").
        "model": {"backbone": "blazepose", "train_backbone": False, "landmarks": True, "bone_lengths": True, "bones_from": "trunk-16",
                  "bone_maps": 64, "projection": 128, "image_size": 225,
                  "grid_size": 16, "width": 0.25, "dropout": 0.2},
        # Validation only logs here (no plateau rule), so 512 of the 2,000 val renders serve, a quarter of the
        # forward passes; `tfpose3d evaluate` scores the whole test split.
        # The budget keeps the run within 20 minutes where epochs take longer than usual, as they now and then do
        # on a shared 2-core machine; 20 s are left for what the budget's own estimate of an epoch's end misses.
        "train": {
            "epochs": 8, "steps_per_epoch": 150, "batch_size": 64, "learning_rate": 1e-3,
            "train_images": 20000, "test_images": 2000, "cache": True, "look": "plain", "validation_steps": 8,
            "time_budget_s": 1180,
        },
    },
    "cpu-pretrained-long": {
        "description": "the main job, its bone head wider (128 maps) and trained on alone for metric size: more people get every bone within 10% (training time: docs/guide.md)",
        # The main job's row, but for the bone head's maps and the bone stage: on the 16 x 16 map the head gains
        # from more steps than the model's schedule gives it (docs/results.md, "The bone head trained longer").
        "model": {"backbone": "blazepose", "train_backbone": False, "landmarks": True, "bone_lengths": True, "bones_from": "trunk-16",
                  "projection": 128, "image_size": 225,
                  "grid_size": 16, "width": 0.25, "dropout": 0.2},
        "train": {
            "epochs": 8, "steps_per_epoch": 150, "batch_size": 64, "learning_rate": 1e-3,
            "train_images": 20000, "test_images": 2000, "cache": True, "look": "plain", "validation_steps": 8,
            "bone_epochs": 30, "bone_copies": 3,
        },
    },
    "paper": {
        "description": "the paper's network at 225 px (102 M parameters), meant for a GPU",
        "model": {},
        "train": {
            # A lower rate than the other presets: at the paper's size a higher one held the single-root
            # variants at the mean pose on a GPU (docs/results.md, "Table 2 on a GPU again").
            "epochs": 60, "steps_per_epoch": 1000, "batch_size": 64, "learning_rate": 1e-4,
            "train_images": 100000, "test_images": 5000, "cache": False, "look": "full",
        },
    },
}
# Every row sets these training fields itself.
BUDGET_FIELDS = ("epochs", "steps_per_epoch", "batch_size", "learning_rate", "train_images", "test_images", "cache", "look")


def _row(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name]


def model_preset(name: str, **overrides: Any) -> ModelConfig:
    """The network of preset `name`, with field overrides."""
    return ModelConfig.from_dict({**_row(name)["model"], **overrides})


def train_preset(name: str, model_overrides: dict[str, Any] | None = None, **overrides: Any) -> TrainConfig:
    """The training configuration of preset `name`; None-valued overrides are ignored (unset CLI flags)."""
    row = _row(name)
    model = model_preset(name, **(model_overrides or {}))
    base = TrainConfig(**{**row["train"], "preset": name, "model": model})
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})

