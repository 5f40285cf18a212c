"""Training with `model.fit`: data, distribution, checkpoints and resumption."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from tfpose3d.config import TrainConfig
from tfpose3d.data import pipeline
from tfpose3d.data.sources import open_source
from tfpose3d.estimator import Pose3DEstimator


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


def compile_model(model: Pose3DEstimator, config: TrainConfig, total_steps: int) -> None:
    """The estimator's own loss and metrics, with Adam on a cosine schedule over the run."""
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total_steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=config.jit_compile)


def _saved_run(config_path: Path, resolved: dict) -> bool:
    """Whether `config_path` holds this run's configuration; an error if it holds another or is unreadable."""
    if not config_path.is_file():
        return False
    try:
        saved = json.loads(config_path.read_text())
        TrainConfig.from_dict(saved["train"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{config_path}: not a tfpose3d run configuration ({err}); choose another --out") from None
    if saved != json.loads(json.dumps(resolved)):
        raise ValueError(f"{config_path.parent} holds a run with a different configuration; choose another --out")
    return True


def train(config: TrainConfig, out_dir: str | os.PathLike, data: str | None = None, verbose: int | None = None) -> Pose3DEstimator:
    """Train into `out_dir`; rerunning the same command resumes where a killed run stopped."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; a run folder is needed")
    config_path = out / "config.json"
    resolved = {"train": config.to_dict(), "data": data}
    if _saved_run(config_path, resolved) and (out / "model.keras").is_file():
        print(f"{out} is already trained with this configuration; delete model.keras to train again")
        return keras.models.load_model(out / "model.keras", safe_mode=True)
    # Data and strategy are checked before the run folder is written, so a bad call leaves nothing behind.
    source = open_source(data, config.render_options)
    source.check()
    strategy = make_strategy(config.strategy)
    out.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(resolved, indent=2))

    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.seed)

    size = config.model.image_size
    train_samples = source.samples("train", size, shuffle=True, seed=config.seed, cache=config.cache)
    train_ds = pipeline.training_batches(train_samples, config.batch_size, config.augment, config.seed)
    val_ds = pipeline.training_batches(source.samples("test", size), config.batch_size, augment=None,
                                       shuffle_buffer=0, repeat=False)
    if config.validation_steps:
        val_ds = val_ds.take(config.validation_steps)

    with strategy.scope():
        model = Pose3DEstimator(config.model)
        compile_model(model, config, config.epochs * config.steps_per_epoch)

    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_pose_3d_mpjpe", mode="min", save_best_only=True),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "logs")),
    ]
    start = time.perf_counter()
    # shuffle=False: the pipeline shuffles (seeded); Keras would only warn that it cannot.
    verbose = verbose if verbose is not None else (1 if sys.stdout.isatty() else 2)
    with warnings.catch_warnings():
        # Validation runs a finite set of unknown length to its end, which Keras reports as running out of data.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(train_ds, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, validation_data=val_ds,
                  callbacks=callbacks, shuffle=False, verbose=verbose)
    model.save(out / "model.keras")
    summary = {"seconds_this_session": round(time.perf_counter() - start, 1), "parameters": model.count_params()}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return model
