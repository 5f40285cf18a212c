"""Finding people in a whole photograph, and framing each the way the model was trained.

The detector is OpenCV's HOG pedestrian detector (Dalal & Triggs, CVPR 2005):
its weights are compiled into OpenCV, so nothing is downloaded, and it runs in
tens of milliseconds on a CPU. It finds upright, mostly whole people best;
`bench/detector_photos.py` measures it on the real dev photographs. Any other
detector plugs in by returning `Detection`s, and `--box` skips detection.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfpose3d.data.render import BODY_OVER_JOINTS, H36M_CAMERAS

# Dalal & Triggs' 64x128 window holds the person with about 16 px of margin on every side: the person's
# own box is the middle half of the window's width and three quarters of its height.
_WINDOW_TO_PERSON = np.array([0.5, 0.75])


@dataclasses.dataclass(frozen=True)
class Detection:
    """A person's box in image pixels, (x, y, w, h) from the top-left corner, and the detector's score."""

    box: tuple[float, float, float, float]
    score: float = 1.0

    @property
    def lo(self) -> np.ndarray:
        return np.array(self.box[:2], np.float64)

    @property
    def hi(self) -> np.ndarray:
        return self.lo + np.array(self.box[2:], np.float64)


def parse_box(text: str) -> Detection:
    """`x,y,w,h` in pixels (a user's `--box`) as a Detection, with an error that names what is wrong."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--box {text!r}: expected four numbers x,y,w,h (pixels)") from None
    if len(values) != 4 or not np.all(np.isfinite(values)):
        raise ValueError(f"--box {text!r}: expected four numbers x,y,w,h (pixels)")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"--box {text!r}: width and height must be positive")
    return Detection(tuple(values))


def iou(a: Detection, b: Detection) -> float:
    """Intersection over union of two boxes.

    Example:
        >>> iou(Detection((0, 0, 10, 10)), Detection((5, 0, 10, 10)))
        0.3333333333333333
    """
    overlap = np.clip(np.minimum(a.hi, b.hi) - np.maximum(a.lo, b.lo), 0, None).prod()
    return float(overlap / (np.prod(a.box[2:]) + np.prod(b.box[2:]) - overlap))


def crop_margin() -> float:
    """How many times a whole person's box (its longer side) the model's square crop is."""
    return H36M_CAMERAS.crop_margin / BODY_OVER_JOINTS


def touches_border(detection: Detection, width: int, height: int) -> bool:
    """Whether the box reaches an edge of the image: the person may be cut off there."""
    return bool(np.any(detection.lo <= 1) or detection.hi[0] >= width - 1 or detection.hi[1] >= height - 1)


class PersonDetector:
    """People in an RGB image, best first.

    Args:
        min_score: the HOG classifier's margin below which a window is not a person.
        overlap: boxes overlapping a better one by more than this intersection over union are dropped.
        long_side: the image is scaled so its longer side is about this many pixels (small images up to
            twice), so that people of a tenth to the whole of the image height are searched.

    Example:
        >>> PersonDetector()(np.zeros((240, 320, 3), np.uint8))
        []
    """

    def __init__(self, min_score: float = 0.3, overlap: float = 0.5, long_side: int = 1000):
        import cv2

        self.min_score, self.overlap, self.long_side = min_score, overlap, long_side
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __call__(self, image: np.ndarray) -> list[Detection]:
        import cv2

        h, w = image.shape[:2]
        scale = min(2.0, self.long_side / max(h, w))
        small = cv2.resize(np.ascontiguousarray(image[..., ::-1]), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        windows, scores = self._hog.detectMultiScale(small, winStride=(8, 8), padding=(16, 16), scale=1.05)
        if len(windows) == 0:
            return []
        windows = np.asarray(windows, np.float64) / scale
        size = windows[:, 2:] * _WINDOW_TO_PERSON
        boxes = np.concatenate([windows[:, :2] + (windows[:, 2:] - size) / 2, size], 1)
        scores = np.ravel(scores).astype(float)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.min_score, self.overlap)
        order = sorted(np.ravel(keep).tolist(), key=lambda i: -scores[i])
        return [Detection(tuple(float(v) for v in boxes[i]), float(scores[i])) for i in order]
