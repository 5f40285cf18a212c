"""Deployment forms, one class each, in one table (`FORMS`) that export, predict, the CLI and the tests read.

Every form serves the contract in `tfpose3d.contract`: uint8 [N, 225, 225, 3]
in, `pose_3d`, `joints_2d`, `heatmaps_2d` out. A form knows its file name,
how to write itself into a version folder, whether a path is one of it, and
how to open it for inference. A new export target is one `Form` subclass and
one entry in `FORMS`.
"""

from __future__ import annotations

import abc
import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import keras
import numpy as np
import tensorflow as tf

from tfpose3d import contract
from tfpose3d.config import RUN_CONFIG, read_run
from tfpose3d.terminal import quiet_stderr
from tfpose3d.estimator import Pose3DEstimator, flip_test_model, load_model
from tfpose3d.preprocessing import resize_square
from tfpose3d.layers import FlipAverage
from tfpose3d.paths import staging_folder, writable
from tfpose3d.version import __version__

Runner = Callable[[np.ndarray], dict]
# Yields uint8 (1, 225, 225, 3) images for int8 calibration.
Calibration = Callable[[], Iterable[np.ndarray]]
IMAGE_SPEC = tf.TensorSpec([None, contract.IMAGE_SIZE, contract.IMAGE_SIZE, 3], tf.uint8, name=contract.INPUT_NAME)


def serving_function(model: Pose3DEstimator, flip: bool = False) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """uint8 [N, 225, 225, 3] -> the contract's outputs, `joints_2d` in pixels of the 225 px input.

    Resizes to the model's input size with plain bilinear sampling, as the
    training pipeline does. `flip` adds the test-time flip (`flip_test_model`).
    """
    size = model.config.image_size
    scale = contract.IMAGE_SIZE / size
    net = flip_test_model(model) if flip else model

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        x = tf.cast(image, tf.float32)
        if size != contract.IMAGE_SIZE:
            x = resize_square(x, size)
        out = net(x, training=False)
        result = {name: tf.cast(out[name], tf.float32) for name in contract.OUTPUT_NAMES}
        result["joints_2d"] = result["joints_2d"] * scale
        return result

    return serve


def rendered_calibration(count: int = 100, seed: int = 0) -> Iterator[np.ndarray]:
    """Rendered images of the shipped motion capture's training clips: the default int8 calibration set."""
    from tfpose3d.data import images, mocap, render

    poses = mocap.load_motion("bandai-namco").select("train")
    for sample in render.render_indices(poses, seed, range(count)):
        yield images.decode(sample["image"])[None]


class Form(abc.ABC):
    """One deployable form of a model.

    Attributes:
        kind: its name in `FORMS` and on the command line.
        runtime: what runs it ("keras", "saved_model" or "tflite").
    """

    kind: str
    runtime: str

    @abc.abstractmethod
    def path(self, version_dir: Path, name: str) -> Path:
        """Where this form lives in a version folder."""

    @abc.abstractmethod
    def write(self, model: Pose3DEstimator, version_dir: Path, name: str, calibration: Calibration) -> None:
        """Write this form into `version_dir`, which already holds the SavedModel."""

    @abc.abstractmethod
    def matches(self, path: Path) -> bool:
        """Whether `path` is a model of this form."""

    @abc.abstractmethod
    def open(self, path: Path, threads: int | None = None, flip: bool = False) -> Runner:
        """A function from a checked uint8 batch to the contract's outputs (with test-time flip if `flip`)."""


