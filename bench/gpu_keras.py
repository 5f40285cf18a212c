"""On a GPU machine: the `paper` preset's training throughput, then Table 2 at the paper's size.

Run: python bench/gpu_keras.py [--train-images 20000] [--budget-s 300] [--seeds 0 1 2] [--photos DIR] [--out DIR]
     python bench/gpu_keras.py --tables DIR      (the tables of a finished run's CSVs)

Written for the lent device machines, which hold JAX but no TensorFlow (it cannot be installed there: no
network, and its wheels are far over what a call may carry). It runs on whatever Keras 3 backend is installed
(KERAS_BACKEND; default tensorflow where it is installed, else jax) and needs no TensorFlow. It is a script
over the package's backend-neutral pieces: the renderer draws the data into arrays (`tfpose3d.data.arrays`,
the seeded streams the training records hold) in a process pool, `ArrayBatches` feeds them to `model.fit`,
`tfpose3d.callbacks` validates, watches the photos and applies the plateau rule, and `metrics.tables` and
`tfpose3d.table2` make the tables `tfpose3d evaluate` and `tfpose3d ablate` make. There is no tf.data pipeline, so no augmentation and no figure
"with the pipeline"; `bench/train_throughput.py` measures those where TensorFlow runs.

1. `model.fit` images/s of the preset with XLA (`jit_compile`) off and on, in float32 and in mixed_float16
   (median of timed epochs after a warm-up epoch).
2. The four variants of Table 2, each seed on the same renders, trained for the same number of steps (from
   the measured rate to fit --budget-s, unless --steps is given) in mixed_float16 with XLA. Held-out MPJPE is
   measured half-way and at the end, so the table shows whether a run was still improving; with --photos
   (a copy of real-photos-dev carried with the call) each run's 2D error on the photos against the mean
   training pose's too. Writes ablation_runs.csv, ablation_per_joint.csv and ablation_per_action.csv in the
   columns `tfpose3d ablate` uses, and prints its tables (`tfpose3d.table2`).
3. `--phases converge`: the four variants of Table 2, each trained until its validation error stops
   improving, in --processes processes sharing one GPU (the renders are cached once in --cache and read
   memory-mapped). An epoch is the preset's steps_per_epoch at its constant learning rate; after --patience
   epochs without a new best the rate is cut to a quarter, and after --patience more following the second cut
   the run stops and the best epoch's weights are scored (`tfpose3d.estimator.Plateau`, the rule of
   `tfpose3d train --plateau-patience`). Epochs count toward --patience only once the validation error has
   beaten the validation renders' own mean pose, so a network still at the mean pose trains on. The validation renders are a third seeded draw
   from the held-out motion, apart from the test renders. Each run writes runs/<variant>-s<seed>.csv (its
   row), -per_joint.csv, -per_action.csv and -history.csv (every epoch's rate and validation error); the rows are merged into
   ablation_runs.csv. --deadline-s stops every run still going at that time, marked "deadline" (not
   converged), so a call on a lent machine always returns its tables. --learning-rate replaces the preset's
   constant rate. `--tables` also prints, from the histories, when the rule first cut each run's rate.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Several processes may share the GPU (--phases converge): each takes memory as it needs it, not most at start.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
if "KERAS_BACKEND" not in os.environ:
    # TensorFlow where it is installed (the package's own backend), else JAX.
    os.environ["KERAS_BACKEND"] = "tensorflow" if importlib.util.find_spec("tensorflow") else "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tfpose3d import metrics, skeleton  # noqa: E402
from tfpose3d.callbacks import ArrayValidation, PhotoWatch, PlateauStop, TimeBudget, array_predictions  # noqa: E402
from tfpose3d.config import VARIANTS, TrainConfig  # noqa: E402
from tfpose3d.data.arrays import LABELS, ArrayBatches, cached_arrays  # noqa: E402
from tfpose3d.data.photos import PCK_FRACTION, PhotoSet  # noqa: E402
from tfpose3d.estimator import Plateau, Pose3DEstimator, compile_model  # noqa: E402
from tfpose3d.presets import train_preset  # noqa: E402
from tfpose3d.table2 import distance_table, steps_table, variant_table  # noqa: E402

# float32, and the policy `TrainConfig.mixed_precision` sets.
POLICIES = ("float32", "mixed_float16")
# A run's held-out error broken down (`metrics.tables`), each written as ablation_<kind>.csv.
BREAKDOWNS = ("per_joint", "per_action")


def fit_rate(preset: str, data: dict[str, np.ndarray], policy: str, jit: bool, steps: int, epochs: int) -> float:
    """Median images/s of `epochs` timed epochs of `steps` steps, after one warm-up epoch."""
    keras.mixed_precision.set_global_policy(policy)
    config = train_preset(preset, jit_compile=jit)
    model = Pose3DEstimator(config.model)
    compile_model(model, config, steps * (epochs + 1))
    n = steps * config.batch_size
    x, y = data["image"][:n], {k: data[k][:n] for k in LABELS}
    seconds = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
        seconds.append(time.perf_counter() - start)
    keras.mixed_precision.set_global_policy("float32")
    return statistics.median(n / s for s in seconds[1:])


def photo_scores(model: Pose3DEstimator, photos: PhotoSet, mean_2d: np.ndarray) -> dict[str, float]:
    """2D error on real photographs as a fraction of the mean training pose's (as `tfpose3d train --photos`)."""
    measured = PhotoWatch(photos, mean_2d, model.config.image_size).measure(model)
    return {"photo 2D error / mean-2D's": measured["photos_vs_mean_2d"],
            f"photo PCK@{PCK_FRACTION:g}": measured[f"photos_pck@{PCK_FRACTION:g}"]}


