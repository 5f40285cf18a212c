"""Data sources behind one interface: `open_source(spec)` -> a `Source` with `.check()` and `.samples()`.

A spec is one of
    None or "mocap:NAME"   a motion set (shipped name such as "bandai-namco", or a .npz) rendered once
                           into the data root and reused: the default, on the shipped motion capture;
    "h36m:ROOT"            Human3.6M in the extracted-frames layout (`tfpose3d.data.h36m`);
    a folder               rendered TFRecords from `tfpose3d data render`: one dataset, or a folder
                           holding `train/`, `test/` and optionally `val/` datasets.

Splits: "train"; "test", held-out clips, for the figures; "val", a further draw of the held-out clips (other
frames, cameras, bodies and scenes) on which training chooses its model (best checkpoint, plateau), so the
test split never takes part in training.

Every source yields samples in the form `pipeline.sample_spec` describes, so
training, evaluation and the notebooks never look at where data came from.
A new format is one class (subclass `Source`, constructor `(target, options)`)
plus one row in `SOURCES`.
"""

from __future__ import annotations

import abc
import fcntl
import functools
import hashlib
import importlib
import os
from pathlib import Path
from typing import Sequence

import tensorflow as tf

from tfpose3d.data import mocap, pipeline, records, render
from tfpose3d.data.options import RenderOptions, split_seed
from tfpose3d.data.render import SPLITS
DEFAULT_SPEC = "mocap:bandai-namco"


class Source(abc.ABC):
    """Where samples come from.

    Args:
        target: the spec without its scheme (a path, a name).
        options: render options (used by sources that render on demand).
    """

    scheme = ""  # the spec's prefix: "h36m" for "h36m:ROOT"; empty for plain folders

    def __init__(self, target: str, options: RenderOptions = RenderOptions()):
        self.target = target
        self.options = options

    @property
    def spec(self) -> str:
        return f"{self.scheme}:{self.target}" if self.scheme else self.target

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

    @abc.abstractmethod
    def check(self, splits: Sequence[str] = SPLITS) -> None:
        """Fail early, naming what is missing or broken; make on-demand data ready."""

    def validation_split(self) -> str:
        """The split training validates on: "val" where this source has one."""
        return "val"

    def records_folder(self) -> Path | None:
        """The rendered TFRecords this source reads, as an absolute path, so that a run finds its own images again
        from any working folder; None for a source of another format."""
        return None

    @abc.abstractmethod
    def samples(self, split: str, image_size: int, shuffle: bool = False, seed: int = 0,
                cache: bool = False) -> tf.data.Dataset:
        """Samples of `split`, resized to `image_size`, as `pipeline.sample_spec` describes."""


class RecordsSource(Source):
    """Rendered TFRecords: one dataset folder, or a folder holding `train/`, `test/` and optionally `val/`."""

    def dataset_dir(self, split: str) -> Path:
        render.check_split(split)
        path = Path(self.target)
        if (path / records.MANIFEST).is_file():
            return path
        if (path / split / records.MANIFEST).is_file():
            return path / split
        if path.is_file():
            raise ValueError(f"{path} is a file; --data takes a rendered dataset folder (or one holding train/ and test/)")
        raise FileNotFoundError(f"{path}: no {records.MANIFEST} here or in {split}/; render one with `tfpose3d data render`")

    def check(self, splits: Sequence[str] = SPLITS) -> None:
        for split in splits:
            records.verify(self.dataset_dir(split))

    def validation_split(self) -> str:
        path = Path(self.target)
        if (path / records.MANIFEST).is_file():
            raise ValueError(f"{path} is one dataset folder (its split: {records.read_manifest(path).get('split')}); "
                             "training on it would validate on its own images: --data takes a folder holding train/ "
                             "and test/ (and val/), each rendered by `tfpose3d data render --split`")
        # Folders rendered before the val split existed hold train/ and test/ only.
        return "val" if (path / "val" / records.MANIFEST).is_file() else "test"

    def records_folder(self) -> Path:
        return Path(self.target).resolve()

    def samples(self, split, image_size, shuffle=False, seed=0, cache=False):
        return pipeline.records_dataset(self.dataset_dir(split), image_size, shuffle=shuffle, seed=seed, cache=cache)


@functools.lru_cache(maxsize=16)
def _content_tag(path: str, modified_ns: int, size: int) -> str:
    """Eight hex digits of a file's SHA-256 (the file's time and size key the cache, so an edited file is read again)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:8]


class MocapSource(Source):
    """A motion set rendered once into `<root>/<name>-<renderer>-<look>-<train>-<test>-s<seed>/{train,val,test}`, then
    reused; val has as many images as test. A shipped set's name is its own; a .npz file's is its stem and eight
    hex digits of its content, so that two sets of one file name, or a file imported again, never share renders."""

    scheme = "mocap"

    @property
    def folder(self) -> Path:
        o = self.options
        root = Path(o.root or os.environ.get("TFPOSE3D_DATA", "data"))
        path = Path(self.target)
        name = path.stem
        if self.target not in mocap.SHIPPED and path.is_file():
            stat = path.stat()
            name = f"{path.stem}-{_content_tag(str(path.resolve()), stat.st_mtime_ns, stat.st_size)}"
        return root / f"{name}-{render.VERSION}-{o.look}-{o.train_images}-{o.test_images}-s{o.seed}"

    def check(self, splits: Sequence[str] = SPLITS) -> None:
        for split in splits:
            render.check_split(split)
        missing = [s for s in splits if not (self.folder / s / records.MANIFEST).is_file()]
        if missing:
            mocap.load_motion(self.target)  # names an unknown motion set (or look) before anything is written
            render.look_named(self.options.look)
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            # Processes sharing the folder (the workers of one run) render it once: the first to take the
            # lock renders, the others wait for it and then find the data there.
            with open(self.folder.parent / f".{self.folder.name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                for split in missing:
                    self._render(split)
        RecordsSource(str(self.folder)).check(splits)

    def _render(self, split: str) -> None:
        out = self.folder / split
        if (out / records.MANIFEST).is_file():
            return
        count = self.options.train_images if split == "train" else self.options.test_images
        print(f"Rendering {count} {split} images of {self.target!r} to {out} ...", flush=True)
        records.write_rendered(self.target, out, count, split_seed(self.options.seed, split), split,
                               look=self.options.look)

    def records_folder(self) -> Path:
        return self.folder.resolve()

    def samples(self, split, image_size, shuffle=False, seed=0, cache=False):
        return RecordsSource(str(self.folder)).samples(split, image_size, shuffle, seed, cache)


# scheme -> "module:class"; imported when used, so a format's dependencies load only for its users.
SOURCES: dict[str, str] = {
    "mocap": "tfpose3d.data.sources:MocapSource",
    "h36m": "tfpose3d.data.h36m:H36MSource",
}


def open_source(spec: str | os.PathLike | None = None, options: RenderOptions = RenderOptions()) -> Source:
    """The source a spec names (see the module docstring); nothing is read until `check` or `samples`."""
    spec = DEFAULT_SPEC if spec is None else str(spec)
    scheme, sep, target = spec.partition(":")
    if sep and scheme in SOURCES:
        if not target:
            raise ValueError(f"data spec {spec!r} names no {scheme} target")
        module, name = SOURCES[scheme].split(":")
        return getattr(importlib.import_module(module), name)(target, options)
    if not spec:
        raise ValueError("empty data spec")
    return RecordsSource(spec, options)