class SavedModelForm(Form):
    """A SavedModel with the `serving_default` signature, in TF Serving's layout."""

    kind = runtime = "saved_model"

    def path(self, version_dir, name):
        return version_dir

    def write(self, model, version_dir, name, calibration):
        # A plain tf.Module: keras.export.ExportArchive (Keras 3.15) writes every variable twice.
        # Only the weights are tracked: the Dropout seed-generator states, unused at inference,
        # would otherwise reach TFLite as live variables and break int8 calibration.
        module = tf.Module()
        module.weights = [w.value for w in model.weights]
        module.serve = tf.function(serving_function(model), input_signature=[IMAGE_SPEC])
        module.serve_flip = tf.function(serving_function(model, flip=True), input_signature=[IMAGE_SPEC])
        tf.saved_model.save(module, str(version_dir),
                            signatures={contract.SIGNATURE: module.serve, contract.FLIP_SIGNATURE: module.serve_flip})

    def matches(self, path):
        return path.is_dir() and (path / "saved_model.pb").is_file()

    def open(self, path, threads=None, flip=False):
        try:
            signatures = tf.saved_model.load(str(path)).signatures
        except (IndexError, OSError, ValueError, tf.errors.OpError) as err:  # a variables file cut short, a lost file
            raise ValueError(f"{path}: the SavedModel cannot be read; its variables/ look cut short or damaged "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); export it again") from None
        plain = signatures.get(contract.SIGNATURE)
        inputs = set(plain.structured_input_signature[1]) if plain is not None else set()
        outputs = set(plain.structured_outputs) if plain is not None else set()
        if inputs != {contract.INPUT_NAME} or not outputs >= set(contract.OUTPUT_NAMES):
            raise ValueError(f"{path}: a SavedModel, but not a tfpose3d export: no '{contract.SIGNATURE}' signature "
                             f"from '{contract.INPUT_NAME}' to {list(contract.OUTPUT_NAMES)} (its signatures: "
                             f"{ {k: sorted(v.structured_input_signature[1]) for k, v in signatures.items()} })")
        signature = signatures.get(contract.FLIP_SIGNATURE) if flip else plain
        if signature is None:
            raise ValueError(f"{path}: SavedModel has no '{contract.FLIP_SIGNATURE}' signature (exported before "
                             "test-time flip existed); export it again, or predict without the flip (--no-flip)")
        return lambda x: {k: v.numpy() for k, v in signature(**{contract.INPUT_NAME: tf.constant(x)}).items()}


# The layers from the merge of the roots' poses on, and the bone lengths' exponential, whose ops int8 TFLite keeps
# in float32 (`TFLiteForm._int8`).
FLOAT_TAIL = re.compile(r"/(multi_root_merge|pose_3d_joints|pose_3d|bone_lengths_in_unit|bone_lengths)(_\d+)?/")


class TFLiteForm(Form):
    """A TFLite flatbuffer of the SavedModel's signature, run with LiteRT.

    float32: as is; float16: weights stored in float16; int8: full-integer
    quantisation (int8 weights and activations, uint8 image in, float32
    outputs), calibrated on the `calibration` images.
    """

    runtime = "tflite"

    def __init__(self, kind: str):
        self.kind = kind

    def path(self, version_dir, name):
        return version_dir / f"{name}_{self.kind}.tflite"

    def convert(self, saved_model_dir: Path, calibration: Calibration) -> bytes:
        converter = self._converter(saved_model_dir)
        with quiet_stderr():  # the converter's MLIR and quantiser notes; a failure still raises its own error
            if self.kind == "float16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            elif self.kind == "int8":
                return self._int8(saved_model_dir, converter, calibration)
            return converter.convert()

    @staticmethod
    def _converter(saved_model_dir: Path) -> tf.lite.TFLiteConverter:
        return tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[contract.SIGNATURE])

    def _int8(self, saved_model_dir: Path, converter: tf.lite.TFLiteConverter, calibration: Calibration) -> bytes:
        """int8 weights and activations up to the merged 3D pose; the layers after it stay float32.

        Fully quantised, the merged pose's step became that of millimetres while it was still in
        `pose_unit_mm` units (the converter's scale for it, 7.05, against 0.07 for its input), so every joint
        but one read 0 and the main job's int8 MPJPE was 351 mm against float32's 74. The tail is a few
        hundred numbers a person, against the trunk's millions.
        """
        from ai_edge_litert.interpreter import Interpreter

        # The tail's op names, from the float graph: the debugger leaves the ops named in float.
        details = Interpreter(model_content=self._converter(saved_model_dir).convert()).get_tensor_details()
        tail = [d["name"] for d in details if FLOAT_TAIL.search(d["name"])]
        images = list(calibration())
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image] for image in images)
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.float32
        # The converter's way to leave chosen ops in float (selective quantisation) is its debugger.
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=lambda: ([image] for image in images[:1]),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=tail))
        return debugger.get_nondebug_quantized_model()

    def write(self, model, version_dir, name, calibration):
        self.path(version_dir, name).write_bytes(self.convert(version_dir, calibration))

    def matches(self, path):
        return path.suffix == ".tflite" and path.is_file()

    def open(self, path, threads=None, flip=False):
        from ai_edge_litert.interpreter import Interpreter

        try:
            with quiet_stderr():  # LiteRT's "INFO: Created ... XNNPACK delegate" on the first allocation
                interpreter = Interpreter(model_path=str(path), num_threads=threads)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"{path}: not a usable TFLite model ({str(err).splitlines()[0]})") from None
        signatures = interpreter.get_signature_list()
        if contract.INPUT_NAME not in signatures.get(contract.SIGNATURE, {}).get("inputs", []):
            raise ValueError(f"{path}: a TFLite model, but not a tfpose3d export: it has no '{contract.SIGNATURE}' "
                             f"signature taking '{contract.INPUT_NAME}' (its signatures: {signatures})")
        runner = interpreter.get_signature_runner(contract.SIGNATURE)
        run = lambda x: runner(**{contract.INPUT_NAME: x})  # noqa: E731
        if not flip:
            return run
        # TF 2.21's converter keeps only the first of several signatures, so a TFLite file holds the plain
        # one and the flip runs beside it: the mirrored batch through the same file, averaged by the same layer.
        layers = {name: FlipAverage(name, contract.IMAGE_SIZE) for name in contract.OUTPUT_NAMES}
        average = tf.function(lambda a, b: {k: layers[k](a[k], b[k]) for k in layers})  # one graph: eager costs ms
        return lambda x: {k: v.numpy() for k, v in average(run(x), run(np.ascontiguousarray(x[:, :, ::-1]))).items()}


