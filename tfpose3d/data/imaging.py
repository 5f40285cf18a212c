"""What a real camera does to an image: defocus and motion blur, sensor noise, low light, colour casts,
vignetting and JPEG compression, each at a rate like that of photos people take."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageFilter


def _motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(3, 10))
    angle = rng.uniform(0, np.pi)
    out = np.zeros_like(image)
    for t in np.linspace(-0.5, 0.5, length):
        dx, dy = int(round(t * length * np.cos(angle))), int(round(t * length * np.sin(angle)))
        out += np.roll(image, (dy, dx), axis=(0, 1))
    return out / length


@functools.lru_cache(maxsize=4)
def _vignette(h: int, w: int) -> np.ndarray:
    """Squared distance from the centre, 0 there and 1 at the corners: (h, w, 1) float32."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (0.5 * (h * h + w * w) / 2))[..., None]


@functools.lru_cache(maxsize=4)
def _noise_field(h: int, w: int) -> np.ndarray:
    """A fixed (2h, 2w, 3) field of unit Gaussian noise; an image's noise is a random window of it.

    Drawing 150,000 normals costs more than the rest of the camera together; a window of a fixed field is
    as random to the network, and the field's fixed seed keeps every process's output the same.
    """
    return np.random.default_rng(2016).standard_normal((2 * h, 2 * w, 3), np.float32)


def _noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    h, w = shape[:2]
    y, x = rng.integers(0, h + 1), rng.integers(0, w + 1)
    return _noise_field(h, w)[y : y + h, x : x + w] * np.float32(rng.choice([-1.0, 1.0]))


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A float (H, W, 3) 0..255 image as a camera might have taken it; returns uint8.

    Example:
        >>> degrade(np.full((8, 8, 3), 128.0), np.random.default_rng(0)).dtype
        dtype('uint8')
    """
    # float32 throughout: a float64 factor would double the cost of every step after it.
    image = np.clip(image, 0, 255).astype(np.float32, copy=False)
    if rng.random() < 0.15:
        image = _motion_blur(image, rng)
    if rng.random() < 0.3:
        # Defocus: a lens's blur is disc-like, and one box pass costs a third of PIL's Gaussian.
        blurred = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.BoxBlur(rng.uniform(0.7, 2.8)))
        image = np.asarray(blurred, np.float32)
    if rng.random() < 0.1:  # low light: darker, flatter, noisier
        image = np.float32(255.0) * (image / np.float32(255.0)) ** np.float32(rng.uniform(1.1, 1.5)) * np.float32(rng.uniform(0.5, 0.8))
        image = image + _noise(image.shape, rng) * np.float32(rng.uniform(4, 12))
    if rng.random() < 0.5:
        image = image * rng.uniform(0.85, 1.15, 3).astype(np.float32)  # white balance off
    if rng.random() < 0.2:
        image = image * (1.0 - np.float32(rng.uniform(0.2, 0.5)) * _vignette(*image.shape[:2]))
    if rng.random() < 0.5:
        image = image + _noise(image.shape, rng) * np.float32(rng.uniform(1, 6))
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=int(rng.integers(30, 92)))
        out = np.asarray(Image.open(buffer))
    return out
