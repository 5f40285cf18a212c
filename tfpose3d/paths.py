"""Output paths, checked before anything is written: a run, an export, pictures or a video that cannot be
written should fail with its flag named, not half way with the operating system's message."""

from __future__ import annotations

import os
from pathlib import Path


def writable(path: str | os.PathLike, flag: str, folder: bool = True) -> Path:
    """`path` as a folder to write into (`folder`) or a file to write; ValueError naming `flag` where the path,
    or a folder above it, is a file, or where a file would be written over a folder.

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
            break
    if not folder and path.is_dir():
        raise ValueError(f"{flag} {path} is a folder")
    if not folder and path.is_symlink() and not path.exists():
        raise ValueError(f"{flag} {path} is a link to nothing")
    return path