class KerasForm(Form):
    """The `.keras` file itself (or a run folder's model.keras), run through the same serving function."""

    kind = runtime = "keras"

    def path(self, version_dir, name):
        return version_dir / f"{name}.keras"

    def write(self, model, version_dir, name, calibration):
        model.save(self.path(version_dir, name))

    def matches(self, path):
        # load_model reads a run folder's model.keras too.
        return (path.suffix == ".keras" and path.is_file()) or (path / "model.keras").is_file()

    def open(self, path, threads=None, flip=False):
        # One trace for every batch size, as the SavedModel's signature: a photo's number of people varies.
        serve = tf.function(serving_function(load_model(path), flip), input_signature=[IMAGE_SPEC])
        return lambda x: {k: v.numpy() for k, v in serve(tf.constant(x)).items()}


FORMS: dict[str, Form] = {form.kind: form for form in (
    SavedModelForm(), TFLiteForm("float32"), TFLiteForm("float16"), TFLiteForm("int8"), KerasForm(),
)}
TFLITE_KINDS: tuple[str, ...] = tuple(k for k, f in FORMS.items() if isinstance(f, TFLiteForm))
# What `tfpose3d export` writes beside the SavedModel unless told otherwise.
DEFAULT_EXTRAS: tuple[str, ...] = TFLITE_KINDS


def form_of(path: str | os.PathLike) -> Form:
    """The form a model path is, with an error naming what was expected."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file or folder")
    for form in FORMS.values():
        if form.matches(path):
            return form
    if found := versions(path):  # the folder TF Serving is given, which holds the versions
        raise ValueError(f"{path}: a folder of exported versions; pass one of them, such as the newest, "
                         f"{path / str(max(found))}")
    raise ValueError(f"{path}: not a model; expected a .keras file, a run folder, a SavedModel folder or a .tflite file")


def versions(model_dir: Path) -> list[int]:
    """The version folders under `model_dir` (TF Serving reads the folders named by a number)."""
    return [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()] if model_dir.is_dir() else []


def next_version(model_dir: Path) -> int:
    """The version folder an export into `model_dir` writes: one past the newest there, 1 when there is none."""
    return max(versions(model_dir), default=0) + 1


# Where ./setup.sh exports the main job's model, which `tfpose3d predict` uses when given no --model.
MAIN_EXPORT = Path("serving_models") / "tfpose3d"
# The checkout the package is installed from (./setup.sh installs it editable), whose export a notebook or a
# shell in another folder should find too; an installed wheel has none.
CHECKOUT = Path(__file__).resolve().parent.parent


def latest_export(model_dir: str | os.PathLike | None = None) -> Path:
    """The newest version folder under `model_dir` (TF Serving's layout), with an error that says what to do.

    Without `model_dir`: the main job's export under the working folder, else under the package's checkout.
    """
    folders = [Path(model_dir) if model_dir is not None else MAIN_EXPORT]
    if model_dir is None and (CHECKOUT / "pyproject.toml").is_file() and CHECKOUT.resolve() != Path.cwd().resolve():
        folders.append(CHECKOUT / MAIN_EXPORT)
    for folder in folders:
        if found := versions(folder):
            return folder / str(max(found))
    raise FileNotFoundError(f"{' or '.join(map(str, folders))}: no exported model here; run ./setup.sh (the main "
                            "job exports it there) or pass --model")


# Beside the SavedModel in a version folder: what the export is. TF Serving reads only saved_model.pb,
# variables/ and assets/, so the file changes nothing it serves.
ORIGIN = "origin.json"


def origin(source: str | os.PathLike) -> dict[str, str]:
    """Where a model file or run folder came from: its path, its run's preset (where it lies in a run folder
    that `tfpose3d train` wrote), the package version and commit (with "-dirty" where tracked files had
    changes since it, as `git describe` marks them), and the date of the export.

    Example:
    >>> {"source", "tfpose3d", "exported"} <= set(origin("model.keras"))
    True
    """
    source = Path(source).resolve()  # found again from any folder: `trained_in`
    about = {"source": str(source), "tfpose3d": __version__,
             "exported": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    with contextlib.suppress(ValueError):  # an unreadable config.json names no preset; the export goes on
        if (run := trained_in(source)) and (saved := read_run(run)):  # a lone .keras file has no preset
            about["preset"] = saved[1].preset
    if (CHECKOUT / "pyproject.toml").is_file():  # run from its checkout; an installed package has no commit
        try:
            # --exclude "*": the commit's hash even where a tag names it
            about["commit"] = subprocess.run(["git", "-C", str(CHECKOUT), "describe", "--always", "--dirty",
                                              "--abbrev=7", "--exclude", "*"],
                                             check=True, capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass  # a copy without git
    return about


def read_origin(path: str | os.PathLike) -> dict[str, str]:
    """The origin.json of an export's version folder, or of the folder a .tflite file lies in ({} if none)."""
    path = Path(path)
    try:
        about = json.loads(((path if path.is_dir() else path.parent) / ORIGIN).read_text())
    except (OSError, ValueError):
        return {}
    return about if isinstance(about, dict) else {}


