"""Training throughput of each preset, with the data pipeline and from cached tensors (images/s).

Run: .venv/bin/python bench/train_throughput.py [--presets cpu-quick paper] [--xla off on] [--inputs pipeline cached]
A preset may carry network fields changed from its row: `cpu-pretrained:bones_from=trunk,bone_maps=128`.
Renders a small dataset to a temporary folder, then times `model.fit` epochs
after a warm-up epoch, and prints the median images/s per setting. `pipeline`:
decode, resize and augmentation run in tf.data as in training; `cached`: the
warm-up epoch's batches are kept in memory and replayed, so the figure is the
model's alone. On a GPU machine it also reports mixed precision.
"""

from __future__ import annotations

import argparse
import ast
import platform
import statistics
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from tfpose3d.data import pipeline, records
from tfpose3d.data.sources import open_source
from tfpose3d.estimator import Pose3DEstimator, compile_model
from tfpose3d.presets import train_preset
from tfpose3d.train import EpochSeconds


def preset_and_changes(spec: str) -> tuple[str, dict]:
    """`name[:field=value,...]` as the preset's name and its network fields' new values (Python literals or
    strings)."""
    name, _, changes = spec.partition(":")
    fields = dict(change.split("=", 1) for change in changes.split(",") if change)
    return name, {key: _literal(value) for key, value in fields.items()}


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def measure(preset: str, data: Path, steps: int, epochs: int, jit: bool, mixed: bool, cached: bool) -> float:
    name, changes = preset_and_changes(preset)
    config = train_preset(name, changes, jit_compile=jit, mixed_precision=mixed, cache=False)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    samples = open_source(data).samples("train", config.model.image_size, shuffle=True)
    ds = pipeline.training_batches(samples, config.batch_size, config.augment)
    if cached:
        ds = ds.take(steps).cache().repeat()  # filled by the warm-up epoch
    model = Pose3DEstimator(config.model)
    compile_model(model, config, steps * epochs)
    timer = EpochSeconds()
    model.fit(ds, epochs=epochs, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    return statistics.median(steps * config.batch_size / s for s in timer.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", nargs="+", default=["cpu-quick", "paper"])
    parser.add_argument("--xla", nargs="+", default=["off", "on"])
    parser.add_argument("--inputs", nargs="+", default=["pipeline", "cached"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    gpu = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpu[0]).get("device_name", "GPU") if gpu else f"CPU ({platform.machine()})"
    print(f"device: {device}; TensorFlow {tf.__version__}")
    print("| preset | XLA | mixed precision | inputs | images/s (median) |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train"
        records.write_rendered("bandai-namco", data, args.images, seed=0, progress=False)
        for preset in args.presets:
            for xla in args.xla:
                for mixed in ([False, True] if gpu else [False]):
                    for inputs in args.inputs:
                        rate = measure(preset, data, args.steps, args.epochs, xla == "on", mixed, inputs == "cached")
                        print(f"| {preset} | {xla} | {'on' if mixed else 'off'} | {inputs} | {rate:.0f} |", flush=True)


if __name__ == "__main__":
    main()
