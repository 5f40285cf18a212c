"""Model configuration: a plain dataclass with named presets."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfpose3d import skeleton

VARIANTS = ("baseline", "multi_root", "cls2d", "full")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the network and its losses.

    `ModelConfig()` is the paper's network (Park, Hwang & Kwak 2016). Values the
    paper leaves open are chosen here and documented in the README.

    Args:
        variant: one of the paper's Table 2 rows. `baseline`: one root, no
            2D->3D fusion; `multi_root`: all `roots`; `cls2d`: one root with the
            fusion; `full`: both.
        image_size: side of the square RGB input in pixels.
        grid_size: Ng, the 2D classification grid is Ng x Ng cells.
        grid_width: omega_g in pixels; `None` means one cell's width.
        roots: root joint names for the multi-root variants; the single-root
            variants use the first one.
        width: multiplier on every conv filter count and FC width (1.0 = paper).
        conv_filters: filters of the five conv layers before `width`.
        fc_units: units of every FC layer before `width`.
        dropout: dropout rate after each FC layer.
        batch_norm: batch normalisation after each conv layer (not in the
            paper; it makes training from scratch far less sensitive).
        loss_weight_2d: lambda_2D of eq 5.
        loss_weight_3d: lambda_3D of eq 5.
        pose_unit_mm: the 3D heads regress in this unit; 100 mm keeps the
            regression targets near unit scale.
    """

    variant: str = "full"
    image_size: int = 225
    grid_size: int = 16
    grid_width: float | None = None
    roots: tuple[str, ...] = skeleton.DEFAULT_ROOTS
    width: float = 1.0
    conv_filters: tuple[int, ...] = (64, 128, 192, 192, 192)
    fc_units: int = 2048
    dropout: float = 0.5
    batch_norm: bool = True
    loss_weight_2d: float = 1.0
    loss_weight_3d: float = 1.0
    pose_unit_mm: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "roots", tuple(self.roots))
        object.__setattr__(self, "conv_filters", tuple(self.conv_filters))
        if self.variant not in VARIANTS:
            raise ValueError(f"Unknown variant {self.variant!r}; expected one of {VARIANTS}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {self.image_size}")
        if not 2 <= self.grid_size <= self.image_size:
            raise ValueError(f"grid_size must be in [2, image_size], got {self.grid_size}")
        if self.grid_width is not None and self.grid_width <= 0:
            raise ValueError(f"grid_width must be positive, got {self.grid_width}")
        if self.width <= 0:
            raise ValueError(f"width must be positive, got {self.width}")
        if len(self.conv_filters) != 5:
            raise ValueError(f"conv_filters needs 5 entries, got {len(self.conv_filters)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pose_unit_mm <= 0:
            raise ValueError(f"pose_unit_mm must be positive, got {self.pose_unit_mm}")
        skeleton.root_indices(self.roots)

    @property
    def multi_root(self) -> bool:
        return self.variant in ("multi_root", "full")

    @property
    def fusion(self) -> bool:
        return self.variant in ("cls2d", "full")

    @property
    def active_roots(self) -> tuple[str, ...]:
        """The roots this variant regresses from."""
        return self.roots if self.multi_root else self.roots[:1]

    def scaled(self, units: int) -> int:
        return max(1, int(round(units * self.width)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown ModelConfig field(s) {unknown}; known fields are {sorted(known)}")
        return cls(**values)


MODEL_PRESETS: dict[str, ModelConfig] = {
    "paper": ModelConfig(),
    # Sized for a 2-core CPU; its measured throughput is in docs/benchmarks.md.
    "cpu-quick": ModelConfig(image_size=128, grid_size=16, width=0.25, dropout=0.1),
}


def model_preset(name: str, **overrides: Any) -> ModelConfig:
    """A preset by name, with field overrides."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(MODEL_PRESETS)}")
    return dataclasses.replace(MODEL_PRESETS[name], **overrides)