def trained_in(model: str | os.PathLike) -> Path | None:
    """The run folder a model was trained in: the folder itself, the folder a .keras file lies in, or the run
    an export's origin.json names; None where there is none to read."""
    source = Path(read_origin(model).get("source", model))
    for run in (source, source.parent) if source.suffix == ".keras" else (source,):
        if run.is_dir() and (run / RUN_CONFIG).is_file():
            return run
    return None


def described(version_dir: str | os.PathLike) -> str:
    """One line on what an export is, from its origin.json ("" for an export written without one)."""
    about = read_origin(version_dir)
    if not about:
        return ""
    preset = f"preset {about['preset']}, " if "preset" in about else ""
    commit = f" at {about['commit']}" if "commit" in about else ""
    return (f"{preset}from {about.get('source', '?')}, exported {about.get('exported', '?')} by tfpose3d "
            f"{about.get('tfpose3d', '?')}{commit}")


def export(
    model: keras.Model,
    out_dir: str | os.PathLike,
    name: str = "tfpose3d",
    version: int | None = None,
    extras: tuple[str, ...] = DEFAULT_EXTRAS,
    calibration: Calibration = rendered_calibration,
    about: Mapping[str, str] | None = None,
) -> Path:
    """Write out_dir/name/version/: the SavedModel plus the `extras` forms (kinds of `FORMS`), atomically.

    Args:
        calibration: a function of no arguments that yields the int8 calibration images, each uint8
            (1, 225, 225, 3) (default: `rendered_calibration`, rendered training images).
        about: what the model is (`origin(source)`), written to the version folder's origin.json.
    """
    if not isinstance(model, Pose3DEstimator):
        raise ValueError(f"export needs a tfpose3d Pose3DEstimator, got {type(model).__name__}")
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"Model name {name!r} must be letters, digits, '-' or '_'")
    if not callable(calibration):
        raise TypeError(f"calibration must be a function that yields uint8 (1, {contract.IMAGE_SIZE}, "
                        f"{contract.IMAGE_SIZE}, 3) images, as export.rendered_calibration does; got "
                        f"{type(calibration).__name__} (pass `lambda: iter(images[:, None])` for an array of images)")
    unknown = [k for k in extras if k not in FORMS or k == SavedModelForm.kind]
    if unknown:
        raise ValueError(f"Unknown export form(s) {unknown}; expected some of {[k for k in FORMS if k != 'saved_model']}")
    model_dir = writable(Path(out_dir) / name, "--out")
    version = version if version is not None else next_version(model_dir)
    if version < 0:
        raise ValueError(f"version must be a non-negative integer, got {version}")
    final = model_dir / str(version)
    if final.exists():
        raise FileExistsError(f"{final} already exists; pick another --version")
    model_dir.mkdir(parents=True, exist_ok=True)
    # TF Serving skips folders whose name is not a number, so it never sees the temporary one.
    tmp = staging_folder(model_dir, f".tmp-{version}-")
    try:
        for kind in (SavedModelForm.kind, *extras):
            FORMS[kind].write(model, tmp, name, calibration)
        if about is not None:
            (tmp / ORIGIN).write_text(json.dumps(dict(about), indent=2) + "\n")
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
