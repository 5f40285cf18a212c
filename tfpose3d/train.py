"""Training with `model.fit`: presets, data, distribution, checkpoints and resumption."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfpose3d import losses, metrics
from tfpose3d.config import ModelConfig, model_preset
from tfpose3d.data import h36m, pipeline, records
from tfpose3d.model import build_model

STRATEGIES = ("default", "mirrored", "multi-worker")
DATA_ROOT = Path(os.environ.get("TFPOSE3D_DATA", "data"))
H36M_PREFIX = "h36m:"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train. Flags of `tfpose3d train` override preset fields.

    Args:
        preset: the name this configuration started from.
        model: the network.
        epochs, steps_per_epoch, batch_size: the budget (global batch size).
        learning_rate: peak Adam learning rate, cosine-decayed to 1% over the run.
        seed: weights, data order and augmentation.
        train_images, test_images: rendered images when training on the shipped motion capture.
        validation_steps: validation batches per epoch (None: the whole test set).
        augment: pipeline augmentation.
        strategy: "default" (one device), "mirrored" (all local GPUs, or CPUs) or
            "multi-worker" (MultiWorkerMirroredStrategy from TF_CONFIG).
        mixed_precision: mixed_float16 compute (GPU).
        jit_compile: XLA-compile the train step ("auto" lets Keras decide).
        cache: keep decoded, resized images in memory after the first epoch.
    """

    preset: str = "cpu-quick"
    model: ModelConfig = dataclasses.field(default_factory=lambda: model_preset("cpu-quick"))
    epochs: int = 18
    steps_per_epoch: int = 300
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    train_images: int = 20000
    test_images: int = 2000
    validation_steps: int | None = None
    augment: pipeline.Augment = pipeline.Augment()
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool | str = "auto"
    cache: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch_size", "train_images", "test_images"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy {self.strategy!r}; expected one of {STRATEGIES}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        values = dict(values)
        values["model"] = ModelConfig.from_dict(values["model"])
        augment = values.get("augment", {})
        values["augment"] = pipeline.Augment(**{k: tuple(v) if isinstance(v, list) else v for k, v in augment.items()})
        return cls(**values)


TRAIN_PRESETS: dict[str, TrainConfig] = {
    "cpu-quick": TrainConfig(),
    # The paper's network at 225 px, meant for a GPU.
    "paper": TrainConfig(
        preset="paper", model=model_preset("paper"), epochs=60, steps_per_epoch=1000, batch_size=64,
        learning_rate=3e-4, train_images=100000, test_images=5000, cache=False,
    ),
}


def train_preset(name: str, model_overrides: dict[str, Any] | None = None, **overrides: Any) -> TrainConfig:
    """A training preset by name, with overrides of its fields and of its model's fields."""
    if name not in TRAIN_PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(TRAIN_PRESETS)}")
    base = TRAIN_PRESETS[name]
    model = dataclasses.replace(base.model, **(model_overrides or {}))
    return dataclasses.replace(base, model=model, **{k: v for k, v in overrides.items() if v is not None})


def shipped_data(config: TrainConfig, data_root: str | os.PathLike | None = None) -> Path:
    """Rendered train/ and test/ datasets of the shipped motion capture, rendered once and then reused.

    They go under `data_root` (default: $TFPOSE3D_DATA, else ./data).
    """
    root = Path(data_root or DATA_ROOT) / f"bandai-namco-{config.train_images}-{config.test_images}-s{config.seed}"
    # Test images use their own seed stream and only held-out clips.
    for split, count, seed in (("train", config.train_images, config.seed), ("test", config.test_images, config.seed + 1)):
        if not (root / split / records.MANIFEST).is_file():
            print(f"Rendering {count} {split} images of the shipped motion capture to {root / split} ...", flush=True)
            records.write_rendered("bandai-namco", root / split, count, seed, split)
    return root


def resolve_data(data: str | None, config: TrainConfig) -> tuple[str, str]:
    """(train, test) sources for `samples`: rendered dataset folders, or "h36m:ROOT" for both.

    `data` is None (the shipped motion capture), "h36m:ROOT", or a folder
    holding rendered `train/` and `test/` datasets.
    """
    if data is not None and data.startswith(H36M_PREFIX):
        h36m.load_index(data[len(H36M_PREFIX):], "test")  # fail early, naming a missing file
        return data, data
    root = shipped_data(config) if data is None else Path(data)
    for split in ("train", "test"):
        records.read_manifest(root / split)
    return str(root / "train"), str(root / "test")


def samples(source: str | os.PathLike, split: str, image_size: int, shuffle: bool = False, seed: int = 0,
            cache: bool = False) -> tf.data.Dataset:
    """Samples of a source: "h36m:ROOT" (the `split` subjects) or a rendered dataset folder."""
    source = str(source)
    if source.startswith(H36M_PREFIX):
        return h36m.h36m_samples(source[len(H36M_PREFIX):], split, image_size)
    return pipeline.records_dataset(source, image_size, shuffle=shuffle, seed=seed, cache=cache)


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi-worker needs the TF_CONFIG environment variable (cluster and task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def compile_model(model: keras.Model, config: TrainConfig, total_steps: int) -> None:
    loss, loss_weights = losses.pose_losses(config.model)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total_steps, alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=loss,
        loss_weights=loss_weights,
        metrics={
            "pose_3d": [metrics.MeanJointError("mpjpe")],
            "joints_2d": [metrics.MeanJointError("pixel_error", align_root=False)],
        },
        jit_compile=config.jit_compile,
    )


def train(config: TrainConfig, out_dir: str | os.PathLike, data: str | None = None, verbose: int | None = None) -> keras.Model:
    """Train into `out_dir`; rerunning the same command resumes where a killed run stopped."""
    out = Path(out_dir)
    config_path = out / "config.json"
    resolved = {"train": config.to_dict(), "data": data}
    if config_path.is_file():
        saved = json.loads(config_path.read_text())
        if saved != json.loads(json.dumps(resolved)):
            raise ValueError(f"{out} holds a run with a different configuration; choose another --out")
        if (out / "model.keras").is_file():
            print(f"{out} is already trained with this configuration; delete model.keras to train again")
            return keras.models.load_model(out / "model.keras", safe_mode=True)
    # Data and strategy are checked before the run folder is written, so a bad call leaves nothing behind.
    train_source, test_source = resolve_data(data, config)
    strategy = make_strategy(config.strategy)
    out.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(resolved, indent=2))

    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.seed)

    size = config.model.image_size
    train_samples = samples(train_source, "train", size, shuffle=True, seed=config.seed, cache=config.cache)
    train_ds = pipeline.training_batches(train_samples, config.model, config.batch_size, config.augment, config.seed)
    val_ds = pipeline.training_batches(
        samples(test_source, "test", size), config.model, config.batch_size,
        augment=None, shuffle_buffer=0, repeat=False,
    )
    if config.validation_steps:
        val_ds = val_ds.take(config.validation_steps)

    with strategy.scope():
        model = build_model(config.model)
        compile_model(model, config, config.epochs * config.steps_per_epoch)

    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_pose_3d_mpjpe", mode="min", save_best_only=True),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "logs")),
    ]
    start = time.perf_counter()
    model.fit(train_ds, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, validation_data=val_ds,
              callbacks=callbacks, verbose=verbose if verbose is not None else (1 if sys.stdout.isatty() else 2))
    model.save(out / "model.keras")
    summary = {"seconds_this_session": round(time.perf_counter() - start, 1), "parameters": model.count_params()}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return model
