"""Output paths, checked before anything is written: a run, an export, pictures or a video that cannot be
written should fail with its flag named, not half way with the operating system's message."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def writable(path: str | os.PathLike, flag: str, folder: bool = True) -> Path:
    """`path` as a folder to write into (`folder`) or a file to write; ValueError naming `flag` where the path,
    or a folder above it, is a file, where a file would be written over a folder, or where the nearest folder
    that exists takes nothing new (tried by making an empty folder there and removing it).

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp()); (root / "notes.txt").write_text("x")
        1
        >>> writable(root / "notes.txt" / "run", "--out")
        Traceback (most recent call last):
        ...
        ValueError: --out .../notes.txt/run: .../notes.txt is a file, not a folder
    """
    path = Path(path)
    for above in (path, *path.parents) if folder else path.parents:
        if above.is_symlink() and not above.exists():
            raise ValueError(f"{flag} {path}: {above} is a link to nothing")
        if above.exists():
            if not above.is_dir():
                raise ValueError(f"{flag} {path}: {above} is a file, not a folder" if above != path
                                 else f"{flag} {path} is a file, not a folder")
            if not os.access(above, os.W_OK):  # also a read-only file system, for root too
                raise ValueError(f"{flag} {path}: {above} is not writable")
            try:  # what access() cannot tell: a folder that takes no new entries, such as /proc
                tempfile.TemporaryDirectory(dir=above).cleanup()
            except OSError as err:
                raise ValueError(f"{flag} {path}: nothing can be made in {above} ({err.strerror})") from None
            break
    if not folder and path.is_dir():
        raise ValueError(f"{flag} {path} is a folder")
    if not folder and path.is_symlink() and not path.exists():
        raise ValueError(f"{flag} {path} is a link to nothing")
    return path


def staging_folder(parent: str | os.PathLike, prefix: str) -> Path:
    """A new, empty folder in `parent` to build an output in before it is renamed into place, with the mode
    any folder made there gets (the umask's). `tempfile.mkdtemp` alone makes it private (0700), so the export
    or dataset renamed from it could not be read by TF Serving or a colleague running as another user.

    Example:
        >>> parent = Path(tempfile.mkdtemp())
        >>> (parent / "plain").mkdir()
        >>> staging_folder(parent, ".tmp-").stat().st_mode == (parent / "plain").stat().st_mode
        True
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    return folder
