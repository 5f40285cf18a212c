"""On a GPU machine: does fine-tuning BlazePose's trunk on renders help the main job, or cost it real photos?

Run: python bench/gpu_finetune.py [--train-images 40000] [--steps 3000] [--every 500] [--rates 1e-5 1e-4]
         [--photos DIR] [--out DIR]          (on a lent machine: bash bench/gpu_device.sh bench/gpu_finetune.py ...)

The main job (`cpu-pretrained`) keeps BlazePose's trunk frozen, so its real-photo features are BlazePose's. The
lever of issue #28 is to let the trunk learn from renders at a low rate, watching the photos so that the
real-photo features are not lost. Like `bench/gpu_keras.py` it runs on any Keras 3 backend and renders its
data into arrays (no tf.data, so no augmentation):

1. Stage 1 trains the preset as `./setup.sh` does (its schedule, trunk frozen) on the renders.
2. From those weights each arm trains --steps more steps at a constant rate: the trunk frozen (the control:
   the same steps for the heads alone) and the trunk trainable at each of --rates (heads and trunk at that
   rate). Every --every steps each arm is scored on held-out renders of motion it never saw (MPJPE, P-MPJPE,
   bone error) and, with --photos, on the real photographs' annotation crops (2D error over the mean training
   pose's, PCK@0.1), so a trunk that forgets real photographs shows at once.

Writes finetune.csv (one row per arm and scoring) under --out and prints it as a table. An arm's first
"train seconds" include XLA's compilation, so they are not a rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from gpu_keras import keras, np, pd, photo_scores, train_preset, _fit  # a script beside this one; sets the backend

from tfpose3d import metrics  # noqa: E402
from tfpose3d.callbacks import array_predictions  # noqa: E402
from tfpose3d.data.arrays import ArrayBatches, cached_arrays  # noqa: E402
from tfpose3d.data.photos import PhotoSet  # noqa: E402
from tfpose3d.estimator import Pose3DEstimator, compile_model  # noqa: E402


def score(model: Pose3DEstimator, test: dict[str, np.ndarray], photos: PhotoSet | None, mean_2d: np.ndarray) -> dict:
    """Held-out renders' figures of `model` as it stands, and its photo figures where `photos` are given."""
    summary = metrics.tables(array_predictions(model, test), model.config.image_size)["summary"].iloc[0]
    row = {name: summary[name] for name in ("MPJPE (mm)", "P-MPJPE (mm)", "bone error (mm)")}
    return row | (photo_scores(model, photos, mean_2d) if photos is not None else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-pretrained")
    parser.add_argument("--train-images", type=int, default=40000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--stage1-steps", type=int, help="stage 1's steps (default: the preset's schedule)")
    parser.add_argument("--steps", type=int, default=3000, help="steps of each arm after stage 1")
    parser.add_argument("--every", type=int, default=500, help="steps between an arm's scorings")
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-5, 1e-4], help="the trainable trunk's rates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", type=Path, help="real photographs with 2D joints (real-photos-dev's form)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="render processes")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/gpu_keras_renders"))
    parser.add_argument("--out", type=Path, default=Path("gpu_finetune"))
    args = parser.parse_args()
    if args.steps % args.every:
        parser.error(f"--steps {args.steps} is not a whole number of --every {args.every}")
    config = train_preset(args.preset, seed=args.seed, jit_compile=True)
    if config.model.backbone != "blazepose" or config.model.train_backbone:
        parser.error(f"--preset {args.preset}: needs BlazePose's frozen trunk (backbone blazepose, train_backbone false)")
    size = config.model.image_size
    train, test = (cached_arrays(args.cache, "bandai-namco", split, count, args.seed, size, config.look, args.workers)
                   for split, count in (("train", args.train_images), ("test", args.test_images)))
    photos = PhotoSet.load(args.photos) if args.photos else None
    mean_2d = np.mean(train["joints_2d"], 0) / size

    keras.utils.set_random_seed(args.seed)
    model = Pose3DEstimator(config.model)
    # One epoch of the whole schedule: the same batches as the preset's epochs, which go on where the last stopped.
    steps = args.stage1_steps or config.epochs * config.steps_per_epoch
    compile_model(model, config, steps)
    seconds = _fit(model, ArrayBatches(train, config.batch_size, steps, args.seed))
    rows = [{"arm": f"stage 1 ({args.preset}'s schedule, trunk frozen)", "rate": config.learning_rate,
             "steps": steps, "train seconds": round(seconds, 1), **score(model, test, photos, mean_2d)}]
    print(rows[-1], flush=True)
    stage1 = model.get_weights()

    backbone = model.get_layer("backbone")
    for trainable, rate in [(False, min(args.rates)), *((True, r) for r in args.rates)]:
        model.set_weights(stage1)
        backbone.trainable = trainable
        # A new optimizer at a constant rate: compiling again is how Keras takes in the changed trainable set.
        compile_model(model, dataclasses.replace(config, learning_rate=rate), None)
        batches = ArrayBatches(train, config.batch_size, args.every, args.seed + 1)
        seconds = 0.0
        for done in range(args.every, args.steps + 1, args.every):
            seconds += _fit(model, batches)
            rows.append({"arm": "trunk trained" if trainable else "trunk frozen", "rate": rate, "steps": done,
                         "train seconds": round(seconds, 1), **score(model, test, photos, mean_2d)})
            print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "finetune.csv", index=False)
    print(f"\n{args.preset}, {args.train_images} training renders ({config.look} look), {args.test_images} held out, "
          f"batch {config.batch_size}; backend {keras.backend.backend()}\n")
    print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
