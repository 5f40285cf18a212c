"""Frames in and out: reading a video file or a folder of frames one frame at a time, following one person
across frames (`Tracker`), and writing a video or GIF one frame at a time.

Memory stays constant whatever the length: nothing holds more than one frame
(a GIF, which its format keeps whole until the end, excepted).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from tfpose3d.data.images import read_rgb
from tfpose3d.data.camera import Region
from tfpose3d.detect import Detection, pose_region
from tfpose3d.paths import writable
from tfpose3d.terminal import quiet_stderr

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def is_video(path: str | os.PathLike) -> bool:
    """A video file (by its suffix) or a folder of frames."""
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES or path.is_dir()


def frame_order(path: Path) -> list[str | int]:
    """Where a frame file comes in its folder: by name, its numbers by value, so that frame2 comes before frame10.

    Example:
        >>> sorted(["f10.png", "f2.png", "f1.png"], key=lambda name: frame_order(Path(name)))
        ['f1.png', 'f2.png', 'f10.png']
    """
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


@dataclasses.dataclass
class Frame:
    """One decoded frame: its number in the clip, its time and its pixels."""

    index: int
    time_s: float
    image: np.ndarray  # (H, W, 3) uint8 RGB


class FrameReader:
    """The frames of a video file (anything OpenCV's FFmpeg reads) or of a folder of image files (by name, its
    numbers by value: `frame_order`), each with its time: a video file's own (a variable frame rate kept), a
    folder's frame i at i / `fps`.

    Args:
        path: the video or folder.
        fps: frames per second of a folder of frames (a video file says its own: its mean rate, where the rate
            varies).

    Opening checks what can be checked before any work: the file exists, opens
    and has a first frame. A frame that cannot be decoded later raises
    ValueError naming its index.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 30.0):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such video file or folder of frames")
        if self.path.is_dir():
            self._files = sorted((p for p in self.path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=frame_order)
            if not self._files:
                raise ValueError(f"{self.path}: a folder with no frames ({', '.join(FRAME_SUFFIXES)} files)")
            self.fps, self.count = fps, len(self._files)
            return
        import cv2

        if self.path.stat().st_size == 0:
            raise ValueError(f"{self.path}: empty file (0 bytes), not a video")
        with quiet_stderr():  # FFmpeg's own line on a damaged file ("moov atom not found"): the error below says it
            capture = cv2.VideoCapture(str(self.path))
            readable = capture.isOpened() and capture.read()[0]
        try:
            if not readable:
                raise ValueError(f"{self.path}: not a readable video (no frame could be decoded)")
            fps = capture.get(cv2.CAP_PROP_FPS)
            self.fps = fps if fps and np.isfinite(fps) and fps > 0 else 30.0
            self.count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None  # an estimate for some containers
        finally:
            capture.release()
        self._files = None

    def __iter__(self) -> Iterator[Frame]:
        if self._files is not None:
            for i, file in enumerate(self._files):
                try:
                    image = read_rgb(file)
                except ValueError as err:
                    raise ValueError(f"frame {i}: {err}") from None
                yield Frame(i, i / self.fps, image)
            return
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        try:
            i, time_s = 0, 0.0
            while True:
                ok, bgr = capture.read()
                if not ok:
                    # The end, or a frame the decoder gave up on before it.
                    if self.count and i < self.count - 1:
                        raise ValueError(f"{self.path}: frame {i} could not be decoded (the file says {self.count} frames); "
                                         f"frames 0-{i - 1} were read")
                    return
                # Each frame's own time, from the file: a phone records at a variable rate, which i / fps misstates.
                stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if not np.isfinite(stamp) or (i and stamp <= 0):  # a frame without a time (OpenCV says 0)
                    stamp = time_s + 1.0 / self.fps if i else 0.0
                time_s = stamp
                yield Frame(i, time_s, np.ascontiguousarray(bgr[..., ::-1]))
                i += 1
        finally:
            capture.release()


class Tracker:
    """Follows one person across frames from their own estimated pose, as BlazePose tracks, and says when to
    look for them again.

    Args:
        min_confidence: below this pose confidence (`Person.confidence`) the person counts as lost, and the
            next frame is searched by the detector again.
        same_person: a detection whose centre lies within this many of the last crop's sides from that crop's
            centre is taken as the same person when they are found again (else a new id starts).

    While a person is followed, each frame's first crop is the one their last pose gives (`expected`), so the
    detector runs only on the first frame and after the person is lost: when the pose's confidence drops or
    the crop leaves the image.
    """

    # The default sits just above the confidence a crop of noise or of a blank wall gets from the main job's
    # model, and below most people's in the real dev photos; a quarter of real scenes without a person lie
    # above it too (bench/heatmap_confidence.py; docs/video.md, "Tracking").
    def __init__(self, min_confidence: float = 0.2, same_person: float = 0.5):
        self.min_confidence, self.same_person = min_confidence, same_person
        self.expected: Region | None = None
        self.box: Detection | None = None
        self.id = -1
        self._last: Region | None = None
        self._size: tuple[int, int] | None = None  # the last frame's width and height

    def choose(self, detections: list[Detection]) -> Detection | None:
        """The detection to follow when nobody is followed: the one nearest to where the person was lost
        (keeping their id), else the best one (a new id)."""
        if not detections:
            return None
        if self._last is not None:
            centre = np.asarray(self._last.centre)
            near = min(detections, key=lambda d: np.linalg.norm((d.lo + d.hi) / 2 - centre))
            if np.linalg.norm((near.lo + near.hi) / 2 - centre) <= self.same_person * self._last.side:
                return near
        self.id += 1
        return detections[0]

    def keeps(self, person: Any, width: int, height: int) -> bool:
        """Whether a `tfpose3d.predict.Person` estimated in the expected crop is still the person: a sure pose
        whose crop's centre is inside the image."""
        x, y = person.region.centre
        return person.confidence >= self.min_confidence and 0 <= x < width and 0 <= y < height

    def resize(self, width: int, height: int) -> None:
        """The next frame's size: where it differs from the last frame's (a folder of frames of several sizes),
        the expected crop and where the person was move with it."""
        if self._size is None or self._size == (width, height):
            return
        sx, sy = width / self._size[0], height / self._size[1]

        def scaled(region: Region | None) -> Region | None:
            return region and Region((region.centre[0] * sx, region.centre[1] * sy), region.side * (sx * sy) ** 0.5,
                                     region.angle)
        self.expected, self._last, self._size = scaled(self.expected), scaled(self._last), (width, height)

    def follow(self, person: Any | None, width: int, height: int) -> None:
        """The person estimated in this frame, or None: sets the next frame's crop, or drops the track."""
        self._size = (width, height)
        if person is not None:
            self._last, self.box = person.region, person.box
        self.expected = pose_region(person.joints_2d) if person is not None and self.keeps(person, width, height) else None


VIDEO_OUT_SUFFIXES = (".gif", ".mp4", ".avi", ".mov", ".m4v")
# The frame rates a drawn video can have: a GIF stores each frame's time in whole hundredths of a second (at
# least one), and OpenCV's MPEG-4 writer takes a time base of at most 1/65535 s; below 0.01 neither is sure.
DRAWN_FPS = {".gif": (0.01, 100.0)}
DRAWN_FPS_OTHERS = (0.01, 65535.0)


def check_video_out(path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = (), fps: float | None = None) -> None:
    """Refuse, before anything is written, a video output that would overwrite an input, lies under a file, has
    a suffix this does not write, or cannot be drawn at `fps` (where given) frames a second."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_OUT_SUFFIXES:
        raise ValueError(f"--video-out {path}: write one of {', '.join(VIDEO_OUT_SUFFIXES)}")
    low, high = DRAWN_FPS.get(suffix, DRAWN_FPS_OTHERS)
    if fps is not None and not low <= fps <= high:
        raise ValueError(f"--video-out {path}: a {suffix} is drawn at {low:g} to {high:g} frames a second, and the "
                         f"video's rate is {fps:g} (--fps gives a folder of frames its rate)")
    if any(path.resolve() == Path(p).resolve() for p in inputs):
        raise ValueError(f"--video-out {path} is one of the inputs; it would be overwritten")
    writable(path, "--video-out", folder=False)


class FrameWriter:
    """Writes frames to an .mp4 (or another suffix OpenCV writes) or a .gif, one at a time.

    Use as a context manager: the file is complete and playable when the block
    ends, also when it ends with an error (the frames written so far stay).
    """

    def __init__(self, path: str | os.PathLike, fps: float):
        self.path, self.fps = Path(path), fps
        check_video_out(self.path, fps=fps)
        self._gif: list | None = [] if self.path.suffix.lower() == ".gif" else None
        self._video = None
        self._size: tuple[int, int] | None = None  # (width, height) of the first frame, which every frame gets

    def __enter__(self) -> "FrameWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, image: np.ndarray) -> None:
        """Add a frame; one of another size than the first is scaled to fit inside it, centred on black."""
        from PIL import Image

        if self._size is None:
            self._size = (image.shape[1], image.shape[0])
        elif (image.shape[1], image.shape[0]) != self._size:
            scale = min(self._size[0] / image.shape[1], self._size[1] / image.shape[0])
            fitted = Image.fromarray(image).resize((max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))))
            canvas = Image.new("RGB", self._size)
            canvas.paste(fitted, ((self._size[0] - fitted.width) // 2, (self._size[1] - fitted.height) // 2))
            image = np.asarray(canvas)
        if self._gif is not None:
            self._gif.append(Image.fromarray(image))
            return
        import cv2

        if self._video is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() != ".avi" else "MJPG"))
            self._video = cv2.VideoWriter(str(self.path), fourcc, self.fps, (image.shape[1], image.shape[0]))
            if not self._video.isOpened():
                raise ValueError(f"{self.path}: OpenCV cannot write this video file")
        self._video.write(np.ascontiguousarray(image[..., ::-1]))

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.release()
        if self._gif:
            self._gif[0].save(self.path, save_all=True, append_images=self._gif[1:], duration=1000 / self.fps, loop=0)
