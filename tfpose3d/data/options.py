"""What a rendered data source draws and how training augments it: plain dataclasses, no TensorFlow.

They live apart from the tf.data code that uses them (`pipeline`, `sources`), so a configuration can be read,
written and checked where TensorFlow is not installed.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Augment:
    """Random augmentation, all applied inside the pipeline.

    Args:
        scale: range of zoom factors about the image centre.
        translate: largest shift as a fraction of the image side.
        flip: probability of a horizontal flip (left/right joints swapped, 3D mirrored).
        color: strength of brightness/contrast/saturation/hue jitter (0 disables).
        texture: probability of a random convolution over the whole image (RandConv, Xu et al., ICLR 2021):
            a random 1x1 to 7x7 filter re-textures it, blended with the original at a random weight, so the
            network cannot lean on the renders' surface look (0 disables).
    """

    scale: tuple[float, float] = (0.85, 1.15)
    translate: float = 0.08
    flip: float = 0.5
    color: float = 0.2
    texture: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", tuple(self.scale))
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"Augment.scale must be (low, high) with 0 < low <= high, got {self.scale}")
        if not 0 <= self.translate < 0.5:
            raise ValueError(f"Augment.translate must be in [0, 0.5), got {self.translate}")
        if not 0 <= self.flip <= 1:
            raise ValueError(f"Augment.flip is a probability in [0, 1], got {self.flip}")
        if not 0 <= self.color <= 1:
            raise ValueError(f"Augment.color must be in [0, 1], got {self.color}")
        if not 0 <= self.texture <= 1:
            raise ValueError(f"Augment.texture is a probability in [0, 1], got {self.texture}")


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    """How a "mocap:" source renders its data the first time it is used.

    Args:
        train_images, test_images: images per split.
        seed: the data's seed; each split draws its own stream from it (`split_seed`).
        root: where rendered data goes (default: $TFPOSE3D_DATA, else ./data).
        look: a row of `LOOKS`, what varies beyond body and pose.
    """

    train_images: int = 20000
    test_images: int = 2000
    seed: int = 0
    root: str | os.PathLike | None = None
    look: str = "full"


@dataclasses.dataclass(frozen=True)
class Look:
    """What the renderer varies beyond the body: the ingredients of real-photo appearance, and of poses.

    Args:
        photo_backgrounds: how often a real photograph stands behind the person (else a procedural room).
        textures: patterned clothes, textured skin and hair, a face.
        occluders: how often things stand in front of the person.
        imaging: blur, noise, low light, colour casts, vignetting, JPEG.
        cameras: varied focal length, height, distance and roll, and a crop jittered like a detector's box
            (sometimes cutting off feet or hands); else Human3.6M-like cameras and a centred crop.
        poses: how often a training pose is varied beyond the captured ones (`mocap.MotionSet.vary`: limbs
            from other frames, joints turned further); held-out clips are always rendered as captured.
        seated: how often a training pose (after any variation) sits (`mocap.sit`: the legs of someone on a
            chair or in a wheelchair); held-out clips never do.
    """

    photo_backgrounds: float = 0.7
    textures: bool = True
    occluders: float = 0.4
    imaging: bool = True
    cameras: bool = True
    poses: float = 0.0
    seated: float = 0.0

    def __post_init__(self) -> None:
        for name in ("photo_backgrounds", "occluders", "poses", "seated"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"Look.{name} is a share of images in [0, 1], got {getattr(self, name)}")


# Each look adds one ingredient to the one before, but the last two: the real-photo ablation trains one model
# per row, "plain-poses" measures varied poses alone and "plain-seated" seated legs alone.
LOOKS: dict[str, Look] = {
    "plain": Look(0.0, False, 0.0, False, False),
    "backgrounds": Look(0.7, False, 0.0, False, False),
    "appearance": Look(0.7, True, 0.0, False, False),
    "occluders": Look(0.7, True, 0.4, False, False),
    "imaging": Look(0.7, True, 0.4, True, False),
    "full": Look(),
    "poses": Look(poses=0.5),
    "plain-poses": Look(0.0, False, 0.0, False, False, 0.5),
    "plain-seated": Look(photo_backgrounds=0.0, textures=False, occluders=0.0, imaging=False, cameras=False,
                         seated=0.2),
}


# What each means: `tfpose3d.data.sources`.
SPLITS = ("train", "val", "test")


def check_split(split: str) -> None:
    """An error naming the splits, for any other `split`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def split_seed(seed: int, split: str) -> int:
    """The seed of `split`'s stream of renders for the data seed `seed`: each split its own, so val and test,
    both drawn from the held-out clips, hold different images.

    Example:
    >>> [split_seed(0, split) for split in SPLITS]
    [0, 2, 1]
    """
    check_split(split)
    return seed + {"train": 0, "test": 1, "val": 2}[split]


def motion_split(split: str) -> str:
    """The clips of a motion set that `split` draws its poses from: val and test both from the held-out clips."""
    check_split(split)
    return "train" if split == "train" else "test"


def look_named(name: str, split: str = "train") -> Look:
    """The row `name` of `LOOKS`, with an error that lists the names; for the held-out splits ("val", "test"),
    without varied or seated poses (held-out clips measure the captured poses themselves)."""
    if name not in LOOKS:
        raise ValueError(f"unknown look {name!r}; choose one of {', '.join(LOOKS)}")
    return LOOKS[name] if split == "train" else dataclasses.replace(LOOKS[name], poses=0.0, seated=0.0)