def _model(preset: str, variant: str, seed: int, policy: str, total_steps: int | None,
           learning_rate: float | None = None) -> tuple[TrainConfig, Pose3DEstimator]:
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    config = train_preset(preset, {"variant": variant}, seed=seed, jit_compile=True, learning_rate=learning_rate)
    model = Pose3DEstimator(config.model)
    compile_model(model, config, total_steps)
    return config, model


def _scored(model: Pose3DEstimator, variant: str, seed: int, train: dict[str, np.ndarray], test: dict[str, np.ndarray],
            photos: PhotoSet | None) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The held-out error of the model as it stands (its row, and its errors per joint and per action, as
    `tfpose3d evaluate` tables them), and its 2D error on `photos` where given."""
    final = metrics.tables(array_predictions(model, test), model.config.image_size)
    summary = final["summary"].iloc[0]
    row = {"variant": variant, "seed": seed, "MPJPE (mm)": summary["MPJPE (mm)"], "P-MPJPE (mm)": summary["P-MPJPE (mm)"]}
    if photos is not None:
        # The training renders' mean 2D pose, as a fraction of the side: the predictor the photo error is set against.
        row.update(photo_scores(model, photos, np.mean(train["joints_2d"], 0) / model.config.image_size))
    return row, {kind: final[kind].assign(variant=variant, seed=seed) for kind in BREAKDOWNS}


def ablate_run(preset: str, variant: str, seed: int, train: dict[str, np.ndarray], test: dict[str, np.ndarray],
               steps: int, policy: str, photos: PhotoSet | None = None) -> tuple[dict, dict[str, pd.DataFrame]]:
    """One variant and seed: `steps` steps over the renders in a seeded order, held-out error half-way and at the
    end, and at the end on `photos` where given."""
    config, model = _model(preset, variant, seed, policy, steps)
    # Two epochs of half the steps each: the second goes on through the renders where the first stopped.
    batches = ArrayBatches(train, config.batch_size, steps // 2, seed)
    seconds = _fit(model, batches)
    half = ArrayValidation(test).error(model)
    seconds += _fit(model, batches)
    row, breakdowns = _scored(model, variant, seed, train, test, photos)
    keras.mixed_precision.set_global_policy("float32")
    return {**row, "MPJPE half-way (mm)": half, "steps": steps, "train seconds": round(seconds, 1)}, breakdowns


def _fit(model: Pose3DEstimator, batches: ArrayBatches) -> float:
    """Seconds to train one epoch of `batches`."""
    start = time.perf_counter()
    model.fit(batches, epochs=1, verbose=0)
    return time.perf_counter() - start


def converge_run(preset: str, variant: str, seed: int, data: dict[str, dict[str, np.ndarray]], policy: str,
                 patience: int, max_epochs: int, epoch_steps: int | None, deadline: float, photos: PhotoSet | None = None,
                 learning_rate: float | None = None) -> tuple[dict, dict[str, pd.DataFrame], pd.DataFrame]:
    """One variant and seed trained until its validation error stops improving (or `max_epochs`, or the wall
    clock passes `deadline`), scored with its best epoch's weights; its row, error breakdowns and history."""
    config, model = _model(preset, variant, seed, policy, None, learning_rate)
    steps = epoch_steps or config.steps_per_epoch
    val_true = np.asarray(data["val"]["joints_3d"], np.float64)
    rule = Plateau(patience, reference=metrics.mpjpe(metrics.mean_pose(val_true), val_true))
    # `deadline` is a reading of time.time(): a budget counted from 0 on that clock.
    validation, plateau = ArrayValidation(data["val"]), PlateauStop(rule, restore_best=True)
    clock = TimeBudget(deadline, start=0.0, clock=time.time)
    start = time.perf_counter()
    fitted = model.fit(ArrayBatches(data["train"], config.batch_size, steps, seed), epochs=max_epochs, verbose=0,
                       callbacks=[validation, plateau, clock])
    seconds = time.perf_counter() - start - validation.seconds
    epochs = len(fitted.history["val_pose_3d_mpjpe"])
    history = pd.DataFrame({"variant": variant, "seed": seed, "epoch": np.arange(1, epochs + 1),
                            "learning rate": fitted.history["learning_rate"],
                            "val MPJPE (mm)": fitted.history["val_pose_3d_mpjpe"]})
    stopped = "plateau" if plateau.stopped else "deadline" if clock.ended else "max epochs"
    row, breakdowns = _scored(model, variant, seed, data["train"], data["test"], photos)
    keras.mixed_precision.set_global_policy("float32")
    # The deadline may end the last epoch within it.
    steps_run = (epochs - 1) * steps + clock.ended[1] if clock.ended else epochs * steps
    row.update({"val MPJPE (mm)": rule.best, "best epoch": rule.best_epoch, "epochs": epochs, "steps": steps_run,
                "stopped": stopped, "train seconds": round(seconds, 1)})
    return row, breakdowns, history


