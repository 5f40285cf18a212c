"""The `tfpose3d` command line."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

import tfpose3d
from tfpose3d.config import STRATEGIES, VARIANTS
from tfpose3d.data.options import LOOKS, SPLITS
from tfpose3d.distribute import WorkerLostError
from tfpose3d.export import DEFAULT_EXTRAS
from tfpose3d.paths import writable
from tfpose3d.presets import PRESETS
from tfpose3d.terminal import tensorflow_words

# A function that adds one subcommand; `build_parser` calls them in order, which
# is the order `tfpose3d --help` lists them in.
Adder = Callable[[argparse._SubParsersAction], None]


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least `minimum`, with a message naming the bad value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


POSITIVE, NON_NEGATIVE = _count(1), _count(0)


def _number(minimum: float, inclusive: bool) -> Callable[[str], float]:
    """An argparse type: a finite number (not inf or nan) above `minimum`, or at least it where `inclusive`,
    with a message naming the bad value."""
    bound = f"{'at least' if inclusive else 'above'} {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and (value >= minimum if inclusive else value > minimum)):
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
        return value

    return parse


POSITIVE_NUMBER, NON_NEGATIVE_NUMBER = _number(0, inclusive=False), _number(0, inclusive=True)


def _regex(text: str) -> str:
    """An argparse type: a valid regular expression."""
    try:
        re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid regular expression ({err})") from None
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as the rest of tfpose3d reports them: one `tfpose3d: error:` line, status 2."""

    def error(self, message: str) -> None:
        extra = message.partition("unrecognized arguments: ")[2].split()
        if extra and all(re.fullmatch(r"-?[\d.]+", word) for word in extra):
            # Numbers left over are most often a box typed with spaces: --box 10 20 30 40.
            message += "; --box takes its four numbers joined by commas: --box x,y,w,h"
        print(f"tfpose3d: error: {message}", file=sys.stderr)
        raise SystemExit(2)


# Options whose value may start with a minus sign (a box left of or above the image): argparse would read
# "-10,20,30,40" as an unknown flag, so such a value is joined to its option before parsing.
_SIGNED_VALUES = ("--box",)


def _join_signed_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _SIGNED_VALUES and re.match(r"-[\d.]", arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _local_path(text: str) -> str:
    """An argparse type: a file or folder on this machine; a URL is named as one (nothing is downloaded)."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", text):
        raise argparse.ArgumentTypeError(f"{text} is a URL; tfpose3d reads files on this machine, so download it first")
    return text


def _probability(text: str) -> float:
    """An argparse type: a number in [0, 1], with a message naming the bad value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {value:g}")
    return value


def _add_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="inspect the network")
    msub = p.add_subparsers(dest="model_command", required=True, metavar="COMMAND")
    s = msub.add_parser("summary", help="print the layer table and parameter count")
    s.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    s.add_argument("--variant", choices=VARIANTS, default=None, help="default: the preset's (full)")
    s.set_defaults(func=_model_summary)
    c = msub.add_parser("card", help="print the main job's model card: intended use, data and licences, limits")
    c.set_defaults(func=_model_card)


def _model_card(args: argparse.Namespace) -> int:
    print((Path(tfpose3d.__file__).parent / "data" / "MODEL_CARD.md").read_text(), end="")
    return 0


def _model_summary(args: argparse.Namespace) -> int:
    overrides = {"variant": args.variant} if args.variant else {}
    config = tfpose3d.model_preset(args.preset, **overrides)
    model = tfpose3d.build_model(config)
    model.summary(line_length=110, expand_nested=True)
    print(f"{args.preset} / {config.variant}: {model.count_params():,} parameters")
    return 0


