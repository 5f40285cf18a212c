"""What a real camera does to an image: defocus and motion blur, sensor noise, low light, colour casts,
vignetting and JPEG compression, each at a rate like that of photos people take."""

from __future__ import annotations

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


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A float (H, W, 3) 0..255 image as a camera might have taken it; returns uint8.

    Example:
        >>> degrade(np.full((8, 8, 3), 128.0), np.random.default_rng(0)).dtype
        dtype('uint8')
    """
    image = np.clip(image, 0, 255)
    if rng.random() < 0.15:
        image = _motion_blur(image, rng)
    if rng.random() < 0.3:
        blurred = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.8)))
        image = np.asarray(blurred, np.float32)
    if rng.random() < 0.1:  # low light: darker, flatter, noisier
        image = 255.0 * (image / 255.0) ** rng.uniform(1.1, 1.5) * rng.uniform(0.5, 0.8)
        image = image + rng.standard_normal(image.shape, np.float32) * rng.uniform(4, 12)
    if rng.random() < 0.5:
        image = image * rng.uniform(0.85, 1.15, 3)  # white balance off
    if rng.random() < 0.2:
        h, w = image.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        r2 = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (0.5 * (h * h + w * w) / 2)
        image = image * (1.0 - rng.uniform(0.2, 0.5) * r2)[..., None]
    if rng.random() < 0.5:
        image = image + rng.standard_normal(image.shape, np.float32) * rng.uniform(1, 6)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=int(rng.integers(30, 92)))
        out = np.asarray(Image.open(buffer))
    return out
