"""Finding people in a whole photograph: BlazePose's own person detector, and every person's body parts
joined into people (`tfpose3d.parts`).

The first is MediaPipe's BlazePose person detector (`pose_detection.tflite`, Apache 2.0, shipped unchanged
as `data/pose_detection.tflite`, see data/ATTRIBUTION.md), run through LiteRT. For every person it finds a
face box and four keypoints: the middle of the hips, a point on the circle that holds the whole body, the
middle of the shoulders and a point on the circle that holds the upper body. The person's `Region` is
MediaPipe's: a square on the hips' middle, 1.25 times the body circle's diameter, turned so that the body's
axis points up, so that a person lying, leaning or upside down is cropped upright.

The detector sees 224 x 224 pixels and starts from faces, so people small in the image, seen from behind or
from the side are lost; a crowd holds many. The part network (`tfpose3d.parts.PartNetwork`) finds them: its people
are given the same four keypoints (`from_parts`) and added where BlazePose found nobody. `tiles` and HOG's
squares (`HogProposals`) are the older ways to search finer, kept as options for the measurement.
`bench/detector_photos.py` measures them all on the real dev photographs.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Sequence

import numpy as np

from tfpose3d.data.camera import Region, body_region, upright_angle
from tfpose3d.data.render import BODY_OVER_JOINTS, H36M_CAMERAS
from tfpose3d.data.images import crop_region
from tfpose3d.parts import PARTS, STRIDE, PartNetwork, join

ASSET = Path(__file__).parent / "data" / "pose_detection.tflite"
# The detector is shipped byte for byte as MediaPipe's wheel holds it (tools/make_blazepose_asset.py checks).
ASSET_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
INPUT = 224  # the detector's input side
# MediaPipe's pose_detection graph: its SSD anchors (strides 8, 16 and 32, two, two and six anchors a cell)
# and the ROI it derives from the body circle.
_STRIDES = ((8, 2), (16, 2), (32, 6))
ROI_SCALE = 1.25
# Keypoints of a detection, in MediaPipe's order.
HIPS, BODY_CIRCLE, SHOULDERS, UPPER_CIRCLE = range(4)


@dataclasses.dataclass(frozen=True)
class Detection:
    """A person found (or given): an axis-aligned box in image pixels (x, y, w, h), the detector's score,
    and, from the detector, the four keypoints (4, 2) in image pixels and the face box."""

    box: tuple[float, float, float, float]
    score: float = 1.0
    keypoints: np.ndarray | None = dataclasses.field(default=None, compare=False)
    face: tuple[float, float, float, float] | None = None

    @property
    def lo(self) -> np.ndarray:
        return np.array(self.box[:2], np.float64)

    @property
    def hi(self) -> np.ndarray:
        return self.lo + np.array(self.box[2:], np.float64)

    def torso(self) -> np.ndarray:
        """(2, 2) where the detection puts the middle of the hips and of the shoulders: its keypoints, or for a
        plain box its centre for both."""
        if self.keypoints is None:
            return np.stack([(self.lo + self.hi) / 2] * 2)
        return self.keypoints[[HIPS, SHOULDERS]]

    def region(self, margin: float) -> Region:
        """Where to crop the person: MediaPipe's aligned square from the keypoints, or for a plain box an
        upright square `margin` times its longer side."""
        if self.keypoints is None:
            return Region(tuple((self.lo + self.hi) / 2), float(max(self.box[2:])) * margin)
        hips, circle = self.keypoints[HIPS], self.keypoints[BODY_CIRCLE]
        radius = float(np.linalg.norm(circle - hips))
        return Region(tuple(hips), 2 * radius * ROI_SCALE, upright_angle(hips, circle))


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


def iou(a: Detection | Sequence[float], b: Detection | Sequence[float]) -> float:
    """Intersection over union of two boxes (x, y, w, h).

    Example:
        >>> iou(Detection((0, 0, 10, 10)), Detection((5, 0, 10, 10)))
        0.3333333333333333
    """
    a, b = (np.asarray(x.box if isinstance(x, Detection) else x, np.float64) for x in (a, b))
    overlap = np.clip(np.minimum(a[:2] + a[2:], b[:2] + b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    return float(overlap / (a[2:].prod() + b[2:].prod() - overlap))


def crop_margin() -> float:
    """How many times a whole person's box (its longer side) the model's square crop is."""
    return H36M_CAMERAS.crop_margin / BODY_OVER_JOINTS


def pose_region(joints_2d: np.ndarray) -> Region:
    """Where to crop a person whose joints (17, 2, image pixels) are known: as the renderer framed the
    training bodies, turned upright."""
    return body_region(joints_2d, H36M_CAMERAS.crop_margin)


def touches_border(detection: Detection, width: int, height: int) -> bool:
    """Whether the box reaches an edge of the image: the person may be cut off there."""
    return bool(np.any(detection.lo <= 1) or detection.hi[0] >= width - 1 or detection.hi[1] >= height - 1)


@functools.lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """(2254, 2) the centres of the detector's SSD anchors, as fractions of its input (MediaPipe's
    SsdAnchorsCalculator for pose detection, whose anchors all have unit size).

    Example:
        >>> anchors().shape, anchors()[0].tolist()
        ((2254, 2), [0.017857142857142856, 0.017857142857142856])
    """
    out = []
    for stride, per_cell in _STRIDES:
        cells = INPUT // stride
        y, x = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        out.append(np.repeat(np.stack([x.ravel(), y.ravel()], 1), per_cell, axis=0))
    return np.concatenate(out)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The detector's raw outputs (2254, 12) and (2254,) as MediaPipe decodes them, for the anchors whose
    score passes `threshold`: scores (K,), face boxes (K, 4) x, y, w, h and keypoints (K, 4, 2), all as
    fractions of the detector's input."""
    scores = 1 / (1 + np.exp(-np.clip(raw_scores.astype(np.float64), -100, 100)))
    keep = scores >= threshold
    raw, centres = raw_boxes[keep] / INPUT, anchors()[keep]
    size = raw[:, 2:4]
    boxes = np.concatenate([raw[:, :2] + centres - size / 2, size], 1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + centres[:, None]
    return scores[keep], boxes, keypoints


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, overlap: float) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's weighted non-maximum suppression: best first, each detection is the score-weighted mean of
    the boxes and keypoints that overlap it by more than `overlap` (intersection over union), which are then
    dropped. Returns (score, box, keypoints) per person."""
    order = list(np.argsort(-scores))
    out = []
    while order:
        best = order[0]
        near = [i for i in order if iou(boxes[best], boxes[i]) > overlap]
        weights = scores[near] / scores[near].sum()
        out.append((float(scores[best]), weights @ boxes[near], np.tensordot(weights, keypoints[near], 1)))
        order = [i for i in order if i not in near]
    return out


# Tiles smaller than this hold no person the detector could find (it would see blown-up pixels), and a
# strip of a photo would be cut into thousands.
MIN_TILE = 96


def views(width: int, height: int, tiles: int) -> list[tuple[float, float, float]]:
    """The squares the detector looks at, (x, y, side) in image pixels: the whole image (letterboxed), then
    for each level k = 1..`tiles` squares of side 2/(k+1) of the shorter image side (at least `MIN_TILE`),
    overlapping by half or more.

    Example:
        >>> views(400, 200, 1)
        [(0.0, -100.0, 400.0), (0.0, 0.0, 200.0), (100.0, 0.0, 200.0), (200.0, 0.0, 200.0)]
    """
    out = [((width - max(width, height)) / 2, (height - max(width, height)) / 2, float(max(width, height)))]
    for level in range(1, tiles + 1):
        side = 2 * min(width, height) / (level + 1)
        if side < MIN_TILE:
            break
        # Evenly spread, at most half a side apart, the last ending at the image's far edge.
        xs, ys = (np.linspace(0, extent - side, int(np.ceil((extent - side) / (side / 2))) + 1) for extent in (width, height))
        if len(xs) == 1 and len(ys) == 1:
            continue  # the whole square image again
        out += [(float(x), float(y), float(side)) for y in ys for x in xs]
    return out


class HogProposals:
    """Upright people as OpenCV's HOG pedestrian detector (Dalal & Triggs, CVPR 2005) sees them: the squares
    `margin` times each found person's box. It finds small, whole, upright people that BlazePose's detector
    misses in crowds, with many false boxes, so `PersonDetector` only searches its squares again.

    Args:
        margin: the square's side over the longer side of the person's box.
        long_side: the image is scaled so its longer side is about this many pixels (small images up to
            twice), so that people of a tenth to the whole of the image height are searched.
    """

    # Dalal & Triggs' 64x128 window holds the person with about 16 px of margin on every side: the person's
    # own box is the middle half of the window's width and three quarters of its height.
    WINDOW_TO_PERSON = (0.5, 0.75)

    def __init__(self, margin: float, long_side: int = 1000):
        import cv2

        self.margin, self.long_side = margin, long_side
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __call__(self, image: np.ndarray) -> list[Region]:
        import cv2

        scale = min(2.0, self.long_side / max(image.shape[:2]))
        if min(image.shape[0] * scale / 128, image.shape[1] * scale / 64) < 1:
            return []  # smaller than HOG's window (and a size OpenCV must never be handed)
        small = cv2.resize(np.ascontiguousarray(image[..., ::-1]), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        windows, scores = self._hog.detectMultiScale(small, winStride=(8, 8), padding=(16, 16), scale=1.05)
        if len(windows) == 0:
            return []
        windows = np.asarray(windows, np.float64) / scale
        size = windows[:, 2:] * self.WINDOW_TO_PERSON
        boxes = np.concatenate([windows[:, :2] + (windows[:, 2:] - size) / 2, size], 1)
        keep = np.ravel(cv2.dnn.NMSBoxes(boxes.tolist(), np.ravel(scores).astype(float).tolist(), 0.3, 0.5))
        return [Region(tuple(boxes[i, :2] + boxes[i, 2:] / 2), float(boxes[i, 2:].max() * self.margin)) for i in keep]


def from_parts(points: np.ndarray, score: float) -> Detection:
    """A person the part network found, as BlazePose's detector gives one: `points` (18, 2) are their COCO
    parts in image pixels (`tfpose3d.parts.PARTS`, NaN where not found). The hips' and shoulders' middles are the
    found parts' (where the hips are hidden, the hips lie a torso below the shoulders, a torso being 1.5
    shoulder widths); the body circle holds every found part with a margin for the top of the head and the
    soles, and is at least 1.5 torsos; the upper body's circle is half of it.

    Example:
        >>> points = np.full((18, 2), np.nan)
        >>> points[[2, 5, 8, 11]] = [[40, 40], [60, 40], [42, 80], [58, 80]]  # shoulders and hips
        >>> from_parts(points, 1.0).keypoints.round(1).tolist()
        [[50.0, 80.0], [50.0, 20.0], [50.0, 40.0], [50.0, 10.0]]
    """
    found = np.isfinite(points).all(1)
    index = {name: k for k, name in enumerate(PARTS)}

    def middle(*names: str) -> np.ndarray | None:
        seen = [points[index[n]] for n in names if found[index[n]]]
        return np.mean(seen, 0) if seen else None

    shoulders = middle("r_shoulder", "l_shoulder")
    shoulders = middle("neck") if shoulders is None else shoulders
    shoulders = points[found].mean(0) if shoulders is None else shoulders
    hips = middle("r_hip", "l_hip")
    if hips is None:
        width = np.linalg.norm(points[index["r_shoulder"]] - points[index["l_shoulder"]])
        hips = shoulders + [0.0, 1.5 * width if np.isfinite(width) else 1.0]
    torso = max(float(np.linalg.norm(shoulders - hips)), 1e-6)
    radius = max(1.15 * float(np.linalg.norm(points[found] - hips, axis=1).max()), 1.5 * torso)
    axis = (shoulders - hips) / torso
    keypoints = np.stack([hips, hips + axis * radius, shoulders, shoulders + axis * radius / 2])
    return Detection((*(float(v) for v in hips - radius), 2 * radius, 2 * radius), float(score), keypoints)


def same_person(a: Detection, b: Detection, near: float = 0.5) -> bool:
    """Whether two detections put the torso on the same body: their hips' and shoulders' middles lie, on
    average, within `near` of the longer of their torsos."""
    ta, tb = a.torso(), b.torso()
    torso = max(np.linalg.norm(ta[1] - ta[0]), np.linalg.norm(tb[1] - tb[0]))
    return bool(np.linalg.norm(ta - tb, axis=1).mean() <= near * torso)


class PersonDetector:
    """People in an RGB image: BlazePose's person detector over the whole image, as MediaPipe runs it, best
    first; then the people the part network finds that BlazePose did not (`same_person`), best first.

    Args:
        threshold: the lowest BlazePose detection score kept (MediaPipe's 0.5).
        overlap: BlazePose detections whose face boxes overlap a better one by more than this are merged into it.
        tiles: finer levels of overlapping tiles BlazePose's detector also searches (0: the whole image only).
        proposals: BlazePose's detector also searches the squares around HOG's people (`HogProposals`).
        parts: add the people the part network finds (`tfpose3d.parts.PartNetwork`).
        threads: CPU threads for LiteRT.

    Example:
        >>> PersonDetector()(np.zeros((240, 320, 3), np.uint8))
        []
    """

    def __init__(self, threshold: float = 0.5, overlap: float = 0.3, tiles: int = 0, proposals: bool = False,
                 parts: bool = True, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        if not ASSET.is_file():
            raise FileNotFoundError(f"{ASSET}: the person detector is missing; rebuild it with "
                                    "`python tools/make_blazepose_asset.py` (see data/ATTRIBUTION.md)")
        self.threshold, self.overlap, self.tiles = threshold, overlap, tiles
        self.proposals = HogProposals(1.5 * crop_margin()) if proposals else None
        self.parts = PartNetwork(threads) if parts else None
        self._interpreter = Interpreter(model_path=str(ASSET), num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"][1:]): d["index"] for d in self._interpreter.get_output_details()}
        self._boxes, self._scores = outputs[(len(anchors()), 12)], outputs[(len(anchors()), 1)]

    def raw(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detector's raw outputs for one 224 x 224 RGB uint8 image: (2254, 12) and (2254,)."""
        self._interpreter.set_tensor(self._input, (square[None].astype(np.float32) / 127.5 - 1.0))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._boxes)[0], self._interpreter.get_tensor(self._scores)[0, :, 0]

    def __call__(self, image: np.ndarray) -> list[Detection]:
        people = self.blazepose(image)
        if self.parts is not None:
            people += [p for p in self.from_parts(image) if not any(same_person(p, q) for q in people)]
        return people

    def blazepose(self, image: np.ndarray) -> list[Detection]:
        """The people BlazePose's detector finds, best first."""
        h, w = image.shape[:2]
        searched = [Region((x + side / 2, y + side / 2), side) for x, y, side in views(w, h, self.tiles)]
        searched += self.proposals(image) if self.proposals else []
        scores, boxes, keypoints = [], [], []
        for region in searched:
            s, b, k = decode(*self.raw(crop_region(image, region, INPUT)), self.threshold)
            corner = np.asarray(region.centre) - region.side / 2
            scores.append(s)
            boxes.append(np.concatenate([b[:, :2] * region.side + corner, b[:, 2:] * region.side], 1))
            keypoints.append(k * region.side + corner)
        found = weighted_nms(np.concatenate(scores), np.concatenate(boxes), np.concatenate(keypoints), self.overlap)
        people = []
        for score, face, points in found:
            radius = np.linalg.norm(points[BODY_CIRCLE] - points[HIPS])
            box = (*(points[HIPS] - radius), 2 * radius, 2 * radius)
            people.append(Detection(tuple(float(v) for v in box), score, points, tuple(float(v) for v in face)))
        return people

    def from_parts(self, image: np.ndarray) -> list[Detection]:
        """The people the part network finds, best first (none when it is off)."""
        if self.parts is None:
            return []
        maps, scale = self.parts(image)
        # A cell's centre in image pixels: cells are `STRIDE` pixels of the scaled image.
        return [from_parts((found[:, :2] + 0.5) * STRIDE / scale, score) for found, score in join(maps)]