def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="import motion capture and render datasets")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    imp = dsub.add_parser("import-bvh", help="BVH files -> a motion set (.npz: motion-bone rotations, root path)")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--out", required=True, help="output .npz")
    imp.add_argument("--joint-map", help='JSON {"unit_mm": .., "bones": {motion bone: [BVH joint, end joint or null]}} '
                     "for a skeleton named neither as Bandai Namco's, CMU's nor Mixamo's and not read from its "
                     "shape: the map proposed beside --out, checked")
    imp.add_argument("--test-pattern", type=_regex, default=None, help="regex on clip names that selects the test split")
    imp.add_argument("--source", default="", help="attribution text stored with the poses")
    imp.set_defaults(func=_import_bvh)
    ren = dsub.add_parser("render", help="render a motion set on random bodies to sharded TFRecords")
    ren.add_argument("--poses", default="bandai-namco", help="shipped motion set name or .npz path")
    ren.add_argument("--out", required=True, help="output folder (must not hold a dataset yet)")
    ren.add_argument("--count", type=POSITIVE, required=True)
    ren.add_argument("--seed", type=NON_NEGATIVE, default=0)
    ren.add_argument("--split", choices=SPLITS, default="train",
                     help="train: training clips; test and val (choosing the model): held-out clips")
    ren.add_argument("--workers", type=POSITIVE, default=None, help="render processes (default: all cores)")
    ren.add_argument("--look", choices=LOOKS, default="full", help=LOOK_HELP + "; default full")
    ren.set_defaults(func=_render)
    pre = dsub.add_parser("preview", help="a PNG grid of samples with their 2D joints drawn")
    pre.add_argument("--data", required=True, help="a rendered dataset folder, or one holding train/, val/ and test/")
    pre.add_argument("--split", choices=SPLITS, default="train", help="which, for a folder holding several")
    pre.add_argument("--out", required=True, help="output .png")
    pre.add_argument("--count", type=POSITIVE, default=16)
    pre.set_defaults(func=_preview)


def _import_bvh(args: argparse.Namespace) -> int:
    from tfpose3d.data import bvh, mocap

    writable(args.out, "--out", folder=False)
    mocap.check_motion_path(args.out)  # before the files are read
    joint_map = bvh.load_joint_map(args.joint_map) if args.joint_map else None
    pattern = args.test_pattern if args.test_pattern is not None else mocap.DEFAULT_TEST_PATTERN
    try:
        poses = mocap.from_bvh_files(args.files, joint_map, pattern, source=args.source)
    except bvh.UnknownNaming as err:
        if err.proposal is None:
            raise
        proposal = Path(args.out).with_suffix(".joint-map.json")
        proposal.parent.mkdir(parents=True, exist_ok=True)
        proposal.write_text(json.dumps(err.proposal, indent=2) + "\n")
        raise ValueError(f"unknown BVH joint names; a joint map read from the skeleton's shape is in {proposal}: "
                         f"check it (each motion bone: the joint that turns it, the joint at its end), then run "
                         f"again with --joint-map {proposal}") from None
    poses.save(args.out)
    test = int((poses.splits == "test").sum())
    print(f"{args.out}: {len(poses)} frames from {len(poses.clips)} clips ({test} clips held out for test)")
    return 0


def _render(args: argparse.Namespace) -> int:
    from tfpose3d.data import records

    manifest = records.write_rendered(args.poses, args.out, args.count, args.seed, args.split, args.workers, look=args.look)
    print(f"{args.out}: {manifest['count']} {args.split} images in {len(manifest['shards'])} shard(s)")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from tfpose3d import viz
    from tfpose3d.contract import IMAGE_SIZE
    from tfpose3d.data.sources import RecordsSource

    if not args.out.lower().endswith(".png"):
        raise ValueError(f"--out {args.out} must name a .png file")
    writable(args.out, "--out", folder=False)
    source = RecordsSource(args.data)
    source.check((args.split,))
    samples = source.samples(args.split, IMAGE_SIZE).take(args.count)
    tiles = [viz.draw_skeleton_2d(s["image"], s["joints_2d"]) for s in samples.as_numpy_iterator()]
    if not tiles:
        raise ValueError(f"{args.data}: the dataset holds no samples")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    viz.grid(tiles, columns=min(4, len(tiles)), caption=viz.SIDES).save(args.out)
    print(f"{args.out}: {len(tiles)} samples")
    return 0


LOOK_HELP = ("what the renderer varies beyond the body (mocap data): each look adds one real-photo ingredient "
             "to the one before, `poses` adds varied training poses to `full` and `plain-poses` to `plain`, "
             "`plain-seated` seated legs to `plain`")
