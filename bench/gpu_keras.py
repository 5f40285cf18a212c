"""On a GPU machine: the `paper` preset's training throughput, then Table 2 at the paper's size.

Run: python bench/gpu_keras.py [--train-images 20000] [--budget-s 300] [--seeds 0 1 2] [--photos DIR] [--out DIR]
     python bench/gpu_keras.py --tables DIR      (the tables of a finished run's CSVs)

Written for the lent device machines, which hold JAX but no TensorFlow (it cannot be installed there: no
network, and its wheels are far over what a call may carry). It runs on whatever Keras 3 backend is installed
(KERAS_BACKEND; default tensorflow where it is installed, else jax) and needs no TensorFlow: the package's
renderer draws the data (`render.render_indices`, the stream the training records hold) in a process pool,
and training reads it from arrays in memory. There is no tf.data pipeline, so no augmentation and no figure
"with the pipeline"; `bench/train_throughput.py` measures those where TensorFlow runs.

1. `model.fit` images/s of the preset with XLA (`jit_compile`) off and on, in float32 and in mixed_float16
   (median of timed epochs after a warm-up epoch).
2. The four variants of Table 2, each seed on the same renders, trained for the same number of steps (from
   the measured rate to fit --budget-s, unless --steps is given) in mixed_float16 with XLA. Held-out MPJPE is
   measured half-way and at the end, so the table shows whether a run was still improving; with --photos
   (a copy of real-photos-dev carried with the call) each run's 2D error on the photos against the mean
   training pose's too. Writes ablation_runs.csv and ablation_per_joint.csv in the columns `tfpose3d ablate`
   uses; `--tables` prints its steps and distance tables from them where TensorFlow is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if "KERAS_BACKEND" not in os.environ:
    # TensorFlow where it is installed (the package's own backend), else JAX.
    os.environ["KERAS_BACKEND"] = "tensorflow" if importlib.util.find_spec("tensorflow") else "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tfpose3d import metrics, skeleton  # noqa: E402
from tfpose3d.config import VARIANTS, TrainConfig  # noqa: E402
from tfpose3d.data import images, mocap, render  # noqa: E402
from tfpose3d.data.photos import PCK_FRACTION, PhotoSet  # noqa: E402
from tfpose3d.estimator import Pose3DEstimator, compile_model  # noqa: E402
from tfpose3d.presets import train_preset  # noqa: E402

# float32, and the policy `TrainConfig.mixed_precision` sets.
POLICIES = ("float32", "mixed_float16")
LABELS = ("joints_2d", "joints_3d", "visibility")


def _decoded(sample: dict) -> dict:
    return {"image": images.decode(sample["image"]), **{k: np.asarray(sample[k], np.float32) for k in LABELS}}


def render_split(split: str, count: int, seed: int, size: int, look: str, workers: int) -> dict[str, np.ndarray]:
    """Samples 0..count-1 of a split's seeded stream as arrays: image uint8 (N, S, S, 3) and the raw labels."""
    poses = mocap.load_motion("bandai-namco").select(split)
    samples = list(render.iter_rendered(poses, count, seed, workers, render.look_named(look, split), size, _decoded))
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


def _labels(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: data[k] for k in LABELS}


def fit_rate(preset: str, data: dict[str, np.ndarray], policy: str, jit: bool, steps: int, epochs: int) -> float:
    """Median images/s of `epochs` timed epochs of `steps` steps, after one warm-up epoch."""
    keras.mixed_precision.set_global_policy(policy)
    config = train_preset(preset, jit_compile=jit)
    model = Pose3DEstimator(config.model)
    compile_model(model, config, steps * (epochs + 1))
    n = steps * config.batch_size
    x, y = data["image"][:n], {k: v[:n] for k, v in _labels(data).items()}
    seconds = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
        seconds.append(time.perf_counter() - start)
    keras.mixed_precision.set_global_policy("float32")
    return statistics.median(n / s for s in seconds[1:])


def held_out(model: Pose3DEstimator, test: dict[str, np.ndarray]) -> dict[str, np.ndarray | float]:
    pose = model.predict(test["image"], batch_size=256, verbose=0)["pose_3d"].astype(np.float64)
    return {"MPJPE (mm)": metrics.mpjpe(pose, test["joints_3d"]), "P-MPJPE (mm)": metrics.p_mpjpe(pose, test["joints_3d"]),
            "per_joint": metrics.joint_errors(pose, test["joints_3d"]).mean(0)}


