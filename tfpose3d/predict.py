"""Inference from any exported form (.keras, SavedModel, .tflite) on whole photographs and videos.

A photo goes through a person detector (or a box the user gives), each person
is cropped the way the model was trained, and the joints come back in the
photo's pixels. A video is read frame by frame; one person is followed across
frames, and the 3D poses are smoothed over time. Detection (`detect`),
tracking (`video`) and smoothing (`smooth`) are called from here, outside the
exported model, whose signature stays the same for TF Serving and TFLite.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from tfpose3d import contract, skeleton
from tfpose3d.data.camera import Region, turn_3d
from tfpose3d.data.images import crop_region, read_rgb
from tfpose3d.detect import Detection, PersonDetector, body_box, crop_margin, pose_region, touches_border
from tfpose3d.export import form_of
from tfpose3d.paths import writable

if TYPE_CHECKING:
    from tfpose3d.video import FrameReader


@dataclasses.dataclass
class Person:
    """One person's pose in a photo or frame.

    Attributes:
        box: where the person was found (or the box given), image pixels; in a video frame where the person
            is followed from their last pose, the box that pose's body fills (`detect.body_box`), with the
            score of the detection that found them.
        region: the square the model saw, turned so that the person is upright in it.
        joints_2d: (17, 2) in the image's pixels.
        pose_3d: (17, 3) millimetres, relative to the pelvis, in the camera axes of the whole image (x right,
            y down, z forward).
        confidence: the mean over joints of the 2D heatmaps' peak probability, in [0, 1].
        at_border: the body the estimated joints give (`detect.body_box`) reaches the image's edge, so the
            person may be cut off and joints beyond it guessed.
        crop: the 225x225 crop the model saw, and `crop_joints_2d` (17, 2) its 2D joints in it.
        track_id: in a video, the person's id: it stays while they are followed, and when they are found
            again where they were lost.
    """

    box: Detection
    region: Region
    joints_2d: np.ndarray
    pose_3d: np.ndarray
    confidence: float
    at_border: bool
    crop: np.ndarray = dataclasses.field(repr=False)  # 225 x 225 x 3 numbers would fill a notebook's cell
    crop_joints_2d: np.ndarray = dataclasses.field(repr=False)
    track_id: int | None = None

    def to_json(self) -> dict:
        return {
            "box_xywh": [round(v, 1) for v in self.box.box], "score": round(self.box.score, 3), "at_border": self.at_border,
            "crop": {"centre_px": [round(v, 1) for v in self.region.centre], "side_px": round(self.region.side, 1),
                     "angle_deg": round(float(np.degrees(self.region.angle)), 1)},
            "confidence": round(self.confidence, 3), **({} if self.track_id is None else {"id": self.track_id}),
            "joints_2d_px": np.round(self.joints_2d, 1).tolist(),
            # float64 first: a float32 rounded to one decimal prints as -67.0999984741211
            "pose_3d_mm": np.round(self.pose_3d.astype(np.float64), 1).tolist(),
        }


def _as_image(image: str | os.PathLike | np.ndarray) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        from tfpose3d.video import VIDEO_SUFFIXES

        if Path(image).suffix.lower() in VIDEO_SUFFIXES:
            raise ValueError(f"{image}: a video; tfpose3d.predict.predict_video follows a person through one")
        return read_rgb(image)
    if isinstance(image, (bytes, bytearray)):
        raise ValueError("an image is a file's path or an (H, W, 3) RGB array, not the file's bytes; "
                         "tfpose3d.data.images.read_rgb reads any image file as one")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"an image must be (H, W, 3) RGB, got shape {image.shape}; "
                         "tfpose3d.data.images.read_rgb reads any image file as one")
    return contract.pixels(image)


def _box_given(box: Detection | Sequence[float], image: np.ndarray, on_image: bool) -> Detection:
    """A box given to `Predictor.predict_image` as a Detection, checked: finite, of positive size and, where
    `on_image`, not wholly outside the image."""
    values = box.box if isinstance(box, Detection) else box
    try:
        x, y, bw, bh = (float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"a box is a tfpose3d.detect.Detection or (x, y, w, h) in pixels, got {box!r}") from None
    if not np.all(np.isfinite([x, y, bw, bh])) or bw <= 0 or bh <= 0:
        raise ValueError(f"box (x, y, w, h) = {(x, y, bw, bh)}: the numbers must be finite, the width and height positive")
    h, w = image.shape[:2]
    if on_image and (x >= w or y >= h or x + bw <= 0 or y + bh <= 0):
        raise ValueError(f"box (x, y, w, h) = {(x, y, bw, bh)} lies wholly outside the {w}x{h} image")
    return box if isinstance(box, Detection) else Detection((x, y, bw, bh))


class Predictor:
    """Run the serving contract of a `.keras` file, a SavedModel folder or a `.tflite` file.

    Args:
        path: the model; its form is recognised by `tfpose3d.export.form_of`.
        threads: CPU threads for TFLite and the detector.
        flip: test-time flip (the mirrored image estimated too and averaged in; twice the compute), from the
            exported form's `serving_flip` signature.
        detector: finds people in whole photos (default: `detect.PersonDetector`, made when first needed).

    Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "m.keras"
    >>> build_model(ModelConfig(width=0.05, image_size=64, grid_size=8)).save(path)
    >>> predictor = Predictor(path)                  # or a SavedModel folder, or a .tflite file
    >>> predictor(np.zeros((2, 225, 225, 3), np.uint8))["pose_3d"].shape
    (2, 17, 3)
    >>> photo = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)  # a public-domain portrait
    >>> [person.joints_2d.shape for person in predictor.predict_image(photo)]  # one Person per person found
    [(17, 2)]
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None, flip: bool = False,
                 detector: PersonDetector | None = None):
        self.path = Path(path)
        form = form_of(self.path)
        self.kind = form.runtime
        self._run = form.open(self.path, threads, flip)
        self._threads, self._detector = threads, detector

    def __call__(self, images: Any) -> dict[str, np.ndarray]:
        batch = contract.check_images(images)
        return contract.check_outputs(self._run(batch), len(batch))

    @property
    def detector(self) -> PersonDetector:
        if self._detector is None:
            self._detector = PersonDetector(threads=self._threads)
        return self._detector

    def detect(self, image: str | os.PathLike | np.ndarray) -> list[Detection]:
        return self.detector(_as_image(image))

    def predict_image(self, image: str | os.PathLike | np.ndarray,
                      boxes: Sequence[Detection | Sequence[float]] | None = None,
                      regions: Sequence[Region] | None = None,
                      choose: Callable[[Person, Person], Person] | None = None) -> list[Person]:
        """The pose of each person in a photo of any size: those in `boxes` (whole-person boxes in pixels, each a
        `Detection` or (x, y, w, h); one wholly outside the image, or not of positive size, is an error that
        names it), or else those the detector finds, in its order (`PersonDetector`), each once (`distinct`).
        An empty list when there is nobody.

        Each person is estimated twice (`both_crops`): first in the box's crop (for a detection, turned upright
        on its hips and shoulders), then in the crop their estimated joints give, framed as the training
        renders are. `choose` picks one of the two (by default `on_the_body`: the second, unless it slid off a
        detection's body). `regions` (one per box, framed from a pose already, as a tracker's from the last
        frame) are estimated once.
        """
        image = _as_image(image)
        detected = boxes is None
        # A tracker's box (given with its region) may have been left behind by the person; a user's must be on them.
        boxes = self.detector(image) if detected else [_box_given(b, image, regions is None) for b in boxes]
        if not boxes:
            return []
        if regions is None:
            people = [(choose or on_the_body)(a, b) for a, b in zip(*self.both_crops(image, boxes))]
        else:
            people = self.estimate(image, boxes, regions)
        return distinct(people) if detected else people

    def both_crops(self, image: str | os.PathLike | np.ndarray,
                   boxes: Sequence[Detection]) -> tuple[list[Person], list[Person]]:
        """Each box's person estimated in the box's crop, and again in the crop that first estimate frames."""
        image = _as_image(image)
        first = self.estimate(image, boxes, [b.region(crop_margin()) for b in boxes])
        return first, self.estimate(image, boxes, [pose_region(person.joints_2d) for person in first])

    def estimate(self, image: np.ndarray, boxes: Sequence[Detection], regions: Sequence[Region]) -> list[Person]:
        """The person of each box, estimated once in its region of the image."""
        size = contract.IMAGE_SIZE
        crops = np.stack([crop_region(image, region, size) for region in regions])
        out = self(crops)
        peaks = pose_confidence(out["heatmaps_2d"])
        h, w = image.shape[:2]
        people = []
        for i, (box, region) in enumerate(zip(boxes, regions)):
            joints = region.from_crop(out["joints_2d"][i], size)
            people.append(Person(box, region, joints, turn_3d(out["pose_3d"][i], region).astype(np.float32),
                                 float(peaks[i]), touches_border(body_box(joints), w, h), crops[i], out["joints_2d"][i]))
        return people


