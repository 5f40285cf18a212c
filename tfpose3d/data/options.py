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
        seed: the training split's seed; the test split uses seed + 1, the val split seed + 2.
        root: where rendered data goes (default: $TFPOSE3D_DATA, else ./data).
        look: a row of `render.LOOKS`, what varies beyond body and pose.
    """

    train_images: int = 20000
    test_images: int = 2000
    seed: int = 0
    root: str | os.PathLike | None = None
    look: str = "full"
