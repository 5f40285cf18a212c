"""Camera geometry in one place: Human3.6M intrinsics, look-at, projection, square crops.

The renderer and the Human3.6M loader both use it; pixels are (x, y) with the
origin at the top-left corner of the top-left pixel, camera axes x right,
y down, z forward, millimetres.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# The four Human3.6M cameras' intrinsics (fx, fy, cx, cy, width, height); the
# numbers are the public calibration, identical for every subject.
H36M_INTRINSICS = {
    "54138969": (1145.0494, 1143.7811, 512.5415, 515.4515, 1000, 1002),
    "55011271": (1149.6757, 1147.5916, 508.8486, 508.0649, 1000, 1000),
    "58860488": (1149.1407, 1148.7990, 519.8158, 501.4027, 1000, 1000),
    "60457274": (1145.5113, 1144.7739, 514.9682, 501.8820, 1000, 1002),
}


@dataclasses.dataclass(frozen=True)
class Camera:
    """A pinhole camera in a Y-up world: `rotation` (world -> camera rows: right, down, forward), mm."""

    position: np.ndarray
    rotation: np.ndarray
    intrinsics: np.ndarray  # fx, fy, cx, cy of the full frame

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.position) @ self.rotation.T


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World->camera rotation (rows: right, down, forward) for a Y-up world."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) with (fx, fy, cx, cy) -> pixels (..., 2)."""
    fx, fy, cx, cy = intrinsics
    return np.stack([fx * points[..., 0] / points[..., 2] + cx, fy * points[..., 1] / points[..., 2] + cy], -1)


def square_crop(lo: np.ndarray, hi: np.ndarray, margin: float, size: int, intrinsics) -> tuple[np.ndarray, float, np.ndarray]:
    """A square around the box [lo, hi] (pixels), `margin` times its longer side, scaled to `size`.

    Returns the crop's top-left corner, the scale (crop pixels per image pixel)
    and the crop's intrinsics (fx, fy, cx, cy), so that projecting with them
    lands on crop pixels.
    """
    side = float(np.max(hi - lo)) * margin
    corner = (np.asarray(lo) + np.asarray(hi)) / 2 - side / 2
    scale = size / side
    fx, fy, cx, cy = intrinsics
    return corner, scale, np.array([fx * scale, fy * scale, (cx - corner[0]) * scale, (cy - corner[1]) * scale])
