"""The software renderer: a posed, shaped human mesh and a camera to an RGB image with exact labels.

A body from `body.BodyModel` is posed by one motion frame, dressed (skin,
hair, top, trousers or shorts, shoes; sleeve and leg lengths vary), lit by an
ambient plus a directional light, and drawn by the z-buffered rasteriser in
`raster`. The labels are the posed body's own Human3.6M joints. numpy and
numba only; no TensorFlow, so worker processes stay light.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.data import raster
from tfpose3d.data.body import Body
from tfpose3d.data.camera import H36M_INTRINSICS, look_at, project, square_crop
from tfpose3d.data.rotations import unit

# Names what the renderer draws; rendered-data folders and manifests carry it, so data drawn by an
# earlier renderer (the capsule bodies) is never mistaken for this one's.
VERSION = "mesh-1"


@dataclasses.dataclass(frozen=True)
class Camera:
    """A pinhole camera in a Y-up world: `rotation` (world -> camera rows: right, down, forward), mm."""

    position: np.ndarray
    rotation: np.ndarray
    intrinsics: np.ndarray  # fx, fy, cx, cy of the full frame

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.position) @ self.rotation.T


@dataclasses.dataclass(frozen=True)
class CameraRange:
    """Where virtual cameras stand, like Human3.6M's around a person in a room.

    Distances in mm on the ground from the pelvis; the camera looks at the pelvis (with jitter).
    """

    distance: tuple[float, float] = (3500.0, 6500.0)
    height: tuple[float, float] = (900.0, 2300.0)
    aim_jitter: float = 150.0
    crop_margin: float = 1.25

    def sample(self, target: np.ndarray, rng: np.random.Generator) -> Camera:
        """A camera at a random azimuth, distance and height, aimed near `target`, with Human3.6M intrinsics."""
        azimuth = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(*self.distance)
        position = np.array([target[0] + distance * np.sin(azimuth), rng.uniform(*self.height), target[2] + distance * np.cos(azimuth)])
        rotation = look_at(position, target + rng.normal(0, self.aim_jitter, 3))
        fx, fy, cx, cy, _, _ = H36M_INTRINSICS[list(H36M_INTRINSICS)[rng.integers(4)]]
        return Camera(position, rotation, np.array([fx, fy, cx, cy]))


SKIN_TONES = np.array([[255, 219, 172], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36], [92, 56, 30]], np.float32)
HAIR_COLOURS = np.array([[20, 15, 10], [60, 40, 25], [110, 75, 40], [180, 140, 80], [120, 120, 120], [200, 180, 140]], np.float32)


def dress(body: Body, rng: np.random.Generator) -> np.ndarray:
    """Per-vertex base colours (V, 3): skin, hair, a top with a sleeve length, trousers or shorts, shoes."""
    part = np.asarray(body.bone_names)[body.part]
    rest, mark = body.vertices, body.landmarks
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.05)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.2)
    top, bottom, shoes = rng.uniform(0, 255, size=(3, 3)) * [[1.0], [0.8], [0.5]]
    colours = np.broadcast_to(skin, rest.shape).astype(np.float32).copy()

    def along(start: str, end: str) -> np.ndarray:
        a, b = mark[start], mark[end]
        return (rest - a) @ (b - a) / float((b - a) @ (b - a))

    side = np.where(rest[:, 0] > 0, "l", "r")
    # The waistband follows the rig: the pelvis bones' skin is the trousers', the spine's the top's.
    colours[np.isin(part, ["LowerBack", "Spine", "Spine1", "LeftShoulder", "RightShoulder"])] = top
    colours[np.isin(part, ["Hips", "LHipJoint", "RHipJoint"])] = bottom
    sleeve = rng.choice([0.0, 0.3, 0.55, 1.05], p=[0.1, 0.35, 0.15, 0.4])  # of shoulder -> wrist
    legs = rng.choice([0.35, 0.6, 1.05], p=[0.25, 0.1, 0.65])  # of hip -> ankle
    for s in "lr":
        arm = np.isin(part, ["LeftArm", "LeftForeArm"] if s == "l" else ["RightArm", "RightForeArm"]) & (side == s)
        colours[arm & (along(f"{s}-shoulder", f"{s}-hand") < sleeve)] = top
        leg = np.isin(part, ["LeftUpLeg", "LeftLeg"] if s == "l" else ["RightUpLeg", "RightLeg"])
        colours[leg & (along(f"{s}-upper-leg", f"{s}-ankle") < legs)] = bottom
    colours[np.isin(part, ["LeftFoot", "RightFoot"])] = shoes
    # Hair: the scalp above a line from brow to nape; long hair also down the back of the head and neck.
    head = np.isin(part, ["Head", "Neck1", "Neck"])
    skull, crown = mark["head"], mark["crown"]
    rise = (rest[:, 1] - skull[1]) / (crown[1] - skull[1])
    front = rest[:, 2] - skull[2]
    length = rng.choice([0.0, 1.0, 2.0], p=[0.1, 0.6, 0.3])
    if length > 0:
        colours[head & (rise > 0.55 - 0.008 * np.maximum(-front, 0))] = hair
    if length > 1:
        colours[head & (front < -20.0) & (rise > -0.6)] = hair
    return colours


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


@dataclasses.dataclass
class RenderedSample:
    image: np.ndarray  # (S, S, 3) uint8
    joints_3d: np.ndarray  # (17, 3) float32, camera frame, mm
    joints_2d: np.ndarray  # (17, 2) float32, pixels of `image`
    intrinsics: np.ndarray  # (4,) float32 fx, fy, cx, cy of the crop
    mask: np.ndarray  # (S, S) bool, the pixels the body covers


def render_body(
    body: Body,
    vertices: np.ndarray,
    joints: np.ndarray,
    rng: np.random.Generator,
    size: int = IMAGE_SIZE,
    cameras: CameraRange = CameraRange(),
    camera: Camera | None = None,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> RenderedSample:
    """Render `body` posed as `vertices` (V, 3) with `joints` (17, 3) (Y-up world, mm).

    The camera is `camera`, or one drawn from `cameras` like Human3.6M's around
    the person. The image is a square crop, `size` pixels, around `box` (full-frame
    pixels lo, hi) or else around the projected mesh; the returned intrinsics are
    the crop's, so projecting `joints_3d` with them gives `joints_2d`.
    """
    camera = camera or cameras.sample(joints[0], rng)
    vertices_cam = camera.to_camera(vertices)
    joints_cam = camera.to_camera(joints)
    if box is None:
        uv = project(vertices_cam, camera.intrinsics)
        box = (uv.min(0), uv.max(0))
    _, _, intrinsics = square_crop(box[0], box[1], cameras.crop_margin, size, camera.intrinsics)

    light = unit(np.array([rng.uniform(-0.8, 0.8), rng.uniform(-1.0, 0.3), -1.0]))
    ambient = rng.uniform(0.3, 0.55)
    normals = raster.vertex_normals(vertices_cam, body.faces)
    # Two-sided Lambert: the reduced mesh has a few inward faces, which must not go black.
    shade = (ambient + (1.0 - ambient) * np.abs(normals @ -light)).astype(np.float32)
    colours = dress(body, rng)
    # A face takes the colour two of its corners share (else its first corner's): sharp, even seams.
    a, b, c = (colours[body.faces[:, k]] for k in range(3))
    face_colours = np.where((b == c).all(1, keepdims=True), b, a).astype(np.float32)

    image = _background(rng, size).astype(np.float32)
    depth = np.full((size, size), np.inf, np.float32)
    raster.rasterize(project(vertices_cam, intrinsics).astype(np.float32), vertices_cam[:, 2].astype(np.float32),
                     shade, face_colours, body.faces, image, depth)
    image *= rng.uniform(0.8, 1.15)
    return RenderedSample(
        image=np.clip(image, 0, 255).astype(np.uint8),
        joints_3d=joints_cam.astype(np.float32),
        joints_2d=project(joints_cam, intrinsics).astype(np.float32),
        intrinsics=intrinsics.astype(np.float32),
        mask=np.isfinite(depth),
    )