def _claim(folder: Path, name: str) -> bool:
    """Whether this process takes run `name`: the first to create its claim file does."""
    try:
        os.close(os.open(folder / f"{name}.claim", os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


def converge_worker(args: argparse.Namespace, data: dict[str, dict[str, np.ndarray]]) -> None:
    """Takes the next unclaimed variant and seed (seed by seed, so a cut-off call leaves whole seeds) until none
    is left; a run whose row exists is not trained again."""
    photos = PhotoSet.load(args.photos) if args.photos else None
    runs = args.out / "runs"
    for seed in args.seeds:
        for variant in args.variants:
            name = f"{variant}-s{seed}"
            if (runs / f"{name}.csv").exists() or not _claim(runs, name):
                continue
            row, breakdowns, history = converge_run(args.preset, variant, seed, data, "mixed_float16", args.patience,
                                                args.max_epochs, args.epoch_steps, args.deadline_at, photos,
                                                args.learning_rate)
            for kind, frame in breakdowns.items():
                frame.to_csv(runs / f"{name}-{kind}.csv", index=False)
            history.to_csv(runs / f"{name}-history.csv", index=False)
            pd.DataFrame([row]).to_csv(runs / f"{name}.csv", index=False)
            print(row, flush=True)


def converge(args: argparse.Namespace) -> None:
    """The runs in --processes processes of this script (each claims runs), then the merged tables."""
    runs = args.out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for claim in runs.glob("*.claim"):
        claim.unlink()
    print(f"until a plateau: {len(args.variants) * len(args.seeds)} runs in {args.processes} processes, "
          f"patience {args.patience} epochs, at most {args.max_epochs}, constant rate "
          f"{args.learning_rate or train_preset(args.preset).learning_rate:g} before the cuts", flush=True)
    command = [sys.executable, __file__, *sys.argv[1:], "--deadline-at", str(args.deadline_at), "--worker"]
    workers = [subprocess.Popen(command) for _ in range(args.processes)]
    failed = [w.returncode for w in workers if w.wait()]
    merge_runs(args.out)
    print_tables(args.out)
    if failed:
        sys.exit(f"{len(failed)} of {args.processes} processes failed (exit {failed})")


def merge_runs(folder: Path) -> None:
    """ablation_runs.csv and the breakdowns' CSVs from the runs' own files, in the order of VARIANTS."""
    rows = [pd.read_csv(f) for f in sorted((folder / "runs").glob("*.csv")) if re.fullmatch(r"\w+-s\d+", f.stem)]
    if not rows:
        return
    order = {v: i for i, v in enumerate(VARIANTS)}
    runs = pd.concat(rows).sort_values(["seed", "variant"], key=lambda c: c.map(order) if c.name == "variant" else c)
    runs.to_csv(folder / "ablation_runs.csv", index=False)
    for kind in BREAKDOWNS:
        frames = [pd.read_csv(folder / "runs" / f"{v}-s{s}-{kind}.csv") for v, s in zip(runs["variant"], runs["seed"])]
        pd.concat(frames).to_csv(folder / f"ablation_{kind}.csv", index=False)


def _cuts(history: pd.DataFrame) -> dict:
    """One run's history in a row: the epoch of its first rate cut, its validation error then, and its best."""
    cut = history[history["learning rate"] < history["learning rate"].iloc[0] * 0.99]
    first = cut.iloc[0] if len(cut) else None
    best = history.loc[history["val MPJPE (mm)"].idxmin()]
    return {"variant": history["variant"].iloc[0], "seed": history["seed"].iloc[0],
            "first cut after epoch": "none" if first is None else int(first["epoch"]) - 1,
            "val then": "" if first is None else f'{history["val MPJPE (mm)"].iloc[int(first["epoch"]) - 2]:.1f}',
            "best val": best["val MPJPE (mm)"], "best epoch": int(best["epoch"]), "epochs": len(history)}


def print_tables(folder: Path) -> None:
    """The tables of a run's CSVs: per variant (`table2.variant_table`), per action, when each run's rate was
    first cut, and `tfpose3d ablate`'s steps of the paper's ordering and errors by distance from the roots."""
    runs = pd.read_csv(folder / "ablation_runs.csv")
    table = variant_table(runs)
    formats = [".3f" if name.startswith("photo ") else ".0f" if name in ("steps", "best epoch", "epochs") else ".1f"
               for name in table.columns]
    print(table.to_markdown(index=False, floatfmt=formats), "\n")
    epochs = f", {runs['epochs'].min()}–{runs['epochs'].max()} epochs each" if "epochs" in runs else ""
    rate = runs["steps"] / runs["train seconds"]
    print(f"{len(runs)} runs of {runs['steps'].min():,}–{runs['steps'].max():,} steps{epochs}; "
          f"{runs['steps'].sum():,} steps in all, {rate.min():.0f}–{rate.max():.0f} steps/s each\n")
    if (folder / "ablation_per_action.csv").exists():
        actions = pd.read_csv(folder / "ablation_per_action.csv").groupby(["action", "variant"], sort=False)["MPJPE (mm)"]
        spread = actions.agg(lambda c: f"{c.mean():.1f} ± {c.std():.1f}").unstack("variant")
        print("MPJPE per action (mm, mean ± sd over seeds)\n", spread.to_markdown(), "\n")
        means = actions.mean().unstack("variant")
        for word, pick in (("lowest", means.idxmin(axis=1)), ("highest", means.idxmax(axis=1))):
            counts = ", ".join(f"{v} {n}" for v, n in pick.value_counts().items())
            print(f"the {word} mean error on {len(means)} actions: {counts}")
        print()
    # In the rows' order (merge_runs's); an early call kept one run's history only.
    histories = [folder / "runs" / f"{v}-s{s}-history.csv" for v, s in zip(runs["variant"], runs["seed"])]
    histories = [f for f in histories if f.exists()]
    if histories:
        print("When the rule first cut the rate (val MPJPE, mm)\n",
              pd.DataFrame([_cuts(pd.read_csv(f)) for f in histories]).to_markdown(index=False, floatfmt=".1f"), "\n")
    if set(runs["variant"]) != set(VARIANTS):
        print(f"(only {sorted(set(runs['variant']))} finished: no steps of the paper's ordering)")
        return
    print(steps_table(runs).to_markdown(index=False, floatfmt=".1f"), "\n")
    per_joint = pd.read_csv(folder / "ablation_per_joint.csv")
    for roots in (("pelvis",), skeleton.DEFAULT_ROOTS):  # no preset changes the roots
        print(distance_table(per_joint, roots).to_markdown(index=False, floatfmt=".1f"), "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--train-images", type=int, default=20000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--val-images", type=int, default=1000, help="validation renders for --phases converge")
    parser.add_argument("--rate-steps", type=int, default=50, help="steps per timed epoch with XLA")
    parser.add_argument("--eager-steps", type=int, default=5, help="steps per timed epoch without XLA")
    parser.add_argument("--budget-s", type=float, default=300.0, help="training time for the whole ablation")
    parser.add_argument("--steps", type=int, help="steps per ablation run (default: from --budget-s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="the variants --phases converge trains")
    parser.add_argument("--patience", type=int, default=4, help="epochs without a new best before the rate is cut")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--learning-rate", type=float,
                        help="--phases converge: the constant rate before the cuts (default: the preset's)")
    parser.add_argument("--epoch-steps", type=int, help="steps between validations (default: the preset's steps_per_epoch)")
    parser.add_argument("--processes", type=int, default=4, help="processes sharing the GPU in --phases converge")
    parser.add_argument("--deadline-s", type=float, default=float("inf"),
                        help="seconds from the start after which --phases converge stops every run")
    parser.add_argument("--deadline-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="render processes")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/gpu_keras_renders"), help="where the renders are kept")
    parser.add_argument("--out", type=Path, default=Path("gpu_keras"))
    parser.add_argument("--phases", nargs="*", choices=["rates", "ablation", "converge"], default=["rates", "ablation"],
                        help="what to run after rendering (none: only the renders and their mean-pose error)")
    parser.add_argument("--photos", type=Path, help="real photographs with 2D joints (real-photos-dev's form) to score "
                        "each ablation run on")
    parser.add_argument("--tables", type=Path, help="only print the tables of a finished run's folder (merged from "
                        "its runs/ first where it has no ablation_runs.csv)")
    args = parser.parse_args()
    if args.tables:
        # Runs of several calls (say a variant's at another rate) are merged from the runs/ they were unpacked into.
        if not (args.tables / "ablation_runs.csv").exists():
            merge_runs(args.tables)
        return print_tables(args.tables)
    if "ablation" in args.phases and "rates" not in args.phases and not args.steps:
        parser.error("--phases ablation without rates needs --steps: the budget is turned into steps by the rate")
    if args.photos and not args.photos.is_dir():
        parser.error(f"--photos {args.photos}: no such folder")
    if args.deadline_at is None:
        args.deadline_at = time.time() + min(args.deadline_s, 1e9)

    args.out.mkdir(parents=True, exist_ok=True)
    config = train_preset(args.preset)
    size, look = config.model.image_size, config.look
    start = time.perf_counter()
    # The runs until a plateau stop on "val", another seeded draw from the held-out clips, not on the test.
    counts = {"train": args.train_images, "test": args.test_images, "val": args.val_images}
    data = {split: cached_arrays(args.cache, "bandai-namco", split, count, config.seed, size, look, args.workers)
            for split, count in counts.items() if split != "val" or "converge" in args.phases}
    if args.worker:
        return converge_worker(args, data)
    seconds = time.perf_counter() - start
    print(f"{args.train_images} + {args.test_images} images at {size} px ({look} look) in {args.cache}: {seconds:.0f} s "
          f"with {args.workers} render processes", flush=True)
    train, test = data["train"], data["test"]
    # The reference `tfpose3d evaluate` prints beside a model: the held-out set's own mean pose.
    true = test["joints_3d"].astype(np.float64)
    mean_pose = metrics.mean_pose(true)
    print(f"the held-out renders' own mean pose: MPJPE {metrics.mpjpe(mean_pose, true):.1f} mm", flush=True)
    if not args.phases:
        return
    # After the renderer's fork: the backend starts its threads when it first looks for devices.
    devices = keras.distribution.list_devices()
    print(f"Keras {keras.__version__} on {keras.backend.backend()}; devices {devices}; "
          f"{os.cpu_count()} CPU cores ({platform.machine()}); Python {sys.version.split()[0]}", flush=True)

    rates = None
    if "rates" in args.phases:
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
        steps = args.steps
        if not steps:
            rate = rates[(rates["XLA"] == "on") & (rates["policy"] == "mixed_float16")]["images/s (median)"].iloc[0]
            runs = len(VARIANTS) * len(args.seeds)
            # Rounded to an even number of batches, so the run splits into two equal halves.
            steps = 2 * max(1, int(args.budget_s * rate / (runs * config.batch_size * 2)))
        run_ablation(args, config, train, test, steps, "mixed_float16")
    if "converge" in args.phases:
        converge(args)


def run_ablation(args: argparse.Namespace, config: TrainConfig, train: dict[str, np.ndarray], test: dict[str, np.ndarray],
                 steps: int, policy: str) -> None:
    """Every variant for every seed, `steps` steps each; the runs' rows and per-joint errors as CSV in args.out."""
    photos = PhotoSet.load(args.photos) if args.photos else None
    print(f"ablation: {len(VARIANTS) * len(args.seeds)} runs of {steps} steps (batch {config.batch_size}) in "
          f"{policy} with XLA", flush=True)
    rows, breakdowns = [], {kind: [] for kind in BREAKDOWNS}
    for seed in args.seeds:
        for variant in VARIANTS:
            row, run_breakdowns = ablate_run(args.preset, variant, seed, train, test, steps, policy, photos)
            rows.append(row)
            for kind, frame in run_breakdowns.items():
                breakdowns[kind].append(frame)
            print(row, flush=True)
            pd.DataFrame(rows).to_csv(args.out / "ablation_runs.csv", index=False)
            for kind, frames in breakdowns.items():
                pd.concat(frames).to_csv(args.out / f"ablation_{kind}.csv", index=False)
    print_tables(args.out)


if __name__ == "__main__":
    main()
