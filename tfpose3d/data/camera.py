"""Camera geometry in one place: Human3.6M intrinsics, look-at, projection, square crops.

The renderer and the Human3.6M loader both use it; pixels are (x, y) with the
origin at the top-left corner of the top-left pixel, camera axes x right,
y down, z forward, millimetres.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tfpose3d import skeleton

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


def square_crop(lo: np.ndarray, hi: np.ndarray, margin: float, size: int, intrinsics: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
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


@dataclasses.dataclass(frozen=True)
class Region:
    """A square of the image to crop a person from: its centre (pixels), side (pixels) and its rotation in the
    image (radians, clockwise on screen, as MediaPipe's rectangles), chosen so that the person is upright in it."""

    centre: tuple[float, float]
    side: float
    angle: float = 0.0

    def to_crop(self, size: int) -> np.ndarray:
        """The 2x3 affine map from image pixels to the pixels of a `size` crop of this region.

        Example:
            >>> Region((50.0, 40.0), 20.0).to_crop(10) @ [50.0, 40.0, 1.0]
            array([5., 5.])
        """
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = size / self.side
        # The crop's x axis runs along (c, s) in the image, its y axis along (-s, c).
        rotation = k * np.array([[c, s], [-s, c]])
        return np.concatenate([rotation, (size / 2 - rotation @ np.asarray(self.centre))[:, None]], 1)

    def into_crop(self, points: np.ndarray, size: int) -> np.ndarray:
        """Points (..., 2) in the image's pixels, in the pixels of a `size` crop."""
        affine = self.to_crop(size)
        return np.asarray(points, np.float64) @ affine[:, :2].T + affine[:, 2]

    def from_crop(self, points: np.ndarray, size: int) -> np.ndarray:
        """Points (..., 2) in the pixels of a `size` crop, back in the image's pixels."""
        affine = self.to_crop(size)
        return (np.asarray(points, np.float64) - affine[:, 2]) @ np.linalg.inv(affine[:, :2]).T

    def holds(self, points: np.ndarray) -> np.ndarray:
        """(N,) whether each point (N, 2), image pixels, lies inside the square."""
        inside = self.into_crop(points, 1)
        return np.all((inside >= 0) & (inside <= 1), axis=-1)

    @classmethod
    def around(cls, points: np.ndarray, margin: float, angle: float = 0.0) -> "Region":
        """The square `margin` times the longer side of the points' box in a frame turned by `angle`, on its
        centre: the framing the renderer gives a body, turned upright."""
        points = np.asarray(points, np.float64)
        points = points[np.isfinite(points).all(1)]
        upright = cls((0.0, 0.0), 1.0, angle).to_crop(1)[:, :2]
        turned = points @ upright.T
        lo, hi = turned.min(0), turned.max(0)
        centre = np.linalg.solve(upright, (lo + hi) / 2)
        return cls((float(centre[0]), float(centre[1])), float(max(np.max(hi - lo), 1.0) * margin), float(angle))


def upright_angle(lower: np.ndarray, upper: np.ndarray) -> float:
    """The crop angle that makes the direction from `lower` to `upper` (image pixels) point straight up.

    Example:
        >>> round(math.degrees(upright_angle(np.array([0.0, 0.0]), np.array([1.0, 0.0]))))
        90
    """
    dx, dy = np.asarray(upper, np.float64) - np.asarray(lower, np.float64)
    # MediaPipe's AlignmentPointsRectsCalculator with a target angle of 90 degrees.
    return float(math.remainder(math.pi / 2 - math.atan2(-dy, dx), 2 * math.pi))


def body_region(joints_2d: np.ndarray, margin: float) -> Region:
    """The square the renderer frames a body with, `margin` times the longer side of the box of the (17, 2)
    joints (NaN where unknown), turned so that the hips-to-shoulders line points up: where both are known.

    Example:
        >>> lying = np.zeros((17, 2)); lying[[1, 4], 0] = 100.0; lying[[11, 14], 0] = 200.0
        >>> round(math.degrees(body_region(lying, 1.5).angle))
        90
    """
    hips, shoulders = skeleton.torso_ends(np.asarray(joints_2d, np.float64))
    angle = upright_angle(hips, shoulders) if np.isfinite([*hips, *shoulders]).all() and np.any(hips != shoulders) else 0.0
    return Region.around(joints_2d, margin, angle)


def turn_3d(points: np.ndarray, region: Region) -> np.ndarray:
    """Camera-frame points (..., 3) seen in an upright crop of `region`, back in the frame of the whole image:
    the crop's turn is a roll of the camera about its optical axis.

    Example:
        >>> (np.round(turn_3d(np.array([0.0, -1.0, 5.0]), Region((0.0, 0.0), 1.0, math.pi / 2)), 6) + 0.0).tolist()
        [1.0, 0.0, 5.0]
    """
    c, s = math.cos(region.angle), math.sin(region.angle)
    # The transpose of the crop's rotation (Region.to_crop) on x and y.
    back = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.asarray(points, np.float64) @ back.T
