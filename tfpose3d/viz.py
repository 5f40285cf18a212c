"""Pictures: 2D skeletons over images, sample grids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from tfpose3d import skeleton

LEFT, RIGHT, CENTRE = (255, 64, 64), (64, 160, 255), (255, 255, 80)
# Left and right are the person's own, so that a person read mirrored can be told from a picture.
SIDES = "the person's left red, right blue, centre yellow"
CAPTION_BAND = 16  # pixels: one line of Pillow's default font


def _side_colour(joint: int) -> tuple[int, int, int]:
    name = skeleton.JOINT_NAMES[joint]
    return LEFT if name.startswith("l_") else RIGHT if name.startswith("r_") else CENTRE


def draw_skeleton_2d(image: np.ndarray, joints_2d: np.ndarray, width: int = 2, truth: np.ndarray | None = None) -> Image.Image:
    """The image with bones drawn (subject's left red, right blue, centre yellow).

    `truth` (17, 2), NaN where unknown: the true joints as white rings, to compare with.
    """
    im = Image.fromarray(np.asarray(image, np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(im)
    if truth is not None:
        for x, y in truth[np.isfinite(truth).all(1)]:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=(255, 255, 255), width=1)
    for parent, child in skeleton.BONES:
        draw.line([tuple(map(float, joints_2d[parent])), tuple(map(float, joints_2d[child]))], fill=_side_colour(child), width=width)
    for j, (x, y) in enumerate(joints_2d):
        draw.ellipse([x - width, y - width, x + width, y + width], fill=_side_colour(j))
    return im


def grid(tiles: list[Image.Image], columns: int, caption: str = "") -> Image.Image:
    """Tiles of equal size in a grid, row-major, with `caption` (what the colours mean) on a white band below.

    Example:
        >>> tile = Image.new("RGB", (40, 30))
        >>> grid([tile] * 5, columns=2).size, grid([tile] * 5, columns=2, caption=SIDES).size
        ((80, 90), (80, 106))
    """
    w, h = tiles[0].size
    rows = -(-len(tiles) // columns)
    band = CAPTION_BAND if caption else 0
    out = Image.new("RGB", (columns * w, rows * h + band), (255, 255, 255))
    for i, tile in enumerate(tiles):
        out.paste(tile, ((i % columns) * w, (i // columns) * h))
    if caption:
        ImageDraw.Draw(out).text((4, rows * h + 3), caption, fill=(0, 0, 0))
    return out


def plot_skeleton_3d(ax: Any, pose: np.ndarray) -> None:
    """Draw a camera-frame pose (x right, y down, z forward) on a matplotlib 3D axis, upright."""
    colours = {LEFT: "tab:red", RIGHT: "tab:blue", CENTRE: "goldenrod"}
    for parent, child in skeleton.BONES:
        a, b = pose[parent], pose[child]
        # Plot (x, z, -y): depth into the page, up is up.
        ax.plot([a[0], b[0]], [a[2], b[2]], [-a[1], -b[1]], color=colours[_side_colour(child)], linewidth=2)
    r = 800  # mm: a standing adult fits
    ax.set_xlim(-r, r), ax.set_ylim(-r, r), ax.set_zlim(-r, r)
    ticks = [-500, 0, 500]
    ax.set_xticks(ticks), ax.set_yticks(ticks), ax.set_zticks(ticks)
    ax.tick_params(labelsize=6, pad=0)
    ax.set_xlabel("x (mm)", fontsize=7), ax.set_ylabel("depth (mm)", fontsize=7), ax.set_zlabel("up (mm)", fontsize=7)
    # Seen from a little above and to the right of the camera: the photo's left-right stays left-right.
    ax.view_init(elev=12, azim=-72)


def pose_figure(image: np.ndarray, joints_2d: np.ndarray, pose_3d: np.ndarray, path: str | Path) -> None:
    """PNG: the image with its 2D skeleton, and the 3D skeleton beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 4))
    try:  # closed also when the file cannot be written: a loop over many photos would keep every figure open
        ax = fig.add_subplot(1, 2, 1)
        ax.imshow(draw_skeleton_2d(image, joints_2d))
        ax.axis("off")
        ax = fig.add_subplot(1, 2, 2, projection="3d")
        plot_skeleton_3d(ax, pose_3d - pose_3d[skeleton.PELVIS])
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        fig.text(0.5, 0.02, SIDES, ha="center", fontsize=8)
        fig.savefig(path, dpi=80)
    finally:
        plt.close(fig)


def skeleton_3d_panel(pose: np.ndarray, size: int, azimuth_deg: float = 30.0, elevation_deg: float = 15.0,
                      extent_mm: float = 2200.0) -> Image.Image:
    """A camera-frame pose (x right, y down, z forward; mm) drawn upright from a fixed viewpoint, root at the
    centre, on a dark square `size` pixels wide that spans `extent_mm`: the same scale in every frame of a video."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    turn = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(e), np.sin(e)], [0, -np.sin(e), np.cos(e)]])
    seen = (pose - pose[skeleton.PELVIS]) @ turn.T @ tilt.T
    xy = seen[:, :2] * (size / extent_mm) + size / 2
    im = Image.new("RGB", (size, size), (24, 24, 32))
    draw = ImageDraw.Draw(im)
    floor = size / 2 + 900 * size / extent_mm  # about where the feet of a standing adult are
    draw.line([(size * 0.1, floor), (size * 0.9, floor)], fill=(70, 70, 80), width=1)
    # Far bones first, so near ones are drawn over them.
    for parent, child in sorted(skeleton.BONES, key=lambda bone: -(seen[bone[0], 2] + seen[bone[1], 2])):
        draw.line([tuple(map(float, xy[parent])), tuple(map(float, xy[child]))], fill=_side_colour(child), width=3)
    return im


def video_frame(image: np.ndarray, joints_2d: np.ndarray | None, pose_3d: np.ndarray | None, height: int = 360) -> np.ndarray:
    """One frame of a pose video: the frame with its 2D skeleton, scaled to `height`, and the 3D skeleton
    beside it; a frame without a person shows the frame alone beside an empty panel. (H, W, 3) uint8,
    both sides even (what video encoders want)."""
    scale = height / image.shape[0]
    width = max(2, int(round(image.shape[1] * scale / 2)) * 2)
    left = Image.fromarray(np.asarray(image, np.uint8))
    if joints_2d is not None:
        left = draw_skeleton_2d(image, joints_2d, width=max(2, int(2 / scale)))
    left = left.resize((width, height), Image.Resampling.BILINEAR)
    right = skeleton_3d_panel(pose_3d, height) if pose_3d is not None else Image.new("RGB", (height, height), (24, 24, 32))
    out = Image.new("RGB", (width + height, height))
    out.paste(left, (0, 0))
    out.paste(right, (width, 0))
    return np.asarray(out)
