"""Training callbacks that run on any Keras backend: the real-photo watch, the plateau rule, the time budget
and validation on arrays.

`tfpose3d train` uses them under TensorFlow; `bench/gpu_keras.py` uses the same pieces on JAX.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from tfpose3d import metrics
from tfpose3d.data.photos import PCK_FRACTION, PhotoSet
from tfpose3d.estimator import Plateau
from tfpose3d.preprocessing import resize_square


class PhotoWatch(keras.callbacks.Callback):
    """Each epoch's 2D error on real photographs, logged beside the losses (history.csv, TensorBoard).

    It shows how training on renders carries over to photos, epoch by epoch; it never chooses the model (the
    best checkpoint follows the held-out renders). Logs `photos_2d_error`, a fraction of the crop side, and
    `photos_vs_mean_2d`, over the error of always answering the training renders' mean 2D pose.

    Args:
        photos: the people to measure on.
        mean_2d: (17, 2) the mean 2D pose of the training renders, a fraction of the image side.
        image_size: the model's input side; crops are resized to it as the serving signature resizes.
        estimator: the model to measure, where `fit` trains another (a `frozen_trunk.HeadTrainer`); default
            the model `fit` trains.
    """

    def __init__(self, photos: PhotoSet, mean_2d: np.ndarray, image_size: int, estimator: keras.Model | None = None):
        super().__init__()
        self.photos, self.image_size, self.estimator = photos, image_size, estimator
        self.images = resize_square(photos.crops, image_size)
        self.baseline = photos.score(mean_2d[None])["2D error"]

    def measure(self, model: keras.Model) -> dict[str, float]:
        """`model`'s 2D error on the photos (a fraction of the crop side), over the mean 2D pose's, and its PCK."""
        joints = keras.ops.convert_to_numpy(model.predict(self.images, batch_size=64, verbose=0)["joints_2d"])
        score = self.photos.score(joints.astype(np.float64) / self.image_size)
        return {"photos_2d_error": score["2D error"], "photos_vs_mean_2d": score["2D error"] / self.baseline,
                f"photos_pck@{PCK_FRACTION:g}": score[f"PCK@{PCK_FRACTION:g}"]}

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            measured = self.measure(self.model if self.estimator is None else self.estimator)
            logs.update(photos_2d_error=measured["photos_2d_error"], photos_vs_mean_2d=measured["photos_vs_mean_2d"])


class PlateauStop(keras.callbacks.Callback):
    """Cuts the learning rate and ends training as `rule` says from each epoch's validation MPJPE
    (`val_pose_3d_mpjpe` in the logs); logs the epoch's `learning_rate`.

    Args:
        rule: the plateau rule; a count saved in `path` replaces it.
        path: where the count is written after every epoch (plateau.json), beside the one before it, so a
            resumed run goes on counting where the killed one stopped; None keeps it in memory only.
        restore_best: put the best epoch's weights back when training ends (a run without checkpoints).
        resume_epoch: the epochs a resumed run's weights have seen (its backup's). A count one epoch ahead
            of them, written before the kill cut that epoch's backup short, is of the epoch the run repeats:
            the one before it is taken. A count further ahead belongs to no backup (a run killed once its
            backup was gone, before its model was saved), and the count starts again with the training.

    Attributes:
        stopped: whether the rule ended the training.
    """

    def __init__(self, rule: Plateau, path: Path | None = None, restore_best: bool = False,
                 resume_epoch: int | None = None):
        super().__init__()
        self.path, self.restore_best, self.best_weights, self.stopped = path, restore_best, None, False
        self.rule = rule
        if path is not None and path.is_file():
            saved = json.loads(path.read_text())
            # A count written before plateau.json kept the one before it is the count alone.
            now, before = (saved["now"], saved["before"]) if "now" in saved else (saved, None)
            if resume_epoch is None or now["epoch"] <= resume_epoch:
                self.rule = Plateau(**now)
            elif now["epoch"] == resume_epoch + 1:
                self.rule = Plateau(**(before or now))  # an older count, alone, is the nearest there is

    def on_epoch_end(self, epoch, logs=None):
        before = dataclasses.asdict(self.rule)
        action = self.rule.update(float(logs["val_pose_3d_mpjpe"]))
        if action == "best" and self.restore_best:
            self.best_weights = self.model.get_weights()
        # The epoch's rate, logged as Keras's ReduceLROnPlateau logs it, before a cut.
        rate = logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if action == "cut":
            self.model.optimizer.learning_rate = rate * self.rule.cut
        self.stopped = action == "stop"
        self.model.stop_training = self.model.stop_training or self.stopped
        if self.path is not None:
            self.path.write_text(json.dumps({"now": dataclasses.asdict(self.rule), "before": before}))

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class TimeBudget(keras.callbacks.Callback):
    """Ends training within `seconds` of `start`: at the first step after which the rest of its epoch, the
    validation and the checkpoints, as long as the longest seen so far, would end past them. Keras then
    validates and logs that epoch and ends the fit as at the schedule's end, so the checkpoints and history
    are whole.

    A bound for a shared machine, where an epoch now and then takes twice its usual time: a run at the usual
    pace never meets it. Under a decaying schedule the steps it cuts are the last, at the lowest rates. What
    comes after the last step is measured, not assumed: 5.5 s on a quiet machine, 34 s on a busy one
    (docs/results.md, "Training time").

    Args:
        seconds: the budget, counted from `start`.
        start: when the budget began (`clock`'s time), so that work before `fit` counts; default when each
            `fit` begins.
        clock: seconds, as `time.perf_counter`.

    Attributes:
        ended: (epoch, steps), both from 1, where the budget ended the training; None while it has not.
        tail: the longest time from an epoch's last step to the next epoch's start, so far (seconds).

    Example:
    >>> from types import SimpleNamespace
    >>> budget = TimeBudget(0.0)
    >>> budget.set_model(SimpleNamespace(stop_training=False))
    >>> budget.on_train_begin(); budget.on_epoch_begin(0); budget.on_train_batch_end(0)
    >>> budget.model.stop_training, budget.ended
    (True, (1, 1))
    """

    def __init__(self, seconds: float, start: float | None = None, clock: Callable[[], float] = time.perf_counter):
        super().__init__()
        self.seconds, self.given_start, self.clock = seconds, start, clock
        self.start, self.ended, self.tail, self._epoch, self._last_step = start, None, 0.0, 0, None

    def on_train_begin(self, logs=None):
        self.start = self.clock() if self.given_start is None else self.given_start
        self.ended, self.tail, self._last_step = None, 0.0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._last_step is not None:
            self.tail = max(self.tail, self.clock() - self._last_step)

    def on_train_batch_end(self, batch, logs=None):
        self._last_step = now = self.clock()
        # The schedule's own last step ends the fit anyway: the budget has cut nothing there.
        schedule = self.params or {}
        last = self._epoch + 1 == schedule.get("epochs") and batch + 1 == schedule.get("steps")
        if self.ended is None and not last and now - self.start + self.tail > self.seconds:
            self.model.stop_training = True
            self.ended = (self._epoch + 1, batch + 1)


def array_predictions(model: keras.Model, data: dict[str, np.ndarray], batch_size: int = 256) -> dict[str, np.ndarray]:
    """`model`'s poses of arrays' images (`tfpose3d.data.arrays`) beside the truth, in the form
    `metrics.tables` reads."""
    out = model.predict(data["image"], batch_size=batch_size, verbose=0)
    return {"pose_3d": np.asarray(out["pose_3d"], np.float64), "joints_2d": np.asarray(out["joints_2d"], np.float64),
            "true_3d": np.asarray(data["joints_3d"], np.float64), "true_2d": np.asarray(data["joints_2d"], np.float64),
            "action": np.asarray(data["action"])}


class ArrayValidation(keras.callbacks.Callback):
    """Each epoch's MPJPE on validation arrays, logged as `val_pose_3d_mpjpe` (the name `model.fit` gives it
    on a validation dataset), for training from arrays, where `fit` has no validation data.

    Args:
        data: arrays with `image`, `joints_3d` (mm) and the labels `array_predictions` reads.

    Attributes:
        seconds: wall-clock seconds spent validating so far, to tell training time apart.
    """

    def __init__(self, data: dict[str, np.ndarray]):
        super().__init__()
        self.data, self.seconds = data, 0.0

    def error(self, model: keras.Model) -> float:
        """`model`'s MPJPE (mm) on the arrays."""
        pred = array_predictions(model, self.data)
        return metrics.mpjpe(pred["pose_3d"], pred["true_3d"])

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        logs["val_pose_3d_mpjpe"] = self.error(self.model)
        self.seconds += time.perf_counter() - start