# How far the second crop may move a person's torso from where the first estimate put it, as a share of that
# first body's size. On 400 held-out renders it moves it at most 0.027 (99% within 0.017), on the people of the
# dev photos it keeps at most 0.04, where the crops that slid onto a neighbour or a partner moved it 0.11 and
# more (bench/second_crop.py): three times the renders' largest.
SLIDE = 0.08

# A person whose crop (framed on the body as the training renders are, the person about 1/1.45 of its side) is
# under this many pixels of the photo is read much worse once enlarged to the model's input: on held-out renders
# the 2D error is 1.5 times its full-size value at a crop of 80 px and 2.2 times at 56 px, the MPJPE 94 and 122 mm
# against 74 (bench/small_people.py; docs/results.md, "How small a person can be").
SMALL_CROP = 80


def torso_move(first: np.ndarray, second: np.ndarray) -> float:
    """How far `second` (17, 2) puts the middles of the hips and shoulders (`skeleton.torso_ends`) from where
    `first` (17, 2) puts them, on average, as a share of the first body's size (the longer side of its joints'
    box).

    Example:
        >>> first = np.zeros((17, 2)); first[:, 1] = np.linspace(0.0, 160.0, 17)   # 160 px tall
        >>> torso_move(first, first + [16.0, 0.0])
        0.1
        >>> arms_up = first.copy(); arms_up[[12, 13, 15, 16], 1] -= 120.0           # the limbs move, not the torso
        >>> torso_move(first, arms_up)
        0.0
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    ends = [np.stack(skeleton.torso_ends(joints)) for joints in (first, second)]
    return float(np.linalg.norm(ends[1] - ends[0], axis=-1).mean() / max(float(np.ptp(first, 0).max()), 1.0))


def slid_off(first: np.ndarray, second: np.ndarray, most: float = SLIDE) -> bool:
    """Whether the second estimate of a person, `second` (17, 2; from the crop that `first`'s joints frame), has
    slid off the body `first` found: it moves the torso more than `most` of that body's size (`torso_move`). A
    crop framed on a first pose that reaches onto a neighbour in a crowd, or a partner in an acrobatic pair,
    can end on that other body.

    Example:
        >>> first = np.zeros((17, 2)); first[:, 1] = np.linspace(0.0, 160.0, 17)   # 160 px tall
        >>> slid_off(first, first + [10.0, 0.0]), slid_off(first, first + [15.0, 0.0])
        (False, True)
    """
    return torso_move(first, second) > most


def on_the_body(first: Person, second: Person) -> Person:
    """`Predictor.predict_image`'s choice between a person's two estimates (`Predictor.both_crops`): the second,
    from the crop framed on the first pose as the training renders are, unless the first comes from a
    detection's aligned crop and the second slid off that body (`slid_off`). A box without keypoints (a user's
    `--box`, framed loosely and upright) always gives way to the crop framed on its pose: a loose box's first
    pose can lie far from its second without any other body in it.
    """
    return first if first.box.keypoints is not None and slid_off(first.joints_2d, second.joints_2d) else second


def pose_confidence(heatmaps: np.ndarray) -> np.ndarray:
    """(N,) each crop's mean over joints of its 2D heatmap's peak probability (`Person.confidence`), from the
    model's `heatmaps_2d` (N, 17, Ng, Ng).

    Example:
        >>> maps = np.full((1, 17, 4, 4), 1 / 16)
        >>> maps[0, 0] = 0.0; maps[0, 0, 1, 2] = 1.0
        >>> pose_confidence(maps).round(4).tolist()
        [0.1176]
    """
    return heatmaps.reshape(*heatmaps.shape[:2], -1).max(-1).mean(-1)


def distinct(people: Sequence[Person], near: float = 0.05) -> list[Person]:
    """`people` (best first) without those found twice: a person whose joints lie, at the median over joints,
    within `near` of the body's size (the longer side of the larger joints' box) from a person kept before is
    the same body, reached from a second detection that the detector kept apart. Two crops that end on one
    body give it twice from nearly the same second crop, while a couple dancing in close hold are two bodies
    whose joints lie near each other (docs/video.md).

    Example:
    >>> from types import SimpleNamespace
    >>> body = np.array([[0.0, 0.0], [0.0, 100.0]] * 8 + [[50.0, 50.0]])
    >>> a, b, c = (SimpleNamespace(joints_2d=j) for j in (body, body + 3, body + [300, 0]))
    >>> kept = distinct([a, b, c])                     # b is a found twice; c is someone else
    >>> len(kept), kept[0] is a, kept[1] is c
    (2, True, True)
    """
    kept: list[Person] = []
    for person in people:
        if not any(_same_body(person.joints_2d, other.joints_2d, near) for other in kept):
            kept.append(person)
    return kept


def _same_body(a: np.ndarray, b: np.ndarray, near: float) -> bool:
    """Whether joints `a` and `b` (17, 2) are one body: `distinct`'s rule."""
    size = max(np.ptp(a, 0).max(), np.ptp(b, 0).max(), 1.0)
    return bool(np.median(np.linalg.norm(a - b, axis=-1)) < near * size)


