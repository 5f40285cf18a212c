"""A small software renderer: a 3D pose and a camera to an RGB image of a human body.

The body is a set of tapered capsules (torso halves, limbs, neck, feet) and
spheres (head, hands) with anthropometric radii, drawn with a z-buffer and
Lambert shading, so the image carries occlusion and shading depth cues.
Everything here is numpy; no TensorFlow, so worker processes stay light.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfpose3d import skeleton
from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.data.camera import H36M_INTRINSICS, look_at, project, square_crop

J = skeleton.JOINT_INDEX


@dataclasses.dataclass(frozen=True)
class CameraRange:
    """Where virtual cameras stand, like Human3.6M's around a person in a room.

    Distances in mm on the ground from the pelvis; the camera looks at the pelvis (with jitter).
    """

    distance: tuple[float, float] = (3500.0, 6500.0)
    height: tuple[float, float] = (900.0, 2300.0)
    aim_jitter: float = 150.0
    crop_margin: float = 1.25


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def body_capsules(pose: np.ndarray, up: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float, float, str]]:
    """Capsules (a, b, radius_a, radius_b, material) of a body in pose (17, 3) mm; `up` is world up."""
    p = {name: pose[i] for name, i in J.items()}
    across = p["l_hip"] - p["r_hip"]
    forward = _unit(np.cross(across, p["thorax"] - p["pelvis"]))
    head = p["head"] + 70.0 * _unit(p["head"] - p["neck"])
    caps = [
        (p["pelvis"], p["thorax"], 115.0, 120.0, "shirt"),
        (p["pelvis"] + 0.55 * (p["l_hip"] - p["pelvis"]), p["thorax"] + 0.5 * (p["l_shoulder"] - p["thorax"]), 110.0, 105.0, "shirt"),
        (p["pelvis"] + 0.55 * (p["r_hip"] - p["pelvis"]), p["thorax"] + 0.5 * (p["r_shoulder"] - p["thorax"]), 110.0, 105.0, "shirt"),
        (p["l_shoulder"], p["r_shoulder"], 62.0, 62.0, "shirt"),
        (p["l_hip"], p["r_hip"], 100.0, 100.0, "pants"),
        (p["neck"], head, 52.0, 60.0, "skin"),
        (head, head, 100.0, 100.0, "skin"),
        (head + 25.0 * _unit(head - p["neck"]) - 20.0 * forward, head - 20.0 * forward, 95.0, 95.0, "hair"),
    ]
    for side in "lr":
        shoulder, elbow, wrist = p[f"{side}_shoulder"], p[f"{side}_elbow"], p[f"{side}_wrist"]
        hip, knee, ankle = p[f"{side}_hip"], p[f"{side}_knee"], p[f"{side}_ankle"]
        toe = ankle + 140.0 * forward - 60.0 * up
        caps += [
            (shoulder, elbow, 50.0, 42.0, "shirt"),
            (elbow, wrist, 40.0, 30.0, "sleeve"),
            (wrist + 40.0 * _unit(wrist - elbow), wrist + 40.0 * _unit(wrist - elbow), 45.0, 45.0, "skin"),
            (hip, knee, 85.0, 58.0, "pants"),
            (knee, ankle, 55.0, 40.0, "legs"),
            (ankle - 30.0 * forward, toe, 42.0, 38.0, "shoes"),
        ]
    return caps


def _materials(rng: np.random.Generator) -> dict[str, np.ndarray]:
    skin_tones = np.array([[255, 219, 172], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36], [92, 56, 30]])
    skin = skin_tones[rng.integers(len(skin_tones))] * rng.uniform(0.9, 1.05)
    shirt, pants, shoes, hair = rng.uniform(0, 255, size=(4, 3)) * [[1], [0.8], [0.4], [0.5]]
    return {
        "skin": skin, "shirt": shirt, "pants": pants, "shoes": shoes, "hair": hair,
        "sleeve": shirt if rng.random() < 0.5 else skin,
        "legs": pants if rng.random() < 0.7 else skin,
    }


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A room-like backdrop: wall and floor colours split at a horizon, boxes, and texture noise."""
    wall, floor = rng.uniform(20, 235, size=(2, 3))
    horizon = rng.uniform(0.3, 0.9) * size
    rows = np.arange(size, dtype=np.float32)[:, None, None]
    shade = 1.0 + rng.uniform(-0.3, 0.3) * (rows / size - 0.5)
    img = np.where(rows < horizon, wall, floor) * shade * np.ones((1, size, 1), np.float32)
    for _ in range(rng.integers(0, 5)):
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 10, size // 2, 2)
        img[y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 255, 3)
    coarse = rng.normal(0, rng.uniform(3, 20), size=(size // 8 + 1, size // 8 + 1, 1))
    img += np.repeat(np.repeat(coarse, 8, 0), 8, 1)[:size, :size]
    return img


def draw_capsules(
    image: np.ndarray,
    capsules: list[tuple[np.ndarray, np.ndarray, float, float, str]],
    intrinsics: np.ndarray,
    materials: dict[str, np.ndarray],
    light: np.ndarray,
    ambient: float,
) -> None:
    """Draw camera-frame capsules into `image` (H, W, 3 float) in place, nearest surface wins.

    Each capsule is ray-cast as a swept sphere seen from its axis: at pixel p,
    the nearest axis point gives the projected radius R and the depth bulge.
    """
    size = image.shape[0]
    depth = np.full(image.shape[:2], np.inf, np.float32)
    fx, fy, cx, cy = intrinsics
    f = 0.5 * (fx + fy)
    for a, b, ra, rb, material in capsules:
        if a[2] <= 1.0 or b[2] <= 1.0:
            continue
        pa, pb = project(np.stack([a, b]), intrinsics)
        Ra, Rb = f * ra / a[2], f * rb / b[2]
        lo = np.floor(np.minimum(pa - Ra, pb - Rb)).astype(int).clip(0, size)
        hi = np.ceil(np.maximum(pa + Ra, pb + Rb)).astype(int).clip(0, size)
        if np.any(hi <= lo):
            continue
        ys, xs = np.mgrid[lo[1] : hi[1], lo[0] : hi[0]].astype(np.float32) + 0.5
        axis = pb - pa
        length2 = float(axis @ axis)
        t = ((xs - pa[0]) * axis[0] + (ys - pa[1]) * axis[1]) / length2 if length2 > 1e-9 else np.zeros_like(xs)
        t = np.clip(t, 0.0, 1.0)
        dx, dy = xs - (pa[0] + t * axis[0]), ys - (pa[1] + t * axis[1])
        R = Ra + t * (Rb - Ra)
        s2 = (dx * dx + dy * dy) / (R * R)
        inside = s2 < 1.0
        if not inside.any():
            continue
        nz = np.sqrt(np.maximum(1.0 - s2, 0.0))
        z = a[2] + t * (b[2] - a[2]) - (ra + t * (rb - ra)) * nz
        region = depth[lo[1] : hi[1], lo[0] : hi[0]]
        win = inside & (z < region)
        region[win] = z[win]
        # Normal of the swept sphere: in-plane offset over R, and towards the camera.
        lambert = np.maximum(0.0, (dx / R) * light[0] + (dy / R) * light[1] - nz * light[2])
        colour = materials[material] * (ambient + (1.0 - ambient) * lambert)[..., None]
        image[lo[1] : hi[1], lo[0] : hi[0]][win] = colour[win]


@dataclasses.dataclass
class RenderedSample:
    image: np.ndarray  # (S, S, 3) uint8
    joints_3d: np.ndarray  # (17, 3) float32, camera frame, mm
    joints_2d: np.ndarray  # (17, 2) float32, pixels of `image`
    intrinsics: np.ndarray  # (4,) float32 fx, fy, cx, cy of the crop


def render_pose(
    pose_world: np.ndarray,
    rng: np.random.Generator,
    size: int = IMAGE_SIZE,
    cameras: CameraRange = CameraRange(),
) -> RenderedSample:
    """Render a (17, 3) millimetre Y-up world pose from a random Human3.6M-like camera.

    The person is cropped to a square around the projected body, scaled to
    `size` pixels; the returned intrinsics are the crop's, so projecting
    `joints_3d` with them gives `joints_2d`.
    """
    pose_world = np.asarray(pose_world, np.float64)
    up = np.array([0.0, 1.0, 0.0])
    pelvis = pose_world[J["pelvis"]]
    azimuth = rng.uniform(0, 2 * np.pi)
    distance = rng.uniform(*cameras.distance)
    position = np.array([pelvis[0] + distance * np.sin(azimuth), rng.uniform(*cameras.height), pelvis[2] + distance * np.cos(azimuth)])
    rotation = look_at(position, pelvis + rng.normal(0, cameras.aim_jitter, 3))
    fx, fy, cx, cy, _, _ = H36M_INTRINSICS[list(H36M_INTRINSICS)[rng.integers(4)]]

    to_camera = lambda x: (x - position) @ rotation.T  # noqa: E731
    joints_cam = to_camera(pose_world)
    capsules = [(to_camera(a), to_camera(b), ra, rb, m) for a, b, ra, rb, m in body_capsules(pose_world, up)]

    # Square crop around every capsule's projected extent.
    full = np.array([fx, fy, cx, cy])
    ends = np.concatenate([[a, b] for a, b, *_ in capsules])
    radii = np.repeat([max(ra, rb) for _, _, ra, rb, _ in capsules], 2)
    uv = project(ends, full)
    rad = fx * radii / ends[:, 2]
    _, _, intrinsics = square_crop((uv - rad[:, None]).min(0), (uv + rad[:, None]).max(0), cameras.crop_margin, size, full)

    image = _background(rng, size)
    light = _unit(np.array([rng.uniform(-0.8, 0.8), rng.uniform(-1.0, 0.3), -1.0]))
    draw_capsules(image, capsules, intrinsics, _materials(rng), light, ambient=rng.uniform(0.25, 0.5))
    image *= rng.uniform(0.8, 1.15)
    return RenderedSample(
        image=np.clip(image, 0, 255).astype(np.uint8),
        joints_3d=joints_cam.astype(np.float32),
        joints_2d=project(joints_cam, intrinsics).astype(np.float32),
        intrinsics=intrinsics.astype(np.float32),
    )