PLATEAU_HELP = ("train until the validation error stops improving: a constant learning rate, cut to a quarter "
                "after N epochs without a new best, twice, then N more such epochs end the run; epochs count only once "
                "the error beats the validation set's mean pose; --epochs is the most; model.keras gets the best epoch's "
                "weights (default 0: the preset's cosine schedule over --epochs)")
DATA_HELP = ("a folder with rendered train/ and test/ (and val/, else validation uses test), h36m:ROOT, or mocap:NAME_OR_NPZ "
             "(default: mocap:bandai-namco, the shipped motion capture rendered once)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train with model.fit (resumes a killed run with the same --out)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu-quick")
    p.add_argument("--variant", choices=VARIANTS, default=None)
    p.add_argument("--data", default=None, help=DATA_HELP)
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--epochs", type=POSITIVE)
    p.add_argument("--steps-per-epoch", type=POSITIVE)
    p.add_argument("--batch-size", type=POSITIVE)
    p.add_argument("--seed", type=NON_NEGATIVE)
    p.add_argument("--train-images", type=POSITIVE, help="rendered training images (mocap data)")
    p.add_argument("--test-images", type=POSITIVE, help="rendered test images (mocap data)")
    p.add_argument("--look", choices=LOOKS, help=LOOK_HELP + "; default: the preset's")
    p.add_argument("--texture", type=_probability, metavar="P",
                   help="probability of re-texturing a training image by a random convolution (Augment.texture, "
                        "RandConv; default 0)")
    p.add_argument("--plateau-patience", type=NON_NEGATIVE, metavar="N", help=PLATEAU_HELP)
    p.add_argument("--bone-epochs", type=NON_NEGATIVE, metavar="N",
                   help="then train the bone-length head alone for at most N more epochs on its maps, computed once "
                        "(TrainConfig.bone_epochs; default: the preset's, 0 but for cpu-pretrained-long)")
    p.add_argument("--bone-copies", type=POSITIVE, metavar="N", help="augmented copies of each training render for "
                   "--bone-epochs (default: the preset's, 3)")
    p.add_argument("--trunk-copies", type=NON_NEGATIVE, metavar="N",
                   help="a frozen trunk's outputs for N augmented copies of each training render, computed once, and "
                        "the layers after it trained on them (TrainConfig.trunk_copies; 0: on images every step; "
                        "default: the preset's)")
    p.add_argument("--validation-steps", type=POSITIVE)
    p.add_argument("--time-budget", type=NON_NEGATIVE_NUMBER, metavar="SECONDS",
                   help="end training within SECONDS of its start: at the first step after which that epoch's "
                        "validation and checkpoints would end past them (TrainConfig.time_budget_s; 0: the whole "
                        "schedule; default: the preset's, 1180 for cpu-pretrained, else 0)")
    p.add_argument("--strategy", choices=STRATEGIES, help="multi-worker: see docs/distributed.md")
    p.add_argument("--worker-timeout", type=POSITIVE, default=300, metavar="SECONDS",
                   help="multi-worker: how long to wait for the cluster to form and for each step (default 300)")
    p.add_argument("--mixed-precision", action="store_true", default=None)
    p.add_argument("--xla", choices=("auto", "on", "off"), default=None, help="XLA-compile the train step")
    p.add_argument("--photos", default=None, metavar="DIR",
                   help="real photographs with 2D joints (annotations.json as in real-photos-dev): their 2D error is "
                        "logged each epoch (photos_2d_error, photos_vs_mean_2d in history.csv), to watch only")
    p.set_defaults(func=_train)


def _train_config(args: argparse.Namespace):
    from tfpose3d.presets import train_preset

    jit = {"auto": "auto", "on": True, "off": False}.get(args.xla) if args.xla else None
    config = train_preset(
        args.preset, {"variant": args.variant} if args.variant else None, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, seed=args.seed,
        train_images=args.train_images, test_images=args.test_images, look=args.look,
        validation_steps=args.validation_steps, plateau_patience=args.plateau_patience,
        bone_epochs=args.bone_epochs, bone_copies=args.bone_copies, trunk_copies=args.trunk_copies,
        time_budget_s=args.time_budget, strategy=args.strategy, mixed_precision=args.mixed_precision, jit_compile=jit,
    )
    if args.texture is None:
        return config
    return dataclasses.replace(config, augment=dataclasses.replace(config.augment, texture=args.texture))


