"""A z-buffered triangle rasteriser in numba: per pixel, the visible face and its perspective-correct weights.

Pixels are sampled at their centres (x + 0.5, y + 0.5), the convention of
`camera.project`, so a vertex projected there lands where it is drawn.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit normals (V, 3) of a triangle mesh, faces wound counter-clockwise from outside."""
    normals = np.zeros_like(vertices)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        e1 = vertices[b] - vertices[a]
        e2 = vertices[c] - vertices[a]
        n = np.cross(e1, e2)
        normals[a] += n
        normals[b] += n
        normals[c] += n
    for v in range(normals.shape[0]):
        length = np.sqrt((normals[v] ** 2).sum())
        if length > 0:
            normals[v] /= length
    return normals


@numba.njit(cache=True, fastmath=True)
def rasterize(xy: np.ndarray, z: np.ndarray, faces: np.ndarray,
              depth: np.ndarray, face_id: np.ndarray, weights: np.ndarray) -> None:
    """Draw triangles where nearer than `depth` (H, W): the visible face and its weights at each pixel.

    A deferred rasteriser: it writes, in place, `depth`, `face_id` (H, W) (the face
    drawn, else left as it was: start it at -1) and `weights` (H, W, 3), the
    perspective-correct barycentric weights of that face's corners, with which
    any per-vertex attribute (colour, normal, rest position) is interpolated.

    Args:
        xy: (V, 2) pixel coordinates; z: (V,) depth along the optical axis (> 1 to be drawn).
        faces: (F, 3) vertex indices.

    Example:
        >>> depth, face = np.full((4, 4), np.inf, np.float32), np.full((4, 4), -1, np.int32)
        >>> rasterize(np.array([[0, 0], [4, 0], [0, 4]], np.float32), np.full(3, 10.0, np.float32),
        ...           np.array([[0, 1, 2]]), depth, face, np.zeros((4, 4, 3), np.float32))
        >>> int((face == 0).sum())
        10
    """
    height, width = depth.shape
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        if z[a] <= 1.0 or z[b] <= 1.0 or z[c] <= 1.0:
            continue
        x0, y0, x1, y1, x2, y2 = xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[c, 0], xy[c, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-9:
            continue
        lo_x = max(int(np.floor(min(x0, x1, x2) - 0.5)), 0)
        hi_x = min(int(np.ceil(max(x0, x1, x2) - 0.5)), width - 1)
        lo_y = max(int(np.floor(min(y0, y1, y2) - 0.5)), 0)
        hi_y = min(int(np.ceil(max(y0, y1, y2) - 0.5)), height - 1)
        iz0, iz1, iz2 = 1.0 / z[a], 1.0 / z[b], 1.0 / z[c]
        for py in range(lo_y, hi_y + 1):
            sy = py + 0.5
            for px in range(lo_x, hi_x + 1):
                sx = px + 0.5
                w0 = ((x1 - sx) * (y2 - sy) - (x2 - sx) * (y1 - sy)) / area
                w1 = ((x2 - sx) * (y0 - sy) - (x0 - sx) * (y2 - sy)) / area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                # Screen-space weights over 1/z make depth and attributes perspective-correct.
                inv = w0 * iz0 + w1 * iz1 + w2 * iz2
                d = 1.0 / inv
                if d < depth[py, px]:
                    depth[py, px] = d
                    face_id[py, px] = f
                    weights[py, px, 0] = w0 * iz0 * d
                    weights[py, px, 1] = w1 * iz1 * d
                    weights[py, px, 2] = w2 * iz2 * d


def interpolate(attribute: np.ndarray, faces: np.ndarray, face_id: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A per-vertex attribute (V, D) at the drawn pixels `face_id >= 0`: (number of those pixels, D)."""
    drawn = face_id >= 0
    corners = attribute[faces[face_id[drawn]]]  # (P, 3, D)
    return np.einsum("pk,pkd->pd", weights[drawn], corners)