def given_box(spec: str, image: np.ndarray) -> Detection:
    """A user's `--box`: "x,y,w,h" in pixels, or "whole" for a person who fills the image. A box partly past
    the image's edges is clipped to it; one wholly outside is an error that names it."""
    from tfpose3d.detect import parse_box

    h, w = image.shape[:2]
    if spec == "whole":
        return Detection((0.0, 0.0, float(w), float(h)))
    box = parse_box(spec)
    lo, hi = np.clip(box.lo, 0, [w, h]), np.clip(box.hi, 0, [w, h])
    if np.any(hi - lo <= 0):
        raise ValueError(f"--box {spec}: the box lies wholly outside the {w}x{h} image")
    return Detection((float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])), box.score)


def output_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """A name for each input's outputs, each its own: the file name without the suffix, with as many of its
    folders before it as it takes to tell apart inputs of the same name, its suffix where that is what tells
    them apart, and _2, _3, ... for the same input given again.

    Example:
        >>> output_names(["a/x.jpg", "b/x.jpg", "c/y.mp4", "c/y.png", "/z.jpg", "z.jpg"])
        ['a_x', 'b_x', 'y_mp4', 'y_png', 'z', 'z_2']
        >>> output_names(["a/x.jpg", "a/x.jpg"])
        ['x', 'x_2']
    """
    def named(keys: list[tuple[str, ...]]) -> list[str]:
        names, distinct = [], set(keys)  # the same input twice is told apart by _2, not by its folders
        for own in keys:
            depth = 1
            while depth < len(own) and sum(other[-depth:] == own[-depth:] for other in distinct) > 1:
                depth += 1
            names.append("_".join(own[-depth:]))
        return names

    files = [Path(p) for p in paths]
    keys = [f.with_suffix("").parts[bool(f.anchor):] for f in files]  # no root: a name stays inside --out-dir
    names = named(keys)
    suffixes = {name: {f.suffix for f, other in zip(files, names) if other == name} for name in names}
    keys = [key[:-1] + (key[-1] + f.suffix.replace(".", "_"),) if len(suffixes[name]) > 1 else key
            for key, f, name in zip(keys, files, names)]
    used: set[str] = set()
    for k, name in enumerate(named(keys)):
        candidate, count = name, 1
        while candidate in used:
            count += 1
            candidate = f"{name}_{count}"
        used.add(candidate)
        names[k] = candidate
    return names


