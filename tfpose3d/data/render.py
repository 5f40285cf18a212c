"""The software renderer: a posed, shaped human mesh and a camera to an RGB image with exact labels.

A body from `body.BodyModel` posed by one motion frame is dressed
(`appearance`), put in front of a scene (`scenes`), drawn by the deferred
z-buffered rasteriser (`raster`), maybe partly hidden by things in front,
and passed through a camera's faults (`imaging`). The labels are the posed
body's own Human3.6M joints; a joint cut off by the crop or hidden by a thing
in front is marked invisible. numpy, numba and PIL only; no TensorFlow, so
worker processes stay light.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
from typing import Any, Callable, Iterator

import numpy as np
import threadpoolctl

from tfpose3d import skeleton
from tfpose3d.contract import IMAGE_SIZE
from tfpose3d.data import appearance, body, images, imaging, mocap, raster, scenes
from tfpose3d.data.body import Body
from tfpose3d.data.camera import H36M_INTRINSICS, Camera, look_at, project, square_crop, upright_angle
from tfpose3d.data.options import LOOKS, SPLITS, Look, check_split, look_named  # noqa: F401 (the renderer's looks)

# Names what the renderer draws; rendered-data folders and manifests carry it, so data drawn by an
# earlier renderer is never mistaken for this one's.
VERSION = "mesh-4"


@dataclasses.dataclass(frozen=True)
class CameraRange:
    """Where virtual cameras stand, like Human3.6M's around a person in a room.

    Distances in mm on the ground from the pelvis; the camera looks at the pelvis (with jitter). The crop is
    a square `crop_margin` times the longer side of the joints' box: with the body's extent beyond its
    joints (hands, feet, the top of the head; the mesh box is 1.11-1.20 times the joints' box, median 1.15)
    that leaves a margin of about 1.25 around the body, and a photo with 2D joints crops the same way.
    """

    distance: tuple[float, float] = (3500.0, 6500.0)
    height: tuple[float, float] = (900.0, 2300.0)
    aim_jitter: float = 150.0
    crop_margin: float = 1.45
    focal: tuple[float, float] = (1.0, 1.0)  # times Human3.6M's focal length
    roll_degrees: float = 6.0  # s.d. of the camera's roll, after `upright`
    crop_jitter: float = 0.0  # s.d. of the crop's shift and log-scale, in crop sides
    # Roll the camera so that the line from the hips to the shoulders points straight up in the image: the
    # crop a person detector's alignment gives (`tfpose3d.detect`), so that training and test crops agree.
    upright: bool = True

    def sample(self, target: np.ndarray, rng: np.random.Generator, joints: np.ndarray | None = None) -> Camera:
        """A camera at a random azimuth, distance and height, aimed near `target`, with Human3.6M intrinsics;
        rolled so that `joints` (17, 3, world) stand upright in its image when `upright` and they are given."""
        azimuth = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(*self.distance)
        position = np.array([target[0] + distance * np.sin(azimuth), rng.uniform(*self.height), target[2] + distance * np.cos(azimuth)])
        rotation = look_at(position, target + rng.normal(0, self.aim_jitter, 3))
        fx, fy, cx, cy, _, _ = H36M_INTRINSICS[list(H36M_INTRINSICS)[rng.integers(4)]]
        zoom = rng.uniform(*self.focal)
        intrinsics = np.array([fx * zoom, fy * zoom, cx, cy])
        roll = np.radians(rng.normal(0, self.roll_degrees)) if self.roll_degrees else 0.0
        if self.upright and joints is not None:
            roll += upright_angle(*skeleton.torso_ends(project((joints - position) @ rotation.T, intrinsics)))
        # Rolling by `roll` turns the image about the principal point as a crop of that angle is turned.
        c, s = np.cos(roll), np.sin(roll)
        return Camera(position, np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) @ rotation, intrinsics)

    def crop_box(self, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The joints' box [lo, hi] moved and scaled as a person detector's box would be."""
        if not self.crop_jitter:
            return lo, hi
        side = float(np.max(hi - lo))
        centre = (lo + hi) / 2 + rng.normal(0, self.crop_jitter, 2) * side
        half = (hi - lo) / 2 * np.exp(rng.normal(0, self.crop_jitter))
        return centre - half, centre + half


# A person's whole extent (mesh box: hands, feet, the top of the head) over the joints' box, longer sides:
# 1.11-1.20 over bodies and poses, median 1.15. A box around a whole person is framed with
# `crop_margin / BODY_OVER_JOINTS` to match the crops the renderer makes around the joints.
BODY_OVER_JOINTS = 1.15

# Human3.6M-like cameras, and the variety of people's photos (phones to telephoto, children's height to
# first floor, tilted, loosely framed).
H36M_CAMERAS = CameraRange()
VARIED_CAMERAS = CameraRange(distance=(2000.0, 10000.0), height=(300.0, 3000.0), aim_jitter=250.0, focal=(0.5, 2.5),
                             crop_jitter=0.08)


@dataclasses.dataclass
class RenderedSample:
    """One rendered training image and its labels, all in the crop's pixels and the camera's frame."""

    image: np.ndarray  # (S, S, 3) uint8
    joints_3d: np.ndarray  # (17, 3) float32, camera frame, mm
    joints_2d: np.ndarray  # (17, 2) float32, pixels of `image`
    intrinsics: np.ndarray  # (4,) float32 fx, fy, cx, cy of the crop
    visibility: np.ndarray  # (17,) float32: 0 where a joint is outside the crop or behind a thing in front
    mask: np.ndarray  # (S, S) bool, the pixels where the body is seen


def render_body(
    body: Body,
    vertices: np.ndarray,
    joints: np.ndarray,
    rng: np.random.Generator,
    size: int = IMAGE_SIZE,
    look: Look = Look(),
    camera: Camera | None = None,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> RenderedSample:
    """Render `body` posed as `vertices` (V, 3) with `joints` (17, 3) (Y-up world, mm).

    The camera is `camera`, or one drawn for the `look`. The image is a square
    crop, `size` pixels, around `box` (full-frame pixels lo, hi) or else around
    the projected joints (jittered for a varied look); the returned intrinsics
    are the crop's, so projecting `joints_3d` with them gives `joints_2d`.
    """
    cameras = VARIED_CAMERAS if look.cameras else H36M_CAMERAS
    camera = camera or cameras.sample(joints[0], rng, joints)
    vertices_cam = camera.to_camera(vertices)
    joints_cam = camera.to_camera(joints)
    if box is None:
        uv = project(joints_cam, camera.intrinsics)
        box = cameras.crop_box(uv.min(0), uv.max(0), rng)
    _, _, intrinsics = square_crop(box[0], box[1], cameras.crop_margin, size, camera.intrinsics)
    joints_2d = project(joints_cam, intrinsics)

    image = scenes.background(rng, size, look.photo_backgrounds)
    depth = np.full((size, size), np.inf, np.float32)
    face_id = np.full((size, size), -1, np.int32)
    weights = np.zeros((size, size, 3), np.float32)
    raster.rasterize(project(vertices_cam, intrinsics).astype(np.float32), vertices_cam[:, 2].astype(np.float32),
                     body.faces, depth, face_id, weights)
    drawn = face_id >= 0
    outfit = appearance.dress(body, rng, look.textures)
    # A face is the surface two of its corners share (else its first corner's): even seams.
    a, b, c = (outfit.surface_of[body.faces[:, k]] for k in range(3))
    face_surface = np.where(b == c, b, a)
    # One gather for the three attributes the shading needs at each pixel: rest position, normal, view ray.
    attributes = np.concatenate([body.vertices, raster.vertex_normals(vertices_cam, body.faces), vertices_cam], 1)
    rest, normals, view = np.split(raster.interpolate(attributes.astype(np.float32), body.faces, face_id, weights), 3, axis=1)
    lit = appearance.light(normals / np.linalg.norm(normals, axis=-1, keepdims=True),
                           view / np.linalg.norm(view, axis=-1, keepdims=True), rng, image[::5, ::5].reshape(-1, 3).mean(0))
    image[drawn] = outfit.colour(body, face_surface[face_id[drawn]], rest) * lit

    visible = np.all((joints_2d >= 0) & (joints_2d < size), axis=1)
    if rng.random() < look.occluders:
        hidden, fill = scenes.occluders(rng, size, joints_2d.min(0), joints_2d.max(0), look.photo_backgrounds)
        image[hidden] = fill[hidden]
        drawn &= ~hidden
        inside = np.clip(joints_2d.astype(int), 0, size - 1)
        visible &= ~hidden[inside[:, 1], inside[:, 0]]
    image *= rng.uniform(0.8, 1.15)
    return RenderedSample(
        image=imaging.degrade(image, rng) if look.imaging else np.clip(image, 0, 255).astype(np.uint8),
        joints_3d=joints_cam.astype(np.float32),
        joints_2d=joints_2d.astype(np.float32),
        intrinsics=intrinsics.astype(np.float32),
        visibility=visible.astype(np.float32),
        mask=drawn,
    )


def draw(seed: int, index: int, frames: int) -> tuple[np.random.Generator, int, body.Shape]:
    """Sample `index` of the seeded stream: its generator (the rest of the sample draws from it), its motion
    frame (of `frames`) and its body. A dataset's manifest holds the seed and `frames_in_split`, so the body
    behind every rendered record can be drawn again without rendering."""
    rng = np.random.default_rng([seed, index])
    frame = int(rng.integers(frames))
    return rng, frame, body.sample_shape(rng)


def render_indices(poses: mocap.MotionSet, seed: int, indices: range, size: int = IMAGE_SIZE,
                   look: Look = Look()) -> list[dict]:
    """Render samples `indices` of a seeded stream (sample i depends only on (seed, i)) as JPEG-image samples.

    Each sample draws its own body (`body.sample_shape`), so no two samples show the same person.
    """
    model = body.default_model()
    out = []
    for i in indices:
        rng, frame, shape = draw(seed, i, len(poses))
        shaped = model.body(shape)
        # Its own stream, so a look without varied or seated poses draws exactly what it drew before they existed.
        vary = np.random.default_rng([seed, i, 2])
        turns = poses.vary(frame, vary) if vary.random() < look.poses else None
        if vary.random() < look.seated:
            turns = mocap.sit(poses.turns(frame) if turns is None else turns, vary)
        sample = render_body(shaped, *poses.pose(shaped, frame, turns), rng, size=size, look=look)
        clip = poses.clip[frame]
        out.append({
            "image": images.encode(sample.image), "joints_3d": sample.joints_3d, "joints_2d": sample.joints_2d,
            "visibility": sample.visibility, "intrinsics": sample.intrinsics,
            "action": str(poses.actions[clip]), "subject": str(poses.subjects[clip]),
        })
    return out


def render_clip(poses: mocap.MotionSet, clip: int, seed: int, frames: int | None = None, size: int = IMAGE_SIZE,
                look: Look = Look(), follow: bool = True) -> list[RenderedSample]:
    """The frames of one motion clip as a video: one body, one camera, one scene, one outfit.

    `follow` crops each frame around its person (as a tracker following them would); otherwise one still
    crop holds the whole clip, as a camera on a tripod. `frames` limits the length.
    """
    indices = np.flatnonzero(poses.clip == clip)[:frames]
    if len(indices) == 0:
        raise ValueError(f"clip {clip} has no frames in this motion set")
    rng = np.random.default_rng([seed, clip])
    shaped = body.default_model().body(body.sample_shape(rng))
    posed = [poses.pose(shaped, int(i)) for i in indices]
    cameras = VARIED_CAMERAS if look.cameras else H36M_CAMERAS
    camera = cameras.sample(posed[0][1][0], rng)
    box = None
    if not follow:
        uv = np.concatenate([project(camera.to_camera(joints), camera.intrinsics) for _, joints in posed])
        box = uv.min(0), uv.max(0)
    # Every frame draws from the same stream, so scene, outfit and light stay; only the pose moves.
    return [render_body(shaped, vertices, joints, np.random.default_rng([seed, clip, 1]), size, look, camera, box)
            for vertices, joints in posed]


_CHUNK = 100
_worker: tuple[mocap.MotionSet, Look, Callable[[dict], Any] | None] | None = None


def _init_worker(poses: mocap.MotionSet, look: Look, finish: Callable[[dict], Any] | None,
                 single_threaded: bool = False) -> None:
    global _worker
    _worker = poses, look, finish
    if single_threaded:
        # One BLAS thread per worker: with a pool per core, more only contend (2 workers went 290 -> 120 images/s).
        threadpoolctl.threadpool_limits(1)


def _render_chunk(args: tuple[int, int, int, int]) -> list:
    seed, start, stop, size = args
    poses, look, finish = _worker
    samples = render_indices(poses, seed, range(start, stop), size, look)
    return [finish(s) for s in samples] if finish else samples


def iter_rendered(poses: mocap.MotionSet, count: int, seed: int, workers: int, look: Look = Look(),
                  size: int = IMAGE_SIZE, finish: Callable[[dict], Any] | None = None) -> Iterator:
    """Samples 0..count-1 of the seeded stream (`render_indices`), in order, rendered by `workers` processes;
    `finish` turns each sample into what the caller keeps (a serialised record, decoded arrays) in the worker."""
    chunks = [(seed, s, min(s + _CHUNK, count), size) for s in range(0, count, _CHUNK)]
    if workers <= 1:
        _init_worker(poses, look, finish)
        for chunk in chunks:
            yield from _render_chunk(chunk)
        return
    # fork: workers need only numpy, numba and the motion arrays already in memory. What the parent left as
    # garbage is collected first, and the rest frozen for the workers: a worker that collected an inherited
    # TensorFlow object (a tf.data iterator an error's traceback held) waited forever in its destructor for
    # threads that fork does not copy.
    gc.collect()
    gc.freeze()
    try:
        pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (poses, look, finish, True))
    finally:
        gc.unfreeze()
    with pool:
        for samples in pool.imap(_render_chunk, chunks):
            yield from samples
