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
are given the same four keypoints (`from_parts`) and added where BlazePose found nobody. It also vets
BlazePose's people: one is kept where the part network sees a person's worth of parts within its body
circle (`parts_within`), which drops BlazePose's boxes on animals and buildings. `tiles` also runs
BlazePose's detector on overlapping squares at finer scales, an option the measurement compares. In a crowd
(`CROWD` people or more found) the part network looks again at the photo seen larger, for its small people.
`bench/detector_photos.py` measures them on the real dev photographs.
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
from tfpose3d.terminal import quiet_stderr
from tfpose3d.parts import MIN_PARTS, PARTS, PEAK_FLOOR, SHORT_SIDE, PartNetwork, peaks_in_image, people_in_image

ASSET = Path(__file__).parent / "data" / "pose_detection.tflite"
# The detector is shipped byte for byte as MediaPipe's wheel holds it (tools/make_blazepose_asset.py checks).
ASSET_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
INPUT = 224  # the detector's input side
# MediaPipe's pose_detection graph: its SSD anchors (strides 8, 16 and 32, two, two and six anchors a cell)
# and the ROI it derives from the body circle.
_STRIDES = ((8, 2), (16, 2), (32, 6))
ROI_SCALE = 1.25
# The lowest BlazePose detection score PersonDetector keeps: MediaPipe's (docs/video.md measures 0.6 too).
SCORE_FLOOR = 0.5
# In a photo where this many people are found, the part network also sees it at this shorter side (its own is
# SHORT_SIDE): on the dev photos that finds the 17th person, a wheelchair user small in a crowd, and puts no
# box on nothing; seen larger in every photo it costs four times the time and puts 8 more boxes on the 128
# background photos, none of which holds this many people (docs/video.md, "Small people in a crowd").
CROWD, CROWD_SIDE = 8, 656
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

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray, score: float,
                       face: tuple[float, float, float, float] | None = None) -> "Detection":
        """A detection from its four keypoints (4, 2; image pixels, MediaPipe's order): its box is the square
        that holds the body circle.

        Example:
            >>> Detection.from_keypoints(np.array([[50.0, 80], [50, 20], [50, 40], [50, 10]]), 0.9).box
            (-10.0, 20.0, 120.0, 120.0)
        """
        radius = float(np.linalg.norm(keypoints[BODY_CIRCLE] - keypoints[HIPS]))
        corner = keypoints[HIPS] - radius
        return cls((float(corner[0]), float(corner[1]), 2 * radius, 2 * radius), float(score), keypoints, face)

    def torso(self) -> np.ndarray:
        """(2, 2) where the detection puts the middle of the hips and of the shoulders: its keypoints, or for a
        plain box its centre for both."""
        if self.keypoints is None:
            return np.stack([(self.lo + self.hi) / 2] * 2)
        return self.keypoints[[HIPS, SHOULDERS]]

    def body_circle(self) -> tuple[np.ndarray, float]:
        """The circle that holds the whole body, from the keypoints: its centre (the hips' middle) and radius."""
        hips = self.keypoints[HIPS]
        return hips, float(np.linalg.norm(self.keypoints[BODY_CIRCLE] - hips))

    def region(self, margin: float) -> Region:
        """Where to crop the person: MediaPipe's aligned square from the keypoints, or for a plain box an
        upright square `margin` times its longer side."""
        if self.keypoints is None:
            return Region(tuple((self.lo + self.hi) / 2), float(max(self.box[2:])) * margin)
        hips, radius = self.body_circle()
        return Region(tuple(hips), 2 * radius * ROI_SCALE, upright_angle(hips, self.keypoints[BODY_CIRCLE]))


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


def body_box(joints_2d: np.ndarray, score: float = 1.0) -> Detection:
    """The box a whole person fills, from their joints (17, 2; image pixels): the joints' box grown on every
    side by half of what hands, feet and the top of the head add to its longer side (`BODY_OVER_JOINTS`).

    Example:
        >>> np.round(body_box(np.array([[0.0, 0.0], [50.0, 200.0]] * 8 + [[10.0, 10.0]])).box, 6).tolist()
        [-15.0, -15.0, 80.0, 230.0]
    """
    lo, hi = np.min(joints_2d, 0), np.max(joints_2d, 0)
    grow = (BODY_OVER_JOINTS - 1) / 2 * float(np.max(hi - lo))
    return Detection(tuple(float(v) for v in (*(lo - grow), *(hi - lo + 2 * grow))), float(score))


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