def nobody_found(paths: Sequence[str | os.PathLike]) -> str:
    """The message for photos where nobody was found: which, and what to do instead."""
    return (f"no person found in {', '.join(map(str, paths))}; the detector finds people whose face or outline it "
            "sees; pass --box x,y,w,h (the person's box in pixels) or --box whole (the person fills the image)")


def predict_photos(predictor: Predictor, paths: Sequence[str], out_dir: str | os.PathLike, box: str | None = None,
                   names: Sequence[str] | None = None) -> list[dict]:
    """Each photo's people, as JSON-ready dicts; writes <name>_pose_<k>.png per person into out_dir (`names`:
    one per photo, default `output_names(paths)`).

    Every photo is read and searched before anything is written, so an unreadable one stops the batch with
    nothing written. A photo where nobody is found has no people (`"people": []`) and the others keep theirs;
    the command line names it (`nobody_found`; a `box` says where the person is: "x,y,w,h" or "whole") and
    exits with status 2. Where nobody is found in any photo, no folder is made.
    """
    from tfpose3d import viz

    found = []
    for path in paths:
        image = read_rgb(path)
        found.append((path, predictor.predict_image(image, None if box is None else [given_box(box, image)])))
    out_dir = _out_folder(out_dir) if any(people for _, people in found) else Path(out_dir)
    results = []
    for (path, people), name in zip(found, names or output_names(paths)):
        # A photo's pictures are this run's: one of an earlier run that found more people would pass for one.
        for old in out_dir.glob(f"{glob.escape(name)}_pose_*.png"):
            if re.fullmatch(rf"{re.escape(name)}_pose_\d+\.png", old.name):
                old.unlink()
        entries = []
        for k, person in enumerate(people):
            figure = out_dir / f"{name}_pose_{k}.png"
            viz.pose_figure(person.crop, person.crop_joints_2d, person.pose_3d, figure)
            entries.append({**person.to_json(), "figure": str(figure)})
            if person.at_border:
                print(f"{path}: person {k} reaches the image's edge; joints beyond it are guesses", file=sys.stderr)
            if person.region.side < SMALL_CROP:
                print(f"{path}: person {k} is small (a {person.region.side:.0f} px crop, enlarged to the model's "
                      f"{contract.IMAGE_SIZE}); under {SMALL_CROP} px the pose is much less sure", file=sys.stderr)
        results.append({"image": str(path), "joint_names": list(skeleton.JOINT_NAMES), "people": entries})
    return results


