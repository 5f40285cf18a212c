"""Training with `model.fit`: data, distribution, checkpoints and resumption."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import keras
import numpy as np
import tensorflow as tf

from tfpose3d import contract, metrics
from tfpose3d.bone_stage import fit_bone_head, mean_length_bias
from tfpose3d.config import RUN_CONFIG, TrainConfig, read_run
from tfpose3d.data import pipeline, render
from tfpose3d.data.photos import PhotoSet, training_mean_2d
from tfpose3d.data.sources import Source, open_source
from tfpose3d.distribute import (
    cluster_size, is_chief, keras_multi_worker_fixes, make_strategy, read_tf_config, watched, write_dir,
)
from tfpose3d.callbacks import PhotoWatch, PlateauStop, TimeBudget
from tfpose3d.estimator import Plateau, Pose3DEstimator, compile_model, load_model
from tfpose3d.frozen_trunk import HeadTrainer, Shuffled, trunk_outputs
from tfpose3d.paths import writable


# The model's weights once `model.fit` is done, kept while the bone stage (`TrainConfig.bone_epochs`) runs, so
# that a run killed there does not train again from the start.
FITTED = "fitted.weights.h5"
# Training poses the bone head's start lengths are the mean of: 20,000 read in about 6 s on 2 cores.
BONE_START_POSES = 20000


def _same_run(out: Path, resolved: dict) -> bool:
    """Whether `out` already holds this run; an error if it holds another."""
    run = read_run(out)
    if run is None:
        return False
    saved, config = run
    # Compared through TrainConfig: a field added since the run was saved, whose default trains as before
    # (Augment.texture), leaves it the same run. The time budget is left out: a run it ended is trained, and a
    # killed run resumes under any budget. So is where the data lay: the same spec resumed from another folder.
    def identity(run: dict) -> dict:
        kept = {k: v for k, v in run.items() if k != "data_at"}  # the same data, seen from another folder
        return json.loads(json.dumps({**kept, "train": {**run["train"], "time_budget_s": 0}}))

    if identity({**saved, "train": config.to_dict()}) != identity(resolved):
        raise ValueError(f"{out} holds a run with a different configuration; choose another --out")
    return True


def _datasets(source: Source, config: TrainConfig, strategy: tf.distribute.Strategy, val_split: str,
              start_epoch: int = 0):
    """Training and validation data for `model.fit`, one input pipeline per worker.

    Training: each worker keeps its slice of every global batch (see
    `pipeline.training_batches`), so a distributed step trains on exactly the
    batch one process would. Validation: every worker runs the whole `val_split`,
    so the averaged figures equal one process's; with several devices in one worker, its whole global batches
    (see `pipeline.training_batches`). From `start_epoch` (a resumed run), the training stream goes on where
    that epoch begins.
    """
    size = config.model.image_size

    def local_replicas(context: tf.distribute.InputContext | None) -> int:
        return context.num_replicas_in_sync // context.num_input_pipelines if context else 1

    def train_data(context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        samples = source.samples("train", size, shuffle=True, seed=config.seed, cache=config.cache)
        shard = (context.input_pipeline_id, context.num_input_pipelines) if context else (0, 1)
        return pipeline.training_batches(samples, config.batch_size, config.augment, config.seed, shard=shard,
                                         replicas=local_replicas(context),
                                         start=start_epoch * config.steps_per_epoch * config.batch_size)

    def val_data(context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        replicas = local_replicas(context)
        ds = pipeline.training_batches(source.samples(val_split, size), config.batch_size, augment=None,
                                       shuffle_buffer=0, repeat=False, replicas=replicas)
        return ds.take(config.validation_steps * replicas) if config.validation_steps else ds

    if strategy.num_replicas_in_sync == 1:
        return train_data(), val_data()
    return strategy.distribute_datasets_from_function(train_data), strategy.distribute_datasets_from_function(val_data)


def _trunk_datasets(model: Pose3DEstimator, source: Source, config: TrainConfig, val_split: str):
    """Training and validation data for a `HeadTrainer` of `model`: its trunk's outputs for
    `config.trunk_copies` augmented copies of each training render, drawn as a `Shuffled` stream of the
    schedule's steps, and for the validation renders as they are."""
    size = config.model.image_size
    inputs, labels = trunk_outputs(model.backbone, source.samples("train", size), config.batch_size, config.augment,
                                   config.trunk_copies, config.seed)
    val = source.samples(val_split, size)
    if config.validation_steps:
        val = val.take(config.validation_steps * config.batch_size)
    train = Shuffled(inputs, labels, config.batch_size, config.seed, steps=config.steps_per_epoch)
    return train, trunk_outputs(model.backbone, val, config.batch_size)


