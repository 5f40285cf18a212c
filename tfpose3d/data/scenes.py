"""What stands behind a rendered person: a crop of a real photograph, or a procedural room.

The photographs ship in `scene_photos.npz` (JPEG bytes, converted by
`make_scene_asset` with each one's licence and attribution in SCENES.md);
a background is a random crop of one, at a random scale, maybe mirrored.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image

ASSET = Path(__file__).with_name("scene_photos.npz")


@functools.lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """The shipped photographs, decoded once per process: uint8 (H, W, 3) each."""
    with np.load(ASSET, allow_pickle=False) as data:
        blob, ends = data["jpeg"], data["ends"]
    starts = np.concatenate([[0], ends[:-1]])
    return tuple(np.asarray(Image.open(io.BytesIO(blob[a:b].tobytes())).convert("RGB")) for a, b in zip(starts, ends))


def photo_crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A square crop of a random shipped photograph, between a fifth and all of its shorter side."""
    pool = photos()
    photo = pool[rng.integers(len(pool))]
    h, w = photo.shape[:2]
    side = int(min(h, w) * rng.uniform(0.2, 1.0))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    # reducing_gap: a crop over twice the output side is box-reduced first, then bilinear (as smooth, less work);
    # most crops are smaller and resize as before.
    crop = Image.fromarray(photo[y : y + side, x : x + side]).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = np.asarray(crop, np.float32)
    return out[:, ::-1] if rng.random() < 0.5 else out


def procedural(rng: np.random.Generator, size: int) -> np.ndarray:
    """A room-like backdrop: wall and floor colours split at a horizon, boxes, and texture noise."""
    wall, floor = rng.uniform(20, 235, size=(2, 3))
    horizon = rng.uniform(0.3, 0.9) * size
    rows = np.arange(size, dtype=np.float32)[:, None, None]
    shade = 1.0 + rng.uniform(-0.3, 0.3) * (rows / size - 0.5)
    # One column, then widened: the whole image in float32 costs a fifth of building it per pixel in float64.
    column = (np.where(rows < horizon, wall, floor) * shade).astype(np.float32)
    img = np.repeat(column, size, axis=1)
    for _ in range(rng.integers(0, 5)):
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 10, size // 2, 2)
        img[y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 255, 3)
    coarse = rng.normal(0, rng.uniform(3, 20), size=(size // 8 + 1, size // 8 + 1, 1)).astype(np.float32)
    img += np.repeat(np.repeat(coarse, 8, 0), 8, 1)[:size, :size]
    return img


def background(rng: np.random.Generator, size: int, photo_rate: float) -> np.ndarray:
    """A float32 (size, size, 3) backdrop: a photograph with probability `photo_rate`, else procedural."""
    return photo_crop(rng, size) if rng.random() < photo_rate else procedural(rng, size)


def occluders(rng: np.random.Generator, size: int, lo: np.ndarray, hi: np.ndarray, photo_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """One to three things in front of a person whose joints span the pixels [lo, hi].

    Boxes, discs and polygons, each overlapping the person's box and filled with
    a photograph's texture or a flat colour. Returns their mask (size, size) bool
    and their colours (size, size, 3) float32.
    """
    from PIL import ImageDraw

    mask_image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask_image)
    span = np.maximum(hi - lo, 1.0)
    for _ in range(rng.integers(1, 4)):
        centre = lo + span * rng.uniform(-0.1, 1.1, 2)
        half = span * rng.uniform(0.08, 0.3, 2)
        shape = rng.integers(3)
        if shape == 0:
            draw.rectangle([*(centre - half), *(centre + half)], fill=255)
        elif shape == 1:
            draw.ellipse([*(centre - half), *(centre + half)], fill=255)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 7)))
            radius = half * rng.uniform(0.6, 1.4, (len(angles), 1))
            points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
            draw.polygon([tuple(p) for p in points], fill=255)
    fill = background(rng, size, photo_rate) * rng.uniform(0.6, 1.1) if rng.random() < 0.7 else \
        np.broadcast_to(rng.uniform(0, 255, 3).astype(np.float32), (size, size, 3))
    return np.asarray(mask_image) > 127, fill