def _out_folder(out_dir: str | os.PathLike) -> Path:
    out_dir = writable(out_dir, "--out-dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def track(predictor: Predictor, frames: Iterator, box: str | None = None) -> Iterator[tuple[Any, Person | None]]:
    """(frame, the followed person or None) for each frame: the `box` given (see `given_box`) in every
    frame, or else one person followed by `video.Tracker` (the detector runs only to find them)."""
    from tfpose3d.video import Tracker

    tracker = Tracker()
    for frame in frames:
        h, w = frame.image.shape[:2]
        tracker.resize(w, h)
        if box:
            person = predictor.predict_image(frame.image, [given_box(box, frame.image)])[0]
        else:
            person = None
            if tracker.expected is not None:
                person = predictor.predict_image(frame.image, [tracker.box], [tracker.expected])[0]
                person.box = body_box(person.joints_2d, tracker.box.score)  # where the body is in this frame
                person = person if tracker.keeps(person, w, h) else None
            if person is None:
                found = tracker.choose(predictor.detector(frame.image))
                person = predictor.predict_image(frame.image, [found])[0] if found else None
        tracker.follow(person, w, h)
        if person is not None:
            person.track_id = max(tracker.id, 0)
        yield frame, person


def predict_video(predictor: Predictor, path: str | os.PathLike | FrameReader, out_dir: str | os.PathLike, box: str | None = None,
                  smoothing: str = "window", strength: float = 1.0, video_out: str | os.PathLike | None = None,
                  fps: float = 30.0, progress: bool = True, name: str | None = None) -> dict:
    """Poses of one person through a video file or a folder of frames (or a `FrameReader` already opened on
    one), into <name>_poses.jsonl in out_dir (`name`: default the file or folder name without its suffix).

    Each line is one frame: index, time, the person's box, 2D joints (pixels) and 3D pose (mm, smoothed by
    `smoothing` at `strength`, see `tfpose3d.smooth`), or nulls where nobody was found. Lines are written as
    frames complete, so memory stays constant and a video that breaks off leaves a valid file of the frames
    before; `video_out` (.mp4 or .gif) draws each frame with both skeletons. Returns a summary.
    """
    from tfpose3d import smooth, viz
    from tfpose3d.detect import parse_box
    from tfpose3d.video import FrameReader, FrameWriter

    reader = path if isinstance(path, FrameReader) else FrameReader(path, fps)
    path = reader.path
    if box not in (None, "whole"):
        parse_box(box)  # a malformed box stops here, before anything is written
    stream = smooth.smoother(smoothing, reader.fps, strength)
    out_dir = _out_folder(out_dir)
    lines_path = out_dir / f"{name or Path(path).stem}_poses.jsonl"
    writer = FrameWriter(video_out, reader.fps) if video_out else None
    done = found = 0

    def write(lines, frame, person: Person | None, pose: np.ndarray | None) -> None:
        nonlocal done
        entry = {"frame": frame.index, "time_s": round(frame.time_s, 4)}
        entry.update(person.to_json() if person else {"box_xywh": None, "joints_2d_px": None, "pose_3d_mm": None})
        if pose is not None:
            entry["pose_3d_mm"] = np.round(pose, 1).tolist()
        lines.write(json.dumps(entry) + "\n")
        lines.flush()
        if writer:
            writer.write(viz.video_frame(frame.image, person.joints_2d if person else None, pose))
        done += 1
        # A terminal's line is rewritten each frame; a log gets a line each 100 frames and at the end.
        tty = sys.stderr.isatty()
        if progress and (tty or done % 100 == 0 or done == reader.count):
            # A count, not a frame's number: frames are numbered from 0, as the JSON lines and errors number them.
            line = f"{path}: {done}{f'/{reader.count}' if reader.count else ''} frames done"
            print("\r" + line if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    with open(lines_path, "w") as lines, (writer or contextlib.nullcontext()):
        try:
            for frame, person in track(predictor, iter(reader), box):
                if person is None:
                    # A gap: finish the smoothed stretch before it, then the empty frame; smoothing restarts after.
                    for (f, p), pose in stream.flush():
                        write(lines, f, p, pose)
                    write(lines, frame, None, None)
                    continue
                found += 1
                for (f, p), pose in stream.push((frame, person), person.pose_3d, frame.time_s):
                    write(lines, f, p, pose)
        finally:
            for (f, p), pose in stream.flush():
                write(lines, f, p, pose)
            if progress and sys.stderr.isatty():
                print(file=sys.stderr)
    return {"video": str(path), "joint_names": list(skeleton.JOINT_NAMES), "frames": done, "frames_with_person": found, "fps": reader.fps, "poses": str(lines_path),
            "smoothing": smoothing, "strength": strength, **({"video_out": str(video_out)} if video_out else {})}


def to_json(results: list[dict]) -> str:
    """What `tfpose3d predict` prints: one entry per input, indented for reading."""
    return json.dumps(results, indent=2)