def from_parts(points: np.ndarray, score: float) -> Detection:
    """A person the part network found, as BlazePose's detector gives one: hips, body circle, shoulders and
    upper body circle.

    The hips' and shoulders' middles are the found parts' (the neck stands for hidden shoulders). Hidden hips
    lie 1.5 shoulder widths below the shoulders, a width being the shoulders' distance or, with one shoulder
    or none, twice the farthest found part from them. The body circle holds every found part with a margin
    for the top of the head and the soles, and is at least 1.5 torsos; the upper body's is half of it.

    Args:
        points: (18, 2) the person's COCO parts (`tfpose3d.parts.PARTS`) in image pixels, NaN where not found;
            the neck or a shoulder and one other part must be found.
        score: the detection's score.

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
    if shoulders is None or found.sum() < 2:
        raise ValueError(f"from_parts: the neck or a shoulder and one other part are needed to frame a person, "
                         f"got {[name for name, k in index.items() if found[k]]}")
    hips = middle("r_hip", "l_hip")
    if hips is None:
        both = found[index["r_shoulder"]] and found[index["l_shoulder"]]
        width = (np.linalg.norm(points[index["r_shoulder"]] - points[index["l_shoulder"]]) if both
                 else 2 * np.linalg.norm(points[found] - shoulders, axis=1).max())
        hips = shoulders + [0.0, 1.5 * width]
    torso = float(np.linalg.norm(shoulders - hips))
    # Shoulders on the hips (a person seen from above) give no axis: upright then.
    axis = (shoulders - hips) / torso if torso > 1e-6 else np.array([0.0, -1.0])
    radius = max(1.15 * float(np.linalg.norm(points[found] - hips, axis=1).max()), 1.5 * torso, 1.0)
    return Detection.from_keypoints(np.stack([hips, hips + axis * radius, shoulders, shoulders + axis * radius / 2]), score)


def from_maps(maps: np.ndarray, scale: np.ndarray, threshold: float = PEAK_FLOOR, min_parts: int = MIN_PARTS) -> list[Detection]:
    """The people joined from the part network's maps (`tfpose3d.parts.people_in_image`, with its `threshold`
    and `min_parts`), best first, in the pixels of the image that was seen at `scale` (x, y: the network's
    input pixels per image pixel)."""
    return [from_parts(points, score) for points, score in people_in_image(maps, scale, threshold, min_parts)]


def parts_within(detection: Detection, part_points: Sequence[np.ndarray]) -> int:
    """How many parts peak within the detection's body circle (around its hips, through its body circle
    point).

    Args:
        detection: a detection with keypoints.
        part_points: per part, its peaks (K, 2) in image pixels (`tfpose3d.parts.peaks_in_image`).

    Example:
        >>> person = Detection.from_keypoints(np.array([[50.0, 80], [50, 20], [50, 40], [50, 10]]), 0.9)
        >>> parts_within(person, [np.array([[50.0, 30]]), np.array([[200.0, 30]]), np.zeros((0, 2))])
        1
    """
    hips, radius = detection.body_circle()
    return sum(bool(np.any(np.linalg.norm(points - hips, axis=1) < radius)) for points in part_points)


def same_person(a: Detection, b: Detection, near: float = 0.5) -> bool:
    """Whether two detections put the torso on the same body.

    Args:
        a, b: detections with keypoints (or plain boxes, whose centre stands for the torso).
        near: the largest mean distance of their hips' and shoulders' middles, as a fraction of the longer of
            their torsos.

    Example:
        >>> def person(hips, shoulders):
        ...     return Detection((0, 0, 1, 1), 1.0, np.array([hips, hips, shoulders, shoulders], float))
        >>> same_person(person((100, 200), (100, 100)), person((120, 210), (110, 110)))
        True
    """
    ta, tb = a.torso(), b.torso()
    torso = max(np.linalg.norm(ta[1] - ta[0]), np.linalg.norm(tb[1] - tb[0]))
    return bool(np.linalg.norm(ta - tb, axis=1).mean() <= near * torso)


def add_new(people: list[Detection], more: Sequence[Detection]) -> list[Detection]:
    """`people`, extended in place by each of `more` that is not the same person (`same_person`) as anyone in
    it, those added before included.

    Example:
        >>> def person(x):
        ...     return Detection((0, 0, 1, 1), 1.0, np.array([[x, 200], [x, 0], [x, 100], [x, 50]], float))
        >>> [float(p.keypoints[0, 0]) for p in add_new([person(100.0)], [person(110.0), person(300.0), person(305.0)])]
        [100.0, 300.0]
    """
    for person in more:
        if not any(same_person(person, other) for other in people):
            people.append(person)
    return people


class PersonDetector:
    """People in an RGB image: BlazePose's person detector over the whole image, best first; then the people
    the part network finds that BlazePose did not (`same_person`), best first. With the part network, a
    BlazePose person is kept only where at least `MIN_PARTS` parts (as many as the part network frames a
    person with) peak within their body circle: on the 128 background photographs the package ships, that
    takes the boxes from 19 to 6 and finds the same dev people (docs/video.md).

    A detection's `score` is BlazePose's probability, or for the part network's people the mean peak of
    their parts' heatmaps; the part network's people have no face box.

    Args:
        threshold: the lowest BlazePose detection score kept (MediaPipe's 0.5). At 0.6 the same dev people
            are found and as many boxes land on the background photographs, but the dev photos read worse
            end to end (docs/video.md).
        overlap: BlazePose detections whose face boxes overlap a better one by more than this are merged into it.
        tiles: finer levels of overlapping tiles BlazePose's detector also searches (0: the whole image only).
        around: also search a square this many body circles wide around each person found (0: not), its people
            vetted alike and added where no one was found: a second, closer look for a partner or a neighbour
            the whole image hides. An option the measurement compares (docs/video.md).
        parts: add the people the part network finds (`tfpose3d.parts.PartNetwork`) and vet BlazePose's.
        crowd: in a photo where at least this many people are found, add those the part network finds with the
            photo seen at the shorter side `CROWD_SIDE` (0: never; without `parts`, never).
        threads: CPU threads for LiteRT.

    Example:
        >>> PersonDetector()(np.zeros((240, 320, 3), np.uint8))
        []
    """

    def __init__(self, threshold: float = SCORE_FLOOR, overlap: float = 0.3, tiles: int = 0, parts: bool = True,
                 threads: int | None = None, around: float = 0.0, crowd: int = CROWD):
        from ai_edge_litert.interpreter import Interpreter

        if not ASSET.is_file():
            raise FileNotFoundError(f"{ASSET}: the person detector is missing; rebuild it with "
                                    "`python tools/make_blazepose_asset.py` (see data/ATTRIBUTION.md)")
        if not 0 <= around < np.inf:
            raise ValueError(f"PersonDetector: around must be 0 (off) or a number of body circles, got {around}")
        if around and not parts:
            raise ValueError("PersonDetector: around needs the part network (parts=True), which vets its people")
        if isinstance(crowd, bool) or not isinstance(crowd, (int, np.integer)) or crowd < 0:
            raise ValueError(f"PersonDetector: crowd must be 0 (off) or a number of people, got {crowd!r}")
        self.threshold, self.overlap, self.tiles, self.around = threshold, overlap, tiles, around
        self.parts = PartNetwork(threads) if parts else None
        self.crowd = int(crowd) if parts else 0
        # A network of its own: LiteRT reallocates its tensors whenever the input size changes, as it would
        # back and forth on every frame of a video.
        self.crowd_parts = PartNetwork(threads) if self.crowd else None
        self._interpreter = Interpreter(model_path=str(ASSET), num_threads=threads)
        with quiet_stderr():  # LiteRT's "INFO: Created ... XNNPACK delegate" on the first allocation
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
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"PersonDetector: expected an RGB image, (H, W, 3) uint8; got {image.dtype} {image.shape}")
        if min(image.shape[:2]) == 0:
            return []
        people = self.blazepose(image)
        if self.parts is None:
            return people
        maps, scale = self.parts(image)
        part_points = peaks_in_image(maps, scale)
        people = [p for p in people if parts_within(p, part_points) >= MIN_PARTS]
        people += [p for p in from_maps(maps, scale) if not any(same_person(p, q) for q in people)]
        if self.crowd and len(people) >= self.crowd:
            add_new(people, from_maps(*self.crowd_parts(image, CROWD_SIDE)))
        if self.around and people:
            near = [Region(tuple(hips), 2 * self.around * radius) for hips, radius in (p.body_circle() for p in people)]
            # Checked against those added from the closer look too: two squares can find one body apart.
            add_new(people, [p for p in self.blazepose(image, near) if parts_within(p, part_points) >= MIN_PARTS])
        return people

    def blazepose(self, image: np.ndarray, searched: Sequence[Region] | None = None) -> list[Detection]:
        """The people BlazePose's detector finds in the `searched` squares (by default the whole image and
        the tiles), best first."""
        if searched is None:
            h, w = image.shape[:2]
            searched = [Region((x + side / 2, y + side / 2), side) for x, y, side in views(w, h, self.tiles)]
        if not searched:
            return []
        scores, boxes, keypoints = [], [], []
        for region in searched:
            s, b, k = decode(*self.raw(crop_region(image, region, INPUT)), self.threshold)
            corner = np.asarray(region.centre) - region.side / 2
            scores.append(s)
            boxes.append(np.concatenate([b[:, :2] * region.side + corner, b[:, 2:] * region.side], 1))
            keypoints.append(k * region.side + corner)
        found = weighted_nms(np.concatenate(scores), np.concatenate(boxes), np.concatenate(keypoints), self.overlap)
        return [Detection.from_keypoints(points, score, tuple(float(v) for v in face)) for score, face, points in found]

    def parts_people(self, image: np.ndarray, short_side: int = SHORT_SIDE) -> list[Detection]:
        """The people the part network finds with the image seen at that shorter side, best first (none when
        it is off)."""
        if self.parts is None:
            return []
        return from_maps(*self.parts(image, short_side))