def _train(args: argparse.Namespace) -> int:
    from tfpose3d.train import train

    train(_train_config(args), args.out, args.data, worker_timeout_s=args.worker_timeout, photos=args.photos)
    return 0


def _budget_end(run: Path) -> list[int] | None:
    """Where the time budget ended a run's training, [epoch, step], from its train_summary.json; None where it
    did not (or the run has no summary)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return json.loads((run / "train_summary.json").read_text()).get("time_budget_ended")
    return None


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="MPJPE, P-MPJPE, PCK per joint and action, with example figures")
    p.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder or a .keras file (with --photos also a "
                   "SavedModel folder or a .tflite file)")
    p.add_argument("--data", default=None, help="a rendered test dataset (or a folder holding test/), h36m:ROOT or "
                   "mocap:NAME (default: the run's own test data)")
    p.add_argument("--out", default=None, help="where evaluation/ goes (default: beside the model)")
    p.add_argument("--photos", default=None, metavar="DIR",
                   help="instead, real photographs with 2D joints (annotations.json as in real-photos-dev): the 2D "
                        "error of the model (a run, .keras, SavedModel or .tflite) against the mean 2D pose of the "
                        "training renders (from --data or the run's data)")
    p.add_argument("--crops", choices=("annotation", "detector"), default=None,
                   help="with --photos: crops framed on the annotated joints (default), or the whole pipeline on the "
                        "whole photos (detector, aligned crops), scored on the people it finds")
    p.add_argument("--flip", action="store_true", help="test-time flip: also estimate the mirrored image and average")
    p.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from tfpose3d.config import read_run
    from tfpose3d.data.sources import open_source
    from tfpose3d.evaluate import evaluate, evaluation_dir, run_source
    from tfpose3d.export import FORMS, described, trained_in

    if args.photos:
        from tfpose3d.data.photos import read_photos

        read_photos(args.photos)  # a wrong annotation file or a missing photo is told before any data is rendered
    elif any(form.matches(Path(args.model)) for kind, form in FORMS.items() if kind != "keras"):
        # The renders' 3D tables are the Keras model's.
        what = described(args.model)
        raise ValueError(f"{args.model}: an exported model is evaluated on photographs (--photos DIR --data D); "
                         "the held-out renders need the run folder or its .keras file"
                         + (f" ({what})" if what else ""))
    run, saved = trained_in(args.model), None
    with contextlib.suppress(ValueError):  # an unreadable config.json is the evaluation's to report
        saved = read_run(run) if run else None
    if run is not None and run != Path(args.model) and not args.data:
        print(f"{args.model}: the data of {run}, the run it was trained in")
    # A motion set named with --data is rendered as the run rendered its training data (look, counts, seed).
    source = (open_source(args.data, *([saved[1].render_options] if saved else [])) if args.data
              else run_source(run or args.model))
    if saved is not None and saved[1].preset in PRESETS:
        print(f"{args.model}: preset {saved[1].preset}, {PRESETS[saved[1].preset]['description']}")
    if what := described(args.model):  # an export says what it was made from
        print(f"{args.model}: {what}")
    if saved is not None and (ended := _budget_end(run)):
        print(f"{args.model}: its time budget ({saved[1].time_budget_s:g} s) ended the training after step {ended[1]} "
              f"of epoch {ended[0]} of {saved[1].epochs}: these are the figures of that shorter run")
    if args.photos:
        from tfpose3d import contract
        from tfpose3d.data.photos import training_mean_2d
        from tfpose3d.evaluate import evaluate_photos

        source.check(("train",))
        crops = args.crops or "annotation"
        out = evaluation_dir(args.model, args.out) / ("" if crops == "annotation" else "detector")
        table = evaluate_photos(args.model, args.photos, training_mean_2d(source, contract.IMAGE_SIZE), out, args.flip,
                                crops)
        print(table.to_markdown(index=False, floatfmt=".3g"))
        print(f"pictures: {out / 'photos.png'}")
        return 0
    if args.crops:
        print(f"tfpose3d evaluate: --crops {args.crops} is not used: it frames the photos of --photos", file=sys.stderr)
    result = evaluate(args.model, source, args.out, args.flip)
    for name, frame in result.items():
        print(f"\n{name.replace('_', ' ')}\n{frame.to_markdown(index=False, floatfmt='.3g')}")
    print(f"tables and pictures: {evaluation_dir(args.model, args.out)}")
    return 0


def _seeds(text: str) -> list[int]:
    """An argparse type: comma-separated non-negative integers."""
    try:
        seeds = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct non-negative integers, got {text!r}")
    return seeds


def _add_ablate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ablate", help="train and evaluate the four variants (the paper's Table 2) over seeds")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu-quick")
    p.add_argument("--out", required=True)
    p.add_argument("--data", default=None, help=DATA_HELP)
    p.add_argument("--epochs", type=POSITIVE)
    p.add_argument("--steps-per-epoch", type=POSITIVE)
    p.add_argument("--plateau-patience", type=NON_NEGATIVE, metavar="N", help=PLATEAU_HELP)
    p.add_argument("--seeds", type=_seeds, default=[0], help="comma-separated, e.g. 0,1,2: every variant runs with "
                   "each; the table gives mean and standard deviation, and each step of the paper's ordering paired by seed")
    p.set_defaults(func=_ablate)


def _ablate(args: argparse.Namespace) -> int:
    from tfpose3d.ablate import ablate

    result = ablate(args.preset, args.out, args.data, args.seeds, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                    plateau_patience=args.plateau_patience)
    print(result["variants"].to_markdown(index=False, floatfmt=".1f"))
    print()
    print(result["steps"].to_markdown(index=False, floatfmt=".1f"))
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="SavedModel (TF Serving layout) and TFLite float32/float16/int8")
    p.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder (its model.keras: the last epoch's weights, "
                   "the best epoch's with --plateau-patience) or a .keras file, such as the run's best.keras")
    p.add_argument("--out", required=True, help="serving base folder; writes OUT/<name>/<version>/")
    p.add_argument("--name", default="tfpose3d")
    p.add_argument("--version", type=NON_NEGATIVE, default=None, help="default: one above the highest existing")
    p.add_argument("--tflite", default=",".join(DEFAULT_EXTRAS), help="comma-separated TFLite kinds, or 'none'")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from tfpose3d.estimator import load_model
    from tfpose3d.export import FORMS, TFLITE_KINDS, export, origin

    kinds = () if args.tflite == "none" else tuple(k.strip() for k in args.tflite.split(",") if k.strip())
    unknown = [k for k in kinds if k not in TFLITE_KINDS]
    if unknown:
        raise ValueError(f"--tflite: unknown kind(s) {unknown}; expected some of {list(TFLITE_KINDS)} or 'none'")
    path = export(load_model(args.model), args.out, args.name, args.version, kinds, about=origin(args.model))
    written = ", ".join(FORMS[k].path(path, args.name).name for k in kinds)
    print(f"{path}: SavedModel (signatures serving_default, serving_flip)" + (f", {written}" if written else ""))
    return 0


PREDICT_HELP = """3D pose of the people in photos, and of one person through a video.

