"""Rotation helpers on numpy arrays of 3x3 matrices and unit quaternions (w, x, y, z)."""

from __future__ import annotations

import numpy as np


def unit(v: np.ndarray) -> np.ndarray:
    """`v` (..., 3) scaled to length 1; a zero vector stays zero rather than becoming NaN."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction `a` to direction `b` (..., 3) -> (..., 3, 3)."""
    a, b = unit(np.asarray(a, np.float64)), unit(np.asarray(b, np.float64))
    axis = np.cross(a, b)
    c = np.sum(a * b, axis=-1)[..., None, None]
    # Opposite directions have no unique smallest rotation: turn half way about any perpendicular axis.
    opposite = c[..., 0, 0] < -1 + 1e-9
    if np.any(opposite):
        other = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        axis = np.where(opposite[..., None], unit(np.cross(a, other)), axis)
    k = np.zeros(axis.shape + (3,))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    eye = np.eye(3)
    rot = eye + k + k @ k / np.maximum(1.0 + c, 1e-12)
    return np.where(opposite[..., None, None], 2.0 * np.einsum("...i,...j->...ij", axis, axis) - eye, rot)


def axis_angle(axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """The rotation by `angle` radians about `axis` (..., 3) -> (..., 3, 3), right-handed (Rodrigues)."""
    x, y, z = np.moveaxis(unit(np.asarray(axis, np.float64)), -1, 0)
    c, s = np.cos(angle), np.sin(angle)
    t = 1 - c
    return np.stack([
        np.stack([c + x * x * t, x * y * t - z * s, x * z * t + y * s], -1),
        np.stack([y * x * t + z * s, c + y * y * t, y * z * t - x * s], -1),
        np.stack([z * x * t - y * s, z * y * t + x * s, c + z * z * t], -1),
    ], -2)


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """The rotation closest to `m` (..., 3, 3) in the Frobenius norm (a mean of rotations projected back)."""
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))[..., None]
    return u @ (vt * np.concatenate([np.ones_like(d), np.ones_like(d), d], -1)[..., :, None])


def to_quaternion(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions (..., 4), w >= 0."""
    m = np.asarray(m, np.float64)
    t = np.stack([
        1 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
        1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
    ], -1)
    k = np.argmax(t, axis=-1)
    # Each row: the quaternion computed from its largest component, the numerically safe choice.
    cands = np.stack([
        np.stack([t[..., 0], m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], t[..., 1], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], t[..., 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], t[..., 3]], -1),
    ], -2)
    q = np.take_along_axis(cands, k[..., None, None], -2)[..., 0, :]
    q = unit(q)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def from_quaternion(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) (w, x, y, z) to rotation matrices (..., 3, 3)."""
    w, x, y, z = np.moveaxis(unit(np.asarray(q, np.float64)), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)
