"""Training from arrays (where TensorFlow is not installed): the same samples as the records, and the callbacks."""

import keras
import numpy as np

from tfpose3d import ModelConfig, build_model
from tfpose3d.callbacks import ArrayValidation, PlateauStop
from tfpose3d.data import pipeline
from tfpose3d.data.arrays import ArrayBatches, render_arrays
from tfpose3d.estimator import Plateau

from test_model import random_batch

TINY = ModelConfig(variant="baseline", image_size=64, grid_size=8, width=0.05, dropout=0.0)


def test_arrays_hold_the_samples_the_records_hold(data_dir):
    # conftest's val/ records: 12 samples of the "val" stream of data seed 0, rendered at 225 px.
    records = list(pipeline.records_dataset(data_dir / "val", 225, shuffle=False).as_numpy_iterator())
    arrays = render_arrays("bandai-namco", "val", len(records), seed=0)
    np.testing.assert_allclose(arrays["joints_3d"], np.stack([r["joints_3d"] for r in records]), atol=1e-3)
    np.testing.assert_allclose(arrays["joints_2d"], np.stack([r["joints_2d"] for r in records]), atol=1e-3)
    # Both decode the same JPEG bytes (PIL here, TensorFlow there).
    gap = np.abs(arrays["image"].astype(np.float32) - np.stack([r["image"] for r in records]))
    assert gap.mean() < 1.0
    assert [a for a in arrays["action"]] == [r["action"].decode() for r in records]


def test_plateau_stop_cuts_stops_and_restores_the_best_epoch():
    model = build_model(TINY)
    model.compile(optimizer=keras.optimizers.Adam(0.1))
    stop = PlateauStop(Plateau(patience=1, cuts=1), restore_best=True)
    stop.set_model(model)
    first = model.get_weights()
    rates = []
    # Each epoch the weights move; the second epoch's are the best.
    for epoch, error in enumerate([5.0, 4.0, 4.5, 4.6]):
        model.set_weights([w + epoch for w in first])
        logs = {"val_pose_3d_mpjpe": error}
        stop.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.1, 0.025])  # cut after the third epoch, logged from the fourth
    assert stop.stopped and model.stop_training
    stop.on_train_end()
    for restored, original in zip(model.get_weights(), first):
        np.testing.assert_array_equal(restored, original + 1)


def test_training_from_arrays_logs_the_validation_error():
    images, labels = random_batch(TINY, n=8)
    data = {"image": images, **labels, "action": np.array(["walk"] * 8)}
    model = build_model(TINY)
    model.compile()
    validation = ArrayValidation(data)
    history = model.fit(ArrayBatches(data, batch_size=4, steps=3, workers=1), epochs=2, verbose=0,
                        callbacks=[validation])
    assert len(history.history["val_pose_3d_mpjpe"]) == 2 and validation.seconds > 0
    pose = model.predict(images, verbose=0)["pose_3d"]
    expected = np.linalg.norm((pose - pose[:, :1]) - (labels["joints_3d"] - labels["joints_3d"][:, :1]), axis=-1).mean()
    np.testing.assert_allclose(history.history["val_pose_3d_mpjpe"][-1], expected, rtol=1e-5)
