"""Configuration as plain dataclasses: the network (`ModelConfig`) and its training (`TrainConfig`).

Named presets are rows of one table in `tfpose3d.presets`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

from tfpose3d import skeleton
from tfpose3d.data.options import Augment, RenderOptions, look_named

# How `tfpose3d.distribute` may place a run.
STRATEGIES = ("default", "mirrored", "multi-worker")

# The trunks a model can have: the paper's convolutions trained from scratch, or BlazePose's pretrained layers.
BACKBONES = ("zfnet", "blazepose")

# What a bone-length head can read: what the 3D branch's root heads read, or the trunk's own feature map.
BONE_INPUTS = ("branch", "trunk", "trunk-16")

# The rows of the paper's Table 2, each as the two switches it sets; a new combination is a new row.
VARIANTS: dict[str, dict[str, bool]] = {
    "baseline": {"multi_root": False, "fusion": False},
    "multi_root": {"multi_root": True, "fusion": False},
    "cls2d": {"multi_root": False, "fusion": True},
    "full": {"multi_root": True, "fusion": True},
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the network and its losses.

    The defaults are the paper's network (Park, Hwang & Kwak 2016), which the
    `paper` preset uses unchanged; values the paper leaves open are chosen here
    and documented in the README.

    Args:
        variant: one of the paper's Table 2 rows. `baseline`: one root, no
            2D->3D fusion; `multi_root`: all `roots`; `cls2d`: one root with the
            fusion; `full`: both.
        image_size: side of the square RGB input in pixels.
        backbone: "zfnet", the paper's five conv layers (`conv_filters`, `batch_norm`), or "blazepose",
            BlazePose's landmark network to its middle depth, pretrained on real photographs
            (`tfpose3d.blazepose`; the input is resized to its 256 px inside).
        train_backbone: False freezes the trunk; the heads train alone.
        landmarks: with the "blazepose" backbone, BlazePose's own image and world landmarks (from the rest of
            its network) join the trunk's features at the input of both branches, and the image landmarks
            give the 2D grid a prior (`layers.LandmarkPrior`): the 2D evidence of a network trained on real
            photographs, reaching the 3D branch as the paper feeds it its 2D estimate.
        bone_lengths: a head reads each person's 16 bone lengths from what the 3D branch's root heads read
            (its first layer and, with the fusion, the 2D probabilities' layer), without gradient into it so that
            the paper's branches train as before, and the output pose is refit to them
            along its own bone directions (`layers.SkeletonFit`): one consistent skeleton a person, instead of
            the lengths the joints' separate regressions happen to imply.
        bones_from: what the bone head reads. "branch": what the 3D branch's root heads read, through one dense
            layer (the 0.5.0 head; a model saved without this field loads as it). "trunk": the trunk's own
            feature map, without gradient into it, through two 3x3 convolutions, an average over the cells and
            a dense layer: it holds more of a person's size than the 3D branch keeps (docs/results.md, "What a
            person's size can be read from"). "trunk-16": the same head on BlazePose's map at twice that
            resolution (16 x 16 x 88, `blazepose.FINE_MAP`), where the joints' places, and so the body's
            proportions, are held more finely (docs/results.md, "Which trunk map"); BlazePose's trunk only.
        bone_maps: maps of the "trunk" and "trunk-16" heads' two convolutions. In the main job on the 16 x 16
            map, 64 read sizes almost as well as 128 (59% of held-out people with every limb bone within 10%
            against 60%) with a third of the multiply-adds (docs/results.md, "Where the bone head starts").
        projection: 0 flattens the trunk's output into the FC branches, as the paper does; n > 0 first
            projects it to n maps (a trainable 1x1 conv with ReLU), which makes the first FC layers of a
            wide trunk (BlazePose's 288 maps) several times cheaper.
        grid_size: Ng, the 2D classification grid is Ng x Ng cells.
        grid_width: omega_g in pixels; `None` means one cell's width.
        roots: root joint names for the multi-root variants; the single-root
            variants use the first one.
        width: multiplier on every conv filter count and FC width (1.0 = paper).
        conv_filters: filters of the five conv layers before `width`.
        fc_units: units of every FC layer before `width`.
        dropout: dropout rate after each FC layer.
        batch_norm: batch normalisation after each conv layer (not in the
            paper; it makes training from scratch far less sensitive).
        loss_weight_2d: lambda_2D of eq 5.
        loss_weight_3d: lambda_3D of eq 5, on the 3D loss averaged over roots. The default 6 makes the
            six-root model train exactly as eq 6's sum with lambda_3D = 1 did, and gives every variant the same
            balance of 3D against 2D.
        pose_unit_mm: the 3D heads regress in this unit; 100 mm keeps the
            regression targets near unit scale.
        loss_weight_bones: the weight of the bone-length loss (`losses.BoneLengthLoss`) beside eq 5.
    """

    variant: str = "full"
    image_size: int = 225
    backbone: str = "zfnet"
    train_backbone: bool = True
    landmarks: bool = False
    bone_lengths: bool = False
    bones_from: str = "branch"
    bone_maps: int = 128
    projection: int = 0
    grid_size: int = 16
    grid_width: float | None = None
    roots: tuple[str, ...] = skeleton.DEFAULT_ROOTS
    width: float = 1.0
    conv_filters: tuple[int, ...] = (64, 128, 192, 192, 192)
    fc_units: int = 2048
    dropout: float = 0.5
    batch_norm: bool = True
    loss_weight_2d: float = 1.0
    loss_weight_3d: float = 6.0
    pose_unit_mm: float = 100.0
    loss_weight_bones: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "roots", tuple(self.roots))
        object.__setattr__(self, "conv_filters", tuple(self.conv_filters))
        if self.variant not in VARIANTS:
            raise ValueError(f"Unknown variant {self.variant!r}; expected one of {tuple(VARIANTS)}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"Unknown backbone {self.backbone!r}; expected one of {BACKBONES}")
        if self.bones_from not in BONE_INPUTS:
            raise ValueError(f"Unknown bones_from {self.bones_from!r}; expected one of {BONE_INPUTS}")
        if self.bones_from == "trunk-16" and self.backbone != "blazepose":
            raise ValueError(f"bones_from 'trunk-16' reads BlazePose's 16 x 16 map; backbone {self.backbone!r} has none")
        if self.bone_maps < 1:
            raise ValueError(f"bone_maps must be a positive number of maps, got {self.bone_maps}")
        if self.landmarks and self.backbone != "blazepose":
            raise ValueError(f"landmarks=True needs backbone='blazepose' (the landmarks are BlazePose's), got "
                             f"backbone={self.backbone!r}")
        if self.projection < 0:
            raise ValueError(f"projection must be 0 (none) or a number of maps, got {self.projection}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {self.image_size}")
        if not 2 <= self.grid_size <= self.image_size:
            raise ValueError(f"grid_size must be in [2, image_size], got {self.grid_size}")
        # A joint at a cell's corner is half a diagonal from the nearest centres: a narrower width leaves it no
        # cell, and its 2D target (eq 1-2) all zeros.
        corner = self.image_size / self.grid_size * math.sqrt(0.5)
        if self.grid_width is not None and not self.grid_width >= corner:
            raise ValueError(f"grid_width must be at least half a cell's diagonal, {corner:.2f} px for grid_size "
                             f"{self.grid_size} at image_size {self.image_size}, got {self.grid_width}")
        if self.width <= 0:
            raise ValueError(f"width must be positive, got {self.width}")
        if len(self.conv_filters) != 5:
            raise ValueError(f"conv_filters needs 5 entries, got {len(self.conv_filters)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pose_unit_mm <= 0:
            raise ValueError(f"pose_unit_mm must be positive, got {self.pose_unit_mm}")
        if self.loss_weight_bones < 0:
            raise ValueError(f"loss_weight_bones must be zero or positive, got {self.loss_weight_bones}")
        skeleton.root_indices(self.roots)

    @property
    def multi_root(self) -> bool:
        """Regress from every root in `roots` (eqs 6-7) rather than the first alone."""
        return VARIANTS[self.variant]["multi_root"]

    @property
    def fusion(self) -> bool:
        """Feed the 2D probabilities (without gradient) into the 3D branch."""
        return VARIANTS[self.variant]["fusion"]

    @property
    def active_roots(self) -> tuple[str, ...]:
        """The roots this variant regresses from."""
        return self.roots if self.multi_root else self.roots[:1]

    def scaled(self, units: int) -> int:
        return max(1, int(round(units * self.width)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        return cls(**_known_fields(cls, values))


def _known_fields(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """`values` checked against the dataclass's fields, with an error naming unknown keys."""
    if not isinstance(values, dict):
        raise ValueError(f"{cls.__name__} settings must be a mapping, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} field(s) {unknown}; known fields are {sorted(known)}")
    return dict(values)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train. Presets (`tfpose3d.presets`) fill every field; CLI flags override them.

    The defaults describe the paper's network with a GPU-sized budget; the
    named presets spell out every value themselves.

    Args:
        preset: the preset this configuration started from ("" if none).
        model: the network.
        epochs, steps_per_epoch, batch_size: the budget (global batch size).
        learning_rate: peak Adam learning rate, cosine-decayed to 1% over the run (constant until a plateau
            with `plateau_patience`).
        seed: weights, data order and augmentation.
        train_images, test_images: rendered images when training on the shipped motion capture.
        look: what the renderer varies beyond body and pose (a row of `tfpose3d.data.options.LOOKS`).
        validation_steps: validation batches per epoch (None: the whole test set).
        augment: pipeline augmentation.
        strategy: "default" (one device), "mirrored" (all local GPUs, or CPUs) or
            "multi-worker" (MultiWorkerMirroredStrategy from TF_CONFIG).
        mixed_precision: mixed_float16 compute (GPU).
        jit_compile: XLA-compile the train step ("auto" lets Keras decide).
        cache: keep decoded, resized images in memory after the first epoch.
        plateau_patience: 0 trains `epochs` epochs on the cosine schedule; n > 0 trains until the validation
            error stops improving (`tfpose3d.estimator.Plateau(patience=n)`), `epochs` at most.
        bone_epochs: 0 trains the bone head with the model only; n > 0 then trains it alone for at most n more
            epochs on its maps of `bone_copies` augmented copies of each training render, computed once
            (`tfpose3d.bone_stage`).
        bone_copies: augmented copies of each training render for `bone_epochs`.
        trunk_copies: 0 trains the model on images, every step through its trunk; n > 0 (a frozen trunk)
            computes the trunk's outputs once, for n augmented copies of each training render, and trains the
            layers after it on them for the schedule's steps (`tfpose3d.frozen_trunk`).
        time_budget_s: 0 trains the whole schedule; s > 0 ends `model.fit` within s seconds of the fit's
            set-up, at the first step after which that epoch's validation and checkpoints would end past them
            (`tfpose3d.callbacks.TimeBudget`). A bound for a slow or busy machine, not part of what a run is:
            a run resumed under another budget is the same run.
    """

    preset: str = ""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    epochs: int = 60
    steps_per_epoch: int = 1000
    batch_size: int = 64
    learning_rate: float = 3e-4
    seed: int = 0
    train_images: int = 100000
    test_images: int = 5000
    look: str = "full"
    validation_steps: int | None = None
    augment: Augment = Augment()
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool | str = "auto"
    cache: bool = False
    plateau_patience: int = 0
    bone_epochs: int = 0
    bone_copies: int = 3
    trunk_copies: int = 0
    time_budget_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch_size", "train_images", "test_images"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.plateau_patience < 0:
            raise ValueError(f"plateau_patience must be 0 (off) or positive, got {self.plateau_patience}")
        if self.validation_steps is not None and self.validation_steps <= 0:
            raise ValueError(f"validation_steps must be positive, got {self.validation_steps}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy {self.strategy!r}; expected one of {STRATEGIES}")
        if self.bone_epochs < 0 or self.bone_copies <= 0:
            raise ValueError(f"bone_epochs must be 0 (off) or positive and bone_copies positive, got "
                             f"{self.bone_epochs} and {self.bone_copies}")
        if self.bone_epochs and not self.model.bone_lengths:
            raise ValueError("bone_epochs trains the bone head on; the model has none (bone_lengths=False)")
        if self.bone_epochs and self.strategy != "default":
            # Its maps are held in one process's memory and its head trained there.
            raise ValueError(f"bone_epochs runs in one process, on one device; got strategy {self.strategy!r}")
        if self.trunk_copies < 0:
            raise ValueError(f"trunk_copies must be 0 (off) or positive, got {self.trunk_copies}")
        if self.trunk_copies and self.model.train_backbone:
            raise ValueError("trunk_copies trains the layers after a frozen trunk on its outputs; this model trains "
                             "its backbone (train_backbone=True)")
        if self.trunk_copies and self.strategy != "default":
            # Its outputs are held in one process's memory.
            raise ValueError(f"trunk_copies runs in one process, on one device; got strategy {self.strategy!r}")
        if not (math.isfinite(self.time_budget_s) and self.time_budget_s >= 0):
            raise ValueError(f"time_budget_s must be 0 (off) or a positive number of seconds, got {self.time_budget_s}")
        if self.time_budget_s and self.strategy == "multi-worker":
            # Each worker's clock would end its fit at another step, and the others would wait on it.
            raise ValueError("a time budget ends training on one process's clock; under strategy 'multi-worker' "
                             "train without one (time_budget_s=0, --time-budget 0)")
        look_named(self.look)

    @property
    def render_options(self) -> RenderOptions:
        """How a "mocap:" data source renders this run's images (counts and seed)."""
        return RenderOptions(self.train_images, self.test_images, self.seed, look=self.look)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        values = _known_fields(cls, values)
        if "model" in values:
            values["model"] = ModelConfig.from_dict(values["model"])
        if "augment" in values:
            augment = _known_fields(Augment, values["augment"])
            values["augment"] = Augment(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
        return cls(**values)


RUN_CONFIG = "config.json"


def read_run(run: str | os.PathLike) -> tuple[dict[str, Any], TrainConfig] | None:
    """A run folder's saved configuration (the JSON and its `TrainConfig`), or None where it has none.

    An unreadable file or an unknown key raises a ValueError naming the file.
    """
    path = Path(run) / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        return saved, TrainConfig.from_dict(saved["train"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a tfpose3d run configuration ({err})") from None
