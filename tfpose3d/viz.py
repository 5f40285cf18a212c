"""Pictures: 2D skeletons over images, sample grids."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from tfpose3d import skeleton

LEFT, RIGHT, CENTRE = (255, 64, 64), (64, 160, 255), (255, 255, 80)


def _side_colour(joint: int) -> tuple[int, int, int]:
    name = skeleton.JOINT_NAMES[joint]
    return LEFT if name.startswith("l_") else RIGHT if name.startswith("r_") else CENTRE


def draw_skeleton_2d(image: np.ndarray, joints_2d: np.ndarray, width: int = 2) -> Image.Image:
    """The image with bones drawn (subject's left red, right blue, centre yellow)."""
    im = Image.fromarray(np.asarray(image, np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(im)
    for parent, child in skeleton.BONES:
        draw.line([tuple(map(float, joints_2d[parent])), tuple(map(float, joints_2d[child]))], fill=_side_colour(child), width=width)
    for j, (x, y) in enumerate(joints_2d):
        draw.ellipse([x - width, y - width, x + width, y + width], fill=_side_colour(j))
    return im


def grid(tiles: list[Image.Image], columns: int) -> Image.Image:
    """Tiles of equal size in a grid, row-major."""
    w, h = tiles[0].size
    rows = -(-len(tiles) // columns)
    out = Image.new("RGB", (columns * w, rows * h), (255, 255, 255))
    for i, tile in enumerate(tiles):
        out.paste(tile, ((i % columns) * w, (i // columns) * h))
    return out
