"""Training callbacks that run on any Keras backend: the real-photo watch and the plateau rule.

`tfpose3d train` uses them under TensorFlow; `bench/gpu_keras.py` uses the same pieces on JAX.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

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
    """

    def __init__(self, photos: PhotoSet, mean_2d: np.ndarray, image_size: int):
        super().__init__()
        self.photos, self.image_size = photos, image_size
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
            measured = self.measure(self.model)
            logs.update(photos_2d_error=measured["photos_2d_error"], photos_vs_mean_2d=measured["photos_vs_mean_2d"])


class PlateauStop(keras.callbacks.Callback):
    """Cuts the learning rate and ends training as `rule` says from each epoch's validation MPJPE. Its count is
    kept in `path` (plateau.json), so a resumed run goes on counting where the killed one stopped.

    Args:
        rule: the plateau rule; a count saved in `path` replaces it.
        path: where the count is written after every epoch.
    """

    def __init__(self, rule: Plateau, path: Path):
        super().__init__()
        self.path = path
        self.rule = Plateau(**json.loads(path.read_text())) if path.is_file() else rule

    def on_epoch_end(self, epoch, logs=None):
        action = self.rule.update(float(logs["val_pose_3d_mpjpe"]))
        if action == "cut":
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.model.optimizer.learning_rate = rate * self.rule.cut
        self.model.stop_training = action == "stop"
        self.path.write_text(json.dumps(dataclasses.asdict(self.rule)))
