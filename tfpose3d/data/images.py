"""Image files: reading any image as RGB with errors that name the file, and PNG encoding."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file; FileNotFoundError or ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable image ({err.__class__.__name__})") from None


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Level 1: PNG stays lossless and encoding stays a small part of render time.
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