def _poses(source: Source, config: TrainConfig, split: str, count: int | None = None) -> np.ndarray:
    """The first `count` (all where None) true 3D poses (N, 17, 3) of `split`, in mm."""
    poses = source.samples(split, config.model.image_size).map(lambda sample: sample["joints_3d"])
    if count:
        poses = poses.take(count)
    return np.stack(list(poses.as_numpy_iterator())).astype(np.float64)


def _mean_pose_error(source: Source, config: TrainConfig, split: str) -> float:
    """MPJPE (mm) of answering `split`'s own mean pose, over the samples validation sees."""
    true = _poses(source, config, split, config.validation_steps and config.validation_steps * config.batch_size)
    return metrics.mpjpe(metrics.mean_pose(true), true)


class EpochSeconds(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch (training and validation) run by this process."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(round(time.perf_counter() - self._start, 2))


def _best_so_far(run: Path) -> float | None:
    """The lowest validation MPJPE before a killed run's restart (from its history.csv), None for a new run."""
    if not (run / "backup").is_dir() or not (run / "history.csv").is_file():
        return None
    with open(run / "history.csv", newline="") as f:
        errors = [float(row["val_pose_3d_mpjpe"]) for row in csv.DictReader(f) if row.get("val_pose_3d_mpjpe")]
    return min(errors, default=None)


def _callbacks(write: Path, run: Path) -> list[keras.callbacks.Callback]:
    """Checkpoints, history and logs under `write`; a non-chief worker restores from the chief's backup in `run`.
    The backup is written last: a run killed while an epoch's checkpoint or history line is being written
    repeats that epoch, rather than going on without them. It keeps the one before it too, from which a run
    killed while the backup's weights are being written resumes."""
    if write != run and (run / "backup").is_dir():
        shutil.copytree(run / "backup", write / "backup")
    return [
        # A resumed run's best.keras is replaced only by a better epoch than any before the restart.
        keras.callbacks.ModelCheckpoint(str(write / "best.keras"), monitor="val_pose_3d_mpjpe", mode="min",
                                        save_best_only=True, initial_value_threshold=_best_so_far(run)),
        keras.callbacks.CSVLogger(str(write / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(write / "logs")),
        keras.callbacks.BackupAndRestore(str(write / "backup"), double_checkpoint=True),
    ]


def _backed_up_epoch(run: Path) -> int:
    """The epoch a run restarted in `run` resumes from: what BackupAndRestore's backup there says, else 0."""
    metadata = run / "backup" / "training_metadata.json"
    return int(json.loads(metadata.read_text())["epoch"]) if metadata.is_file() else 0


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold `out`/.lock while training into `out`: a second process training into the same folder stops with
    an error that names the first, instead of training over it. The lock goes with the process that holds it,
    however it ends."""
    import fcntl

    with open(out / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise ValueError(f"--out {out}: another tfpose3d train (process {handle.read().strip() or '?'}) is training "
                             "into this folder; wait for it to end or pick another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def train(config: TrainConfig, out_dir: str | os.PathLike, data: str | None = None, verbose: int | None = None,
          worker_timeout_s: float = 300.0, photos: str | os.PathLike | None = None) -> Pose3DEstimator:
    """Train into `out_dir`; rerunning the same command resumes where a killed run stopped.

    `photos`, a folder of real photographs with 2D joints, adds their 2D error to each epoch's log (`PhotoWatch`).

    Under `--strategy multi-worker` every worker runs this with the same
    arguments; only the chief writes `out_dir`. A worker stops with an error
    when the cluster has not formed, or no step has finished, within
    `worker_timeout_s` seconds, or as soon as TensorFlow reports a peer lost.
    """
    out = writable(out_dir, "--out")
    # The renderer's version is part of a run: its default data cannot be rebuilt by another renderer.
    resolved = {"train": config.to_dict(), "data": data, "renderer": render.VERSION}
    if _same_run(out, resolved) and (out / "model.keras").is_file():
        print(f"{out} is already trained with this configuration; delete model.keras to train again")
        return load_model(out)
    # Strategy and data are checked before the run folder is written, so a bad call leaves nothing behind.
    # The strategy comes first: a multi-worker one must exist before TensorFlow runs any op.
    if config.strategy == "multi-worker":
        workers = cluster_size(read_tf_config())
        if config.batch_size % workers:
            raise ValueError(f"--batch-size {config.batch_size} does not divide among the {workers} workers in "
                             "TF_CONFIG; the batch size is global")
    strategy = make_strategy(config.strategy, worker_timeout_s)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"--batch-size {config.batch_size} does not divide among the {strategy.num_replicas_in_sync} "
                         "replicas of this run; the batch size is global")
    if photos is not None and config.strategy == "multi-worker":
        raise ValueError("--photos is watched by one process; train without it under --strategy multi-worker")
    watched_photos = PhotoSet.load(photos) if photos is not None else None
    source = open_source(data, config.render_options)
    source.check(("train",))  # data that cannot be read at all is named before what it lacks
    val_split = source.validation_split()
    source.check((val_split,))
    if val_split == "test":
        print(f"{source.spec} has no val split: validating on test, so the best checkpoint"
              f"{' and the plateau' if config.plateau_patience else ''} are chosen on the test figures' own images")
    with contextlib.ExitStack() as lock:
        if is_chief(strategy):
            out.mkdir(parents=True, exist_ok=True)
            lock.enter_context(run_lock(out))
            # Where the images lie, absolute: an evaluation run from another working folder reads them
            # there instead of rendering the default data again beside itself.
            at = source.records_folder()
            (out / RUN_CONFIG).write_text(json.dumps({**resolved, **({"data_at": str(at)} if at else {})}, indent=2))
        # The policy is the run's: a notebook's next model after a mixed-precision run is float32 again.
        lock.callback(keras.mixed_precision.set_global_policy, keras.mixed_precision.global_policy())
        if config.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        return _fit(config, out, source, val_split, strategy, watched_photos, verbose, worker_timeout_s)


def _plateau_stop(config: TrainConfig, source: Source, val_split: str, out: Path, write: Path) -> list[PlateauStop]:
    """The callback of `config.plateau_patience` (none without it), resuming the count a run stopped at."""
    if not config.plateau_patience:
        return []
    if write != out and (out / "plateau.json").is_file():  # a worker resumes the chief's count
        shutil.copy(out / "plateau.json", write / "plateau.json")
    rule = Plateau(config.plateau_patience, reference=_mean_pose_error(source, config, val_split))
    return [PlateauStop(rule, write / "plateau.json", resume_epoch=_backed_up_epoch(out))]


def _load_fitted(model: Pose3DEstimator, out: Path) -> None:
    """The weights a run had when its bone stage stopped, so that the stage starts again without the fit."""
    print(f"{out}: the model was trained before its bone stage stopped; the bone stage starts again")
    # The stage trains its own optimizer; the model's is not needed.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    model.load_weights(out / FITTED)
    # Built, so that model.keras holds the optimizer a loaded model is compiled with, as after `fit`.
    model.optimizer.build(model.trainable_variables)


def _budget_ended(budget: TimeBudget, config: TrainConfig, out: Path) -> dict[str, Any]:
    """Says where the time budget ended training; train_summary.json's record of it."""
    epoch, steps = budget.ended
    print(f"{out}: the time budget ({config.time_budget_s:g} s) ended training after step {steps} of "
          f"{config.steps_per_epoch} in epoch {epoch} of {config.epochs}, keeping "
          f"{budget.tail:.0f} s for an epoch's validation and checkpoints", flush=True)
    return {"time_budget_ended": budget.ended, "time_budget_tail_s": round(budget.tail, 1)}


def _bone_stage(model: Pose3DEstimator, config: TrainConfig, source: Source, val_split: str, out: Path, write: Path,
                verbose: int) -> dict[str, Any]:
    """`config.bone_epochs` of the bone head alone (`bone_stage.fit_bone_head`), after the model's weights are
    kept in `FITTED`, so that a stopped stage starts again there."""
    model.save_weights(write / FITTED)
    print(f"{out}: bone stage: the bone head's maps of {config.bone_copies} augmented copies of each "
          f"training render, then at most {config.bone_epochs} epochs on them", flush=True)
    size = config.model.image_size
    return fit_bone_head(model, source.samples("train", size), source.samples(val_split, size), config.bone_epochs,
                         config.bone_copies, config.batch_size, config.learning_rate, config.augment, config.seed,
                         verbose)


def _fit(config: TrainConfig, out: Path, source: Source, val_split: str, strategy: tf.distribute.Strategy,
         watched_photos: PhotoSet | None, verbose: int | None, worker_timeout_s: float) -> Pose3DEstimator:
    """`train`'s `model.fit` and what it writes, once the run folder is set up."""
    keras.utils.set_random_seed(config.seed)
    # With trunk_copies the trunk's outputs are computed when the fit starts, not before a resumed bone stage.
    train_ds, val_ds = (None, None) if config.trunk_copies else _datasets(source, config, strategy, val_split,
                                                                           _backed_up_epoch(out))
    total_steps = None if config.plateau_patience else config.epochs * config.steps_per_epoch
    with strategy.scope():
        model = Pose3DEstimator(config.model)
        compile_model(model, config, total_steps)

    verbose = verbose if verbose is not None else (1 if sys.stdout.isatty() else 2)
    with write_dir(strategy, out) as write, keras_multi_worker_fixes(strategy), warnings.catch_warnings():
        # Validation runs a finite set of unknown length to its end, which Keras reports as running out of data.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        start, epochs = time.perf_counter(), EpochSeconds()
        # Before the loggers, which write what the callbacks before them have added to an epoch's logs.
        photo_watch = [PhotoWatch(watched_photos, training_mean_2d(source, contract.IMAGE_SIZE), config.model.image_size,
                                  model)] if watched_photos else []
        # Before the backup, so that a cut rate is in the checkpoint a resumed run starts from.
        plateau = _plateau_stop(config, source, val_split, out, write)
        facts = {}  # what train_summary.json adds for the fit: the trunk outputs' cost, a budget's end
        if (out / FITTED).is_file():
            _load_fitted(model, out)
        else:
            if config.model.bone_lengths:
                # From the training renders' mean lengths, not the model's unit (100 mm): within the schedule's
                # steps the head reads people's sizes better from there (docs/results.md, "Where the bone head
                # starts").
                poses = _poses(source, config, "train", BONE_START_POSES)
                model.get_layer("fc_out_bones").bias.assign(mean_length_bias(poses, config.model.pose_unit_mm))
            fitted, fit_args, stream = model, {}, []
            if config.trunk_copies:
                print(f"{out}: the trunk's outputs for {config.trunk_copies} augmented copies of each training "
                      "render, then the schedule's steps on them", flush=True)
                fitted = HeadTrainer(model)
                fitted.compile(jit_compile=config.jit_compile)  # with the estimator's optimizer, which model.keras holds
                begin = time.perf_counter()
                train_ds, val_ds = _trunk_datasets(model, source, config, val_split)
                facts = {"trunk_samples": train_ds.count, "trunk_seconds": round(time.perf_counter() - begin, 1)}
                fit_args = {"validation_batch_size": config.batch_size}
                stream = [train_ds.epoch_callback()]
            budget = [TimeBudget(config.time_budget_s, start)] if config.time_budget_s else []
            with watched(strategy, worker_timeout_s) as watch:
                # shuffle=False: the data shuffles itself (seeded); Keras would only warn that it cannot.
                fitted.fit(train_ds, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                           validation_data=val_ds, callbacks=photo_watch + plateau + budget + _callbacks(write, out) +
                           watch + stream + [epochs], shuffle=False, verbose=verbose, **fit_args)
            if budget and budget[0].ended:
                facts.update(_budget_ended(budget[0], config, out))
            if plateau and (write / "best.keras").is_file():
                # The best epoch's weights, as the rule's bench scores them; best.keras has them since before any restart.
                model.load_weights(write / "best.keras")
        stage = {}
        if config.bone_epochs:
            del train_ds, val_ds  # their cache of the training images (gigabytes) goes before the maps come
            stage["bone_stage"] = _bone_stage(model, config, source, val_split, out, write, verbose)
        summary = {"seconds_this_process": round(time.perf_counter() - start, 1), "epoch_seconds": epochs.seconds,
                   "parameters": model.count_params(), "replicas": strategy.num_replicas_in_sync, **facts, **stage}
        model.save(write / "model.keras")
        (write / FITTED).unlink(missing_ok=True)
        (write / "train_summary.json").write_text(json.dumps(summary, indent=2))
    best = f" (the weights of epoch {plateau[0].rule.best_epoch}, the best on {val_split})" if plateau else ""
    print(f"{out}: model.keras written{best}")
    return model
