"""Image files: reading any image as RGB with errors that name the file, and encoding rendered images."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tfpose3d.data.camera import square_crop


# A 100-megapixel photo is 300 MB as RGB; larger is a scan or a mistake, and decoding it could exhaust memory.
MAX_PIXELS = 100_000_000


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file; FileNotFoundError or ValueError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes), not an image")
    try:
        with Image.open(path) as im:
            w, h = im.size  # read from the header, before any pixel is decoded
            if w * h > MAX_PIXELS:
                raise ValueError(f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, over the {MAX_PIXELS // 1_000_000} this reads; "
                                 "downscale it first")
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: not a readable image ({err.__class__.__name__})") from None


def crop_square(image: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The square `margin` times the longer side of the box [lo, hi] (pixels), centred on it, resized to `size`.

    What lies outside the image is black. Returns the crop (size, size, 3)
    uint8, its top-left corner in the image and its scale (crop pixels per
    image pixel): image = crop / scale + corner.

    Example:
        >>> crop, corner, scale = crop_square(np.zeros((100, 200, 3), np.uint8), np.array([50, 20]), np.array([90, 80]), 1.5, 45)
        >>> crop.shape, corner.tolist(), scale
        ((45, 45, 3), [25.0, 5.0], 0.5)
    """
    if not np.max(np.asarray(hi) - np.asarray(lo)) * margin > 0:
        raise ValueError(f"the box {np.asarray(lo).tolist()}..{np.asarray(hi).tolist()} is empty")
    corner, scale, _ = square_crop(np.asarray(lo, np.float64), np.asarray(hi, np.float64), margin, size, np.zeros(4))
    side = size / scale
    picture = Image.fromarray(np.asarray(image, np.uint8))
    # Image.transform samples the float box exactly (crop() would round it to whole pixels) but does not
    # filter: shrinking several times over first averages whole blocks of pixels, or the crop aliases.
    factor = int(side / size)
    if factor > 1:
        picture = picture.reduce(factor)
    box = tuple(float(v) / max(factor, 1) for v in (*corner, *(corner + side)))
    crop = picture.transform((size, size), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
    return np.asarray(crop), corner, scale


def decode(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB of encoded image bytes (JPEG, PNG, ...)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def encode(image: np.ndarray) -> bytes:
    """JPEG at quality 95: a fifth of PNG's time on rendered images with noise and texture, a fraction of its
    size, and below what the camera faults of the renderer's looks already add."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()
