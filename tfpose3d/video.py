"""Frames in and out: reading a video file or a folder of frames one frame at a time, following one person
across frames (`Tracker`), and writing a video or GIF one frame at a time.

Memory stays constant whatever the length: nothing holds more than one frame
(a GIF, which its format keeps whole until the end, excepted).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from tfpose3d.data.images import read_rgb
from tfpose3d.data.render import BODY_OVER_JOINTS
from tfpose3d.detect import Detection, iou

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def is_video(path: str | os.PathLike) -> bool:
    """A video file (by its suffix) or a folder of frames."""
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES or path.is_dir()


@dataclasses.dataclass
class Frame:
    index: int
    time_s: float
    image: np.ndarray  # (H, W, 3) uint8 RGB


class FrameReader:
    """The frames of a video file (anything OpenCV's FFmpeg reads) or of a folder of image files (by name).

    Args:
        path: the video or folder.
        fps: frames per second of a folder of frames (a video file says its own).

    Opening checks what can be checked before any work: the file exists, opens
    and has a first frame. A frame that cannot be decoded later raises
    ValueError naming its index.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 30.0):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such video file or folder of frames")
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
            if not self._files:
                raise ValueError(f"{self.path}: a folder with no frames ({', '.join(FRAME_SUFFIXES)} files)")
            self.fps, self.count = fps, len(self._files)
            return
        import cv2

        if self.path.stat().st_size == 0:
            raise ValueError(f"{self.path}: empty file (0 bytes), not a video")
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not (capture.isOpened() and capture.read()[0]):
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
            i = 0
            while True:
                ok, bgr = capture.read()
                if not ok:
                    # The end, or a frame the decoder gave up on before it.
                    if self.count and i < self.count - 1:
                        raise ValueError(f"{self.path}: frame {i} could not be decoded (the file says {self.count} frames); "
                                         f"frames 0-{i - 1} were read")
                    return
                yield Frame(i, i / self.fps, np.ascontiguousarray(bgr[..., ::-1]))
                i += 1
        finally:
            capture.release()


class Tracker:
    """Follows one person across frames, from detections and from the person's own estimated joints.

    Args:
        min_overlap: intersection over union with the expected box that a detection needs to be the person.
        inertia: how much of the expected box is kept when a detection matches (steadies the crop).

    The first person is the best-scored detection. After that the person is
    expected where their estimated 2D joints were in the last frame (the box
    around them, grown to a whole person's extent); a matching detection
    corrects that box, and when the detector misses, the joints alone carry
    the track (as BlazePose tracks), so a detector that finds a person only
    now and then still gives every frame a crop.
    """

    def __init__(self, min_overlap: float = 0.3, inertia: float = 0.5):
        self.min_overlap, self.inertia = min_overlap, inertia
        self.expected: Detection | None = None

    def update(self, detections: list[Detection]) -> Detection | None:
        """The person's box in this frame, or None while nobody has been found."""
        if self.expected is None:
            return detections[0] if detections else None
        best = max(detections, key=lambda d: iou(d, self.expected), default=None)
        if best is None or iou(best, self.expected) < self.min_overlap:
            return self.expected
        mixed = self.inertia * np.asarray(self.expected.box) + (1 - self.inertia) * np.asarray(best.box)
        return Detection(tuple(float(v) for v in mixed), best.score)

    def follow(self, joints_2d: np.ndarray | None) -> None:
        """The person's estimated joints (17, 2) in this frame, or None when the person is lost."""
        if joints_2d is None:
            self.expected = None
            return
        lo, hi = joints_2d.min(0), joints_2d.max(0)
        centre, half = (lo + hi) / 2, (hi - lo) / 2 * BODY_OVER_JOINTS
        self.expected = Detection(tuple(float(v) for v in (*(centre - half), *(2 * half))))


class FrameWriter:
    """Writes frames to an .mp4 (or another suffix OpenCV writes) or a .gif, one at a time.

    Use as a context manager: the file is complete and playable when the block
    ends, also when it ends with an error (the frames written so far stay).
    """

    def __init__(self, path: str | os.PathLike, fps: float):
        self.path, self.fps = Path(path), fps
        suffix = self.path.suffix.lower()
        if suffix not in (".gif", ".mp4", ".avi", ".mov", ".m4v"):
            raise ValueError(f"{self.path}: write a .mp4, .avi, .mov, .m4v or .gif")
        self._gif: list | None = [] if suffix == ".gif" else None
        self._video = None

    def __enter__(self) -> "FrameWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, image: np.ndarray) -> None:
        from PIL import Image

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
