"""Image files: reading any image as RGB with errors that name the file, and encoding rendered images."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tfpose3d.data.camera import Region


# A phone's 200-megapixel photo is 600 MB as RGB; larger is a scan or a mistake, and decoding it could exhaust
# memory.
MAX_PIXELS = 250_000_000


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file, turned as its EXIF orientation says (as a photo viewer shows it);
    FileNotFoundError or ValueError naming the file and the problem."""
    with _opened(Path(path)) as im:
        # A camera's orientation tag says how a viewer turns the stored pixels: read them as shown.
        return np.asarray(_eight_bit(ImageOps.exif_transpose(im), im.format, path).convert("RGB"))


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file as `read_rgb` reads it, from its header alone; the same errors."""
    with _opened(Path(path)) as im:
        w, h = im.size
        return (h, w) if im.getexif().get(_ORIENTATION, 1) in _QUARTER_TURNS else (w, h)


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """The image file open, its size checked; Pillow failing to read it, here or in the block, is a ValueError
    naming the file."""
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not an image; pass its images one by one")
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(f"{path}: a link to {os.readlink(path)}, which does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes), not an image")
    try:
        with _pixel_limit(), Image.open(path) as im:
            w, h = im.size  # read from the header, before any pixel is decoded
            if w * h > MAX_PIXELS:
                raise ValueError(f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, over the {MAX_PIXELS // 1_000_000} this reads; "
                                 "downscale it first")
            yield im
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        # Pillow says "image file is truncated" for a file cut short (a copy or download interrupted).
        reason = "the file is cut short" if "truncated" in str(err) else err.__class__.__name__
        raise ValueError(f"{path}: not a readable image ({reason})") from None


@contextlib.contextmanager
def _pixel_limit() -> Iterator[None]:
    """Pillow's own guard against decompression bombs (a warning about a "DOS attack" past 89 megapixels, an
    error past 179) raised to `MAX_PIXELS` for the block, whose limit `_opened` tells in its own words."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


_ORIENTATION = 0x0112  # EXIF's orientation tag; 5 to 8 turn the picture by a quarter
_QUARTER_TURNS = (5, 6, 7, 8)


def _eight_bit(im: Image.Image, file_format: str | None, path: Path) -> Image.Image:
    """`im` with 8 bits a channel. Pillow's RGB conversion clips a 16-bit grey image's values at 255 (nearly
    all white), so those are scaled; 32-bit and floating-point pixels declare no range to scale from."""
    # PNG and PGM hold at most 16 bits a sample (Pillow scales a PGM's to 16): Pillow opens them as "I".
    if im.mode.startswith("I;16") or (im.mode == "I" and file_format in ("PNG", "PPM")):
        return Image.fromarray(np.round(np.asarray(im, np.float64) / 257.0).clip(0, 255).astype(np.uint8))
    if im.mode in ("I", "F"):
        kind = "32-bit integer" if im.mode == "I" else "floating-point"
        raise ValueError(f"{path}: {kind} grey pixels have no fixed range to read as brightness; "
                         "save it with 8 or 16 bits a channel")
    return im


def crop_region(image: np.ndarray, region: Region, size: int) -> np.ndarray:
    """The square `region` of `image` (turned upright by its angle), resized to `size` x `size`; black outside.

    Image pixel p lands at `region.to_crop(size) @ [*p, 1]` in the crop.

    Example:
        >>> image = np.zeros((100, 200, 3), np.uint8); image[20:40, 60:80] = 255
        >>> crop = crop_region(image, Region((70.0, 30.0), 40.0), 20)
        >>> int(crop[5:15, 5:15].min()), int(crop[:4].max())
        (255, 0)
    """
    to_crop = region.to_crop(size)
    picture = Image.fromarray(np.asarray(image, np.uint8))
    # Bilinear sampling does not filter: shrinking several times over first averages whole blocks of pixels,
    # or the crop aliases.
    factor = int(region.side / size)
    if factor > 1:
        picture = picture.reduce(factor)
        to_crop = to_crop @ np.diag([factor, factor, 1.0])
    inverse = np.linalg.inv(np.vstack([to_crop, [0.0, 0.0, 1.0]]))[:2]
    crop = picture.transform((size, size), Image.Transform.AFFINE, tuple(inverse.ravel()), Image.Resampling.BILINEAR)
    return np.asarray(crop)


def decode(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB of encoded image bytes (JPEG, PNG, ...)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def encode(image: np.ndarray) -> bytes:
    """JPEG at quality 95: a fifth of PNG's time on rendered images with noise and texture, a fraction of its
    size, and below what the camera faults of the renderer's looks already add."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()