def photo_scores(model: Pose3DEstimator, photos: PhotoSet, mean_2d: np.ndarray) -> dict[str, float]:
    """2D error on real photographs as a fraction of the mean training pose's (as `tfpose3d evaluate --photos`)."""
    size = model.config.image_size
    crops = keras.ops.image.resize(photos.crops.astype("float32"), (size, size)) if size != photos.crops.shape[1] else photos.crops
    pred = model.predict(crops, batch_size=64, verbose=0)["joints_2d"].astype(np.float64) / size
    model_score, mean_score = photos.score(pred), photos.score(mean_2d[None])
    return {"photo 2D error / mean-2D's": model_score["2D error"] / mean_score["2D error"],
            f"photo PCK@{PCK_FRACTION:g}": model_score[f"PCK@{PCK_FRACTION:g}"]}


class Batches(keras.utils.PyDataset):
    """Batches of `data` in the order `order` (indices, a multiple of `batch` long), copied one batch at a time."""

    def __init__(self, data: dict[str, np.ndarray], order: np.ndarray, batch: int):
        super().__init__(workers=4)
        self.data, self.order, self.batch = data, order, batch

    def __len__(self) -> int:
        return len(self.order) // self.batch

    def __getitem__(self, i: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        rows = self.order[i * self.batch:(i + 1) * self.batch]
        return self.data["image"][rows], {k: v[rows] for k, v in _labels(self.data).items()}


def ablate_run(preset: str, variant: str, seed: int, train: dict[str, np.ndarray], test: dict[str, np.ndarray],
               steps: int, policy: str, photos: PhotoSet | None = None) -> tuple[dict, pd.DataFrame]:
    """One variant and seed: `steps` steps over the renders in a seeded order, held-out error half-way and at the
    end, and at the end on `photos` where given."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    config = train_preset(preset, {"variant": variant}, seed=seed, jit_compile=True)
    model = Pose3DEstimator(config.model)
    compile_model(model, config, steps)
    # Epoch after epoch of the renders, each in its own seeded order, cut to `steps` batches.
    rng = np.random.default_rng(seed)
    epochs = -(-steps * config.batch_size // len(train["image"]))
    order = np.concatenate([rng.permutation(len(train["image"])) for _ in range(epochs)])[:steps * config.batch_size]
    seconds, scores = 0.0, []
    for part in np.split(order, 2):
        start = time.perf_counter()
        model.fit(Batches(train, part, config.batch_size), epochs=1, shuffle=False, verbose=0)
        seconds += time.perf_counter() - start
        scores.append(held_out(model, test))
    half, final = scores
    keras.mixed_precision.set_global_policy("float32")
    row = {"variant": variant, "seed": seed, "MPJPE (mm)": final["MPJPE (mm)"], "P-MPJPE (mm)": final["P-MPJPE (mm)"],
           "MPJPE half-way (mm)": half["MPJPE (mm)"], "steps": steps, "train seconds": round(seconds, 1)}
    if photos is not None:
        # The training renders' mean 2D pose, as a fraction of the side: the predictor the photo error is set against.
        row.update(photo_scores(model, photos, train["joints_2d"].mean(0) / config.model.image_size))
    joints = pd.DataFrame({"joint": skeleton.JOINT_NAMES, "MPJPE (mm)": final["per_joint"], "variant": variant, "seed": seed})
    return row, joints


def print_tables(folder: Path) -> None:
    """The per-variant table of a run's CSVs; with TensorFlow installed also `tfpose3d ablate`'s steps and
    distance tables (that module trains through tf.data)."""
    runs = pd.read_csv(folder / "ablation_runs.csv")
    table = runs.groupby("variant", sort=False).agg(**{
        "MPJPE (mm)": ("MPJPE (mm)", "mean"), "sd (mm)": ("MPJPE (mm)", "std"),
        "half-way (mm)": ("MPJPE half-way (mm)", "mean"), "P-MPJPE (mm)": ("P-MPJPE (mm)", "mean"),
        "seeds": ("seed", "count"), "steps": ("steps", "first"),
        **{name: (name, "mean") for name in runs.columns if name.startswith("photo ")}}).reset_index()
    formats = [".3f" if name.startswith("photo ") else ".1f" for name in table.columns]
    print(table.to_markdown(index=False, floatfmt=formats), "\n")
    if set(runs["variant"]) != set(VARIANTS):
        print(f"(only {sorted(set(runs['variant']))} finished: no steps of the paper's ordering)")
        return
    try:
        from tfpose3d.ablate import distance_table, steps_table
    except ModuleNotFoundError as err:
        print(f"(no {err.name}: run `bench/gpu_keras.py --tables {folder}` where it is installed for the steps of the "
              "paper's ordering and the error by distance from the pelvis)")
        return
    print(steps_table(runs).to_markdown(index=False, floatfmt=".1f"), "\n")
    print(distance_table(pd.read_csv(folder / "ablation_per_joint.csv")).to_markdown(index=False, floatfmt=".1f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--train-images", type=int, default=20000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--rate-steps", type=int, default=50, help="steps per timed epoch with XLA")
    parser.add_argument("--eager-steps", type=int, default=5, help="steps per timed epoch without XLA")
    parser.add_argument("--budget-s", type=float, default=300.0, help="training time for the whole ablation")
    parser.add_argument("--steps", type=int, help="steps per ablation run (default: from --budget-s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=Path("gpu_keras"))
    parser.add_argument("--phases", nargs="*", choices=["rates", "ablation"], default=["rates", "ablation"],
                        help="what to run after rendering (none: only the renders and their mean-pose error)")
    parser.add_argument("--photos", type=Path, help="real photographs with 2D joints (real-photos-dev's form) to score "
                        "each ablation run on")
    parser.add_argument("--tables", type=Path, help="only print the tables of a finished run's folder")
    args = parser.parse_args()
    if args.tables:
        return print_tables(args.tables)
    if "ablation" in args.phases and "rates" not in args.phases and not args.steps:
        parser.error("--phases ablation without rates needs --steps: the budget is turned into steps by the rate")

    args.out.mkdir(parents=True, exist_ok=True)
    config = train_preset(args.preset)
    size, look = config.model.image_size, config.look
    start = time.perf_counter()
    train = render_split("train", args.train_images, config.seed, size, look, args.workers)
    test = render_split("test", args.test_images, config.seed + 1, size, look, args.workers)
    seconds = time.perf_counter() - start
    print(f"rendered {args.train_images} + {args.test_images} images at {size} px ({look} look) in {seconds:.0f} s: "
          f"{(args.train_images + args.test_images) / seconds:.0f} images/s on {args.workers} processes", flush=True)
    # The reference `tfpose3d evaluate` prints beside a model: the held-out set's own mean pose.
    true = test["joints_3d"].astype(np.float64)
    mean_pose = np.broadcast_to(metrics.align_root(true).mean(0), true.shape)
    print(f"the held-out renders' own mean pose: MPJPE {metrics.mpjpe(mean_pose, true):.1f} mm", flush=True)
    if not args.phases:
        return
    # After the renderer's fork: the backend starts its threads when it first looks for devices.
    devices = keras.distribution.list_devices()
    print(f"Keras {keras.__version__} on {keras.backend.backend()}; devices {devices}; "
          f"{os.cpu_count()} CPU cores ({platform.machine()}); Python {sys.version.split()[0]}", flush=True)

    if "rates" not in args.phases:
        return run_ablation(args, config, train, test, args.steps, "mixed_float16")
    rates = []
    for jit in (False, True):
        for policy in POLICIES:
            steps = args.rate_steps if jit else args.eager_steps
            rate = fit_rate(args.preset, train, policy, jit, steps, epochs=3 if jit else 2)
            rates.append({"preset": args.preset, "XLA": "on" if jit else "off", "policy": policy,
                          "batch": config.batch_size, "steps per epoch": steps, "images/s (median)": rate})
            print(rates[-1], flush=True)
    rates = pd.DataFrame(rates)
    rates.to_csv(args.out / "throughput.csv", index=False)
    print(rates.to_markdown(index=False, floatfmt=".0f"), "\n", flush=True)

    if "ablation" in args.phases:
        rate = rates[(rates["XLA"] == "on") & (rates["policy"] == "mixed_float16")]["images/s (median)"].iloc[0]
        runs = len(VARIANTS) * len(args.seeds)
        # Rounded to an even number of batches, so the run splits into two equal halves.
        steps = args.steps or 2 * max(1, int(args.budget_s * rate / (runs * config.batch_size * 2)))
        run_ablation(args, config, train, test, steps, "mixed_float16")


def run_ablation(args: argparse.Namespace, config: TrainConfig, train: dict[str, np.ndarray], test: dict[str, np.ndarray],
                 steps: int, policy: str) -> None:
    """Every variant for every seed, `steps` steps each; the runs' rows and per-joint errors as CSV in args.out."""
    photos = PhotoSet.load(args.photos) if args.photos else None
    print(f"ablation: {len(VARIANTS) * len(args.seeds)} runs of {steps} steps (batch {config.batch_size}) in "
          f"{policy} with XLA", flush=True)
    rows, joints = [], []
    for seed in args.seeds:
        for variant in VARIANTS:
            row, per_joint = ablate_run(args.preset, variant, seed, train, test, steps, policy, photos)
            rows.append(row)
            joints.append(per_joint)
            print(row, flush=True)
            pd.DataFrame(rows).to_csv(args.out / "ablation_runs.csv", index=False)
            pd.concat(joints).to_csv(args.out / "ablation_per_joint.csv", index=False)
    print_tables(args.out)


if __name__ == "__main__":
    main()