A photo of any size: BlazePose's person detector and a network that joins people from their body parts
(for crowds, people seen from behind, seated or small) find the people, or --box gives one; each is
cropped upright along the body (from the hips toward the head), estimated, cropped again on that pose
as the training renders are framed, and estimated again (the first estimate kept where that second crop
slid onto a neighbour); each estimate averages the crop's and its mirror's
(test-time flip; --no-flip for one, in half the time). JSON on
stdout (joints in the photo's pixels, the 3D pose in its camera's axes: x right, y down, z forward), and
<image>_pose_<k>.png per person; a photo with nobody found has no people, and the exit status is then 2, as it is
for a video in none of whose frames anybody was found.
A video (.mp4, .mov, .avi, .mkv, .webm, ...) or a folder of frames: one person is followed from their own
pose, found again by the detector when lost, each frame estimated and the 3D poses smoothed (--smooth);
<video>_poses.jsonl, one line per frame, and with --video-out an .mp4 or .gif with both skeletons.

Without --model: the main job's export, serving_models/tfpose3d/<newest version> (./setup.sh writes it) in
this folder, else in the checkout the package is installed from.
How accurate each model is, on renders and on real photographs: docs/results.md. The models learnt 3D from
rendered people only: treat their output on real photos as an estimate, not a measurement.
"""


def _add_predict(sub: argparse._SubParsersAction) -> None:
    from tfpose3d.smooth import SMOOTHERS

    p = sub.add_parser("predict", help="3D pose of the people in photos and of a person through videos",
                       description=PREDICT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="SavedModel folder, .keras or .tflite file (default: the main job's "
                   "export, serving_models/tfpose3d/<newest version>)")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_VIDEO", type=_local_path)
    p.add_argument("--box", default=None, metavar="x,y,w,h|whole",
                   help="the person's box in pixels (skips detection), or 'whole' when the person fills the image")
    # Flags that only some inputs use default to None, so that one given in vain can be told (`_unused_flags`).
    p.add_argument("--smooth", choices=SMOOTHERS, default=None,
                   help="videos: 'causal' (One Euro filter, for live use), 'window' (Savitzky-Golay over 9 frames, "
                        "for files; 4 frames late; the default) or 'none'")
    p.add_argument("--strength", type=POSITIVE_NUMBER, default=None,
                   help="videos: smoothing strength (1, the default: the settings above)")
    p.add_argument("--video-out", default=None, metavar="FILE.mp4|FILE.gif",
                   help="videos: also draw each frame with its 2D and 3D skeletons (one video: this file; several: "
                        "<video>_pose.<suffix> in --out-dir)")
    p.add_argument("--fps", type=POSITIVE_NUMBER, default=None,
                   help="frames per second of a folder of frames (default 30; a video file gives its own)")
    p.add_argument("--out-dir", default="predictions", help="where figures and per-frame results go")
    # Photos flip by default: the best estimate the package has (docs/results.md, "test-time flip on the main
    # job") for a few milliseconds beside the detector's. Videos do not: the tracker's confidence floor is set on
    # one estimate's heatmaps, and every frame pays the network's time twice.
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="test-time flip: also estimate each mirrored crop and average (twice the network's time); "
                        "default: on for photos, off for videos")
    p.add_argument("--threads", type=POSITIVE, default=None, help="TFLite CPU threads")
    p.set_defaults(func=_predict)


def _unused_flags(args: argparse.Namespace, videos: list[tuple[str, str]]) -> None:
    """Names on stderr each flag given that none of the inputs uses, so that it is not thought to have acted."""
    no_video = "no video among the inputs"
    for flag, value, used, why in (
        ("--video-out", args.video_out, videos, f"{no_video} (photos are drawn into --out-dir)"),
        ("--smooth", args.smooth, videos, f"{no_video} (photos are estimated each on its own)"),
        ("--strength", args.strength, videos, f"{no_video} (photos are estimated each on its own)"),
        ("--fps", args.fps, [v for v, _ in videos if Path(v).is_dir()],
         "no folder of frames among the inputs (a video file gives its own rate)"),
    ):
        if value is not None and not used:
            shown = format(value, "g") if isinstance(value, float) else value
            print(f"tfpose3d predict: {flag} {shown} is not used: {why}", file=sys.stderr)


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tfpose3d.export import described, latest_export
    from tfpose3d.predict import Predictor, nobody_found, output_names, predict_photos, predict_video, to_json
    from tfpose3d.video import FrameReader, check_video_out, is_video

    # Paired by position, not looked up by path: an input given twice gets outputs of its own each time.
    named = list(zip(args.inputs, output_names(args.inputs)))
    videos = [(path, name) for path, name in named if is_video(path)]
    photos = [(path, name) for path, name in named if not is_video(path)]
    # A missing, empty or unreadable video, or a video output that cannot or must not be written, stops here,
    # before anything is written.
    readers = [FrameReader(video, *[args.fps] if args.fps else []) for video, _ in videos]
    outs = [args.video_out if len(videos) == 1 or not args.video_out else
            str(Path(args.out_dir) / f"{name}_pose{Path(args.video_out).suffix}") for _, name in videos]
    for out, reader in zip(outs, readers):
        if out:
            check_video_out(out, args.inputs, reader.fps)
    writable(args.out_dir, "--out-dir")
    _unused_flags(args, videos)
    for folder in {video for video, _ in videos if Path(video).is_dir()}:
        print(f"{folder}: read as the frames of one video, one person followed through them; for each photo on "
              f"its own, name the files ({Path(folder) / '*'})", file=sys.stderr)
    model = args.model or latest_export()
    if not args.model:  # several exports can lie there; the newest is used, and the user should see which
        what = described(model)
        print(f"tfpose3d predict: model {model} ({what + '; ' if what else ''}the newest export of the main job; "
              "--model names another)", file=sys.stderr)
    photo_flip, video_flip = args.flip is not False, bool(args.flip)
    # Both loaded before anything is written, so that a model that cannot be read leaves nothing behind.
    wanted = ({photo_flip} if photos else set()) | ({video_flip} if videos else set())
    predictors = {flip: Predictor(model, args.threads, flip) for flip in wanted}
    results = predict_photos(predictors[photo_flip], [path for path, _ in photos], args.out_dir, args.box,
                             [name for _, name in photos]) if photos else []
    for (video, name), reader, out in zip(videos, readers, outs):
        given = {k: v for k, v in (("smoothing", args.smooth), ("strength", args.strength)) if v is not None}
        results.append(predict_video(predictors[video_flip], reader, args.out_dir, args.box, video_out=out, name=name,
                                     **given))
    print(to_json(results))
    nobody = [result["image"] if "image" in result else result["video"] for result in results
              if result.get("people") == [] or result.get("frames_with_person") == 0]
    if nobody:  # the others' poses are printed and drawn; the exit status still says an input held nobody
        print(f"tfpose3d: error: {nobody_found(nobody)}", file=sys.stderr)
        return 2
    return 0


def build_parser(
    adders: Sequence[Adder] = (_add_model, _add_data, _add_train, _add_evaluate, _add_ablate, _add_export, _add_predict),
) -> argparse.ArgumentParser:
    """The `tfpose3d` command's parser: one subcommand for each of `adders` (each adds its own options)."""
    parser = _Parser(
        prog="tfpose3d",
        description="3D human pose from one image (Park, Hwang & Kwak 2016), Keras 3 / TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"tfpose3d {tfpose3d.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in adders:
        add(sub)
    return parser


# Where a Python error raised inside tf.data (a generator reading a file) starts in TensorFlow's message.
_PYTHON_ERRORS = ("ValueError: ", "FileNotFoundError: ", "OSError: ", "KeyError: ")


def error_line(err: BaseException) -> str:
    """One line for the user: the error's own first line, without TensorFlow's graph and traceback text."""
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    if not isinstance(err, (ValueError, OSError)):
        # TensorFlow's text: its node, then the Python error's message and traceback; a message may itself
        # name an error ("(ValueError: ...)"), so it starts at the first marker, not the last.
        starts = [(text.find(m), m) for m in _PYTHON_ERRORS if m in text]
        if starts:
            start, marker = min(starts)
            text = text[start + len(marker):]
    return tensorflow_words(text) or type(err).__name__


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input can cause: bad values, files, folders, and data TensorFlow cannot read."""
    errors: tuple[type[BaseException], ...] = (ValueError, OSError)
    tf = sys.modules.get("tensorflow")
    return errors + (tf.errors.OpError,) if tf is not None else errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; returns the exit status (2 for a user error, printed as one line) instead of exiting."""
    parser = build_parser()
    try:
        args = parser.parse_args(_join_signed_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:  # --help, or argparse's message for a bad flag
        return int(stop.code or 0)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as err:
        print(f"tfpose3d: error: {error_line(err)}", file=sys.stderr)
        return 2
    except WorkerLostError as err:
        print(f"tfpose3d: error: {err}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
