"""How a rendered person looks: skin, face, hair, clothes with woven and printed patterns, and the light.

`dress` decides, once per sample, which surface each vertex is (skin, hair,
top, bottom, shoes) and how each surface looks; `Outfit.colour` paints the
pixels the rasteriser found, from their rest-pose position on the body, so a
stripe stays on its shirt however the body moves; `light` shades them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfpose3d.data.body import Body

SKIN, HAIR, TOP, BOTTOM, SHOES = range(5)
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 150], [224, 172, 125], [198, 134, 90], [141, 85, 54], [92, 56, 38]], np.float32)
HAIR_COLOURS = np.array([[20, 15, 10], [45, 30, 20], [90, 60, 35], [150, 110, 60], [200, 170, 110], [130, 125, 120], [200, 195, 190]], np.float32)
# Clothes are mostly dark or neutral, sometimes bright: (colour, weight).
PALETTE = np.array([
    [20, 20, 22], [40, 45, 60], [30, 40, 80], [70, 90, 130], [110, 130, 160], [230, 230, 225], [180, 180, 175],
    [120, 120, 120], [70, 70, 70], [190, 170, 140], [120, 95, 70], [80, 90, 50], [150, 30, 35], [200, 60, 40],
    [230, 180, 40], [40, 120, 70], [30, 110, 150], [120, 60, 140], [230, 130, 160], [240, 120, 40],
], np.float32)
PALETTE_WEIGHTS = np.array([8, 6, 5, 5, 3, 6, 3, 4, 4, 3, 3, 2, 2, 1.5, 1.5, 1.5, 1.5, 1, 1, 1])
PATTERNS = ("solid", "stripes", "checks", "dots", "noise", "gradient")
PATTERN_WEIGHTS = np.array([0.4, 0.18, 0.12, 0.08, 0.14, 0.08])


@dataclasses.dataclass
class Surface:
    """One surface's look: a pattern of two colours in the body's rest frame (mm)."""

    pattern: str
    colours: np.ndarray  # (2, 3)
    direction: np.ndarray  # (3,) unit: stripes' normal, noise and gradient axis
    period: float  # mm
    duty: float
    weave: float  # fine fabric texture's contrast

    def paint(self, rest: np.ndarray) -> np.ndarray:
        """Colours (P, 3) at rest-frame points (P, 3)."""
        t = rest @ self.direction / self.period
        if self.pattern == "stripes":
            mix = (t % 1.0) < self.duty
        elif self.pattern == "checks":
            other = rest @ np.cross(self.direction, [0.0, 0.0, 1.0]) / self.period
            mix = ((t % 1.0) < 0.5) ^ ((other % 1.0) < 0.5)
        elif self.pattern == "dots":
            cell = rest / self.period
            mix = np.linalg.norm(cell - np.round(cell), axis=-1) < 0.25 * self.duty + 0.1
        elif self.pattern == "noise":
            wave = np.sin(t * 2.1 + 1.3) + np.sin(rest @ self.direction[::-1] / self.period * 3.7) + np.sin(rest[:, 1] / self.period * 1.3)
            mix = np.clip(0.5 + 0.35 * wave, 0.0, 1.0)
        elif self.pattern == "gradient":
            mix = np.clip(0.5 + 0.5 * np.sin(t * 0.3), 0.0, 1.0)
        else:
            mix = np.zeros(len(rest))
        mix = np.asarray(mix, np.float32)[:, None]
        colour = self.colours[0] * (1.0 - mix) + self.colours[1] * mix
        if self.weave > 0:
            grain = np.sin(rest[:, 0] * 1.9) * np.sin(rest[:, 1] * 1.9) * np.sin(rest[:, 2] * 1.9)
            colour = colour * (1.0 + self.weave * grain[:, None])
        return colour


def _cloth_colour(rng: np.random.Generator) -> np.ndarray:
    base = PALETTE[rng.choice(len(PALETTE), p=PALETTE_WEIGHTS / PALETTE_WEIGHTS.sum())]
    return np.clip(base * rng.uniform(0.75, 1.2) + rng.normal(0, 12, 3), 0, 255)


def _surface(rng: np.random.Generator, textured: bool, first: np.ndarray) -> Surface:
    pattern = str(rng.choice(PATTERNS, p=PATTERN_WEIGHTS)) if textured else "solid"
    # Mostly horizontal or vertical stripes in the body's frame; sometimes any direction.
    direction = np.eye(3)[rng.choice([1, 0])] if rng.random() < 0.7 else rng.normal(size=3)
    return Surface(
        pattern=pattern, colours=np.stack([first, _cloth_colour(rng)]).astype(np.float32),
        direction=direction / np.linalg.norm(direction), period=float(rng.uniform(8, 70)),
        duty=float(rng.uniform(0.2, 0.6)), weave=float(rng.uniform(0.0, 0.12)) if textured else 0.0,
    )


@dataclasses.dataclass
class Outfit:
    """Which surface each vertex is, and how each surface and the face look."""

    surface_of: np.ndarray  # (V,) SKIN .. SHOES
    surfaces: list[Surface]
    face: bool  # draw eyes, brows and lips

    def colour(self, body: Body, surface: np.ndarray, rest: np.ndarray) -> np.ndarray:
        """Colours (P, 3) of pixels showing `surface` (P,) at rest-frame points `rest` (P, 3)."""
        out = np.empty((len(rest), 3), np.float32)
        for s, look in enumerate(self.surfaces):
            where = surface == s
            if where.any():
                out[where] = look.paint(rest[where])
        if self.face:
            _paint_face(body, rest, surface == SKIN, out, self.surfaces[HAIR].colours[0])
        return out


def _paint_face(body: Body, rest: np.ndarray, skin: np.ndarray, out: np.ndarray, hair: np.ndarray) -> None:
    mark = body.landmarks
    front = skin & (rest[:, 2] > mark["l-eye"][2])
    for eye in (mark["l-eye"], mark["r-eye"]):
        dx, dy = rest[:, 0] - eye[0], rest[:, 1] - eye[1]
        out[front & (dx**2 + (1.6 * dy) ** 2 < 9.0**2)] = (40, 30, 25)
        out[front & (np.abs(dx) < 17) & (dy > 11) & (dy < 17)] = hair * 0.8
    mouth_y = mark["mouth"][1] - 4.0
    lips = front & (np.abs(rest[:, 0]) < 20) & (np.abs(rest[:, 1] - mouth_y) < 5)
    out[lips] = out[lips] * np.array([0.8, 0.55, 0.55], np.float32)


def dress(body: Body, rng: np.random.Generator, textured: bool = True) -> Outfit:
    """A random outfit: skin tone, hair length and colour, sleeve and leg length, clothes' colours and patterns."""

    def on(*bones: str) -> np.ndarray:
        """Vertices that follow any of these rig bones most (a lookup table by bone id: the hot path)."""
        chosen = np.zeros(len(body.bone_names), bool)
        chosen[[body.bone_names.index(b) for b in bones]] = True
        return chosen[body.part]

    rest, mark = body.vertices, body.landmarks
    surface = np.full(len(rest), SKIN, np.int8)

    def along(start: str, end: str) -> np.ndarray:
        a, b = mark[start], mark[end]
        return (rest - a) @ (b - a) / float((b - a) @ (b - a))

    # The waistband follows the rig: the pelvis bones' skin is the trousers', the spine's the top's.
    surface[on("LowerBack", "Spine", "Spine1", "LeftShoulder", "RightShoulder")] = TOP
    surface[on("Hips", "LHipJoint", "RHipJoint")] = BOTTOM
    sleeve = rng.choice([0.0, 0.3, 0.55, 1.05], p=[0.1, 0.35, 0.15, 0.4])  # of shoulder -> wrist
    legs = rng.choice([0.35, 0.6, 1.05], p=[0.25, 0.1, 0.65])  # of hip -> ankle
    left = rest[:, 0] > 0
    for s, name in (("l", "Left"), ("r", "Right")):
        arm = on(f"{name}Arm", f"{name}ForeArm") & (left if s == "l" else ~left)
        surface[arm & (along(f"{s}-shoulder", f"{s}-hand") < sleeve)] = TOP
        leg = on(f"{name}UpLeg", f"{name}Leg")
        surface[leg & (along(f"{s}-upper-leg", f"{s}-ankle") < legs)] = BOTTOM
    surface[on("LeftFoot", "RightFoot")] = SHOES
    # Hair: the scalp above a line from brow to nape; long hair also down the back of the head and neck.
    head = on("Head", "Neck1", "Neck")
    skull, crown = mark["head"], mark["crown"]
    rise = (rest[:, 1] - skull[1]) / (crown[1] - skull[1])
    front = rest[:, 2] - skull[2]
    length = rng.choice([0, 1, 2], p=[0.1, 0.6, 0.3])
    if length > 0:
        surface[head & (rise > 0.55 - 0.008 * np.maximum(-front, 0))] = HAIR
    if length > 1:
        surface[head & (front < -20.0) & (rise > -0.6)] = HAIR

    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.05)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.2)
    surfaces = [
        Surface("noise" if textured else "solid", np.stack([skin, skin * 0.93]), np.eye(3)[1], 40.0, 0.5, 0.0),
        Surface("stripes" if textured else "solid", np.stack([hair, hair * 0.8]), np.eye(3)[0], 3.0, 0.5, 0.0),
        _surface(rng, textured, _cloth_colour(rng)),
        _surface(rng, textured, _cloth_colour(rng)),
        _surface(rng, textured, _cloth_colour(rng) * 0.6),
    ]
    return Outfit(surface, surfaces, face=textured)


def light(normals: np.ndarray, view: np.ndarray, rng: np.random.Generator, scene_colour: np.ndarray) -> np.ndarray:
    """Light (P, 3) on unit `normals` (P, 3) seen along `view` (P, 3): sky-like ambient tinted by the scene,
    plus one coloured directional light with a soft highlight."""
    direction = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-1.0, 0.3), -1.0])
    direction /= np.linalg.norm(direction)
    tint = 0.6 + 0.4 * scene_colour / max(float(scene_colour.mean()), 1.0)
    ambient = rng.uniform(0.25, 0.55) * tint
    sun = rng.uniform(0.5, 0.9) * (1.0 + rng.normal(0, 0.06, 3))
    # Two-sided: the reduced mesh has a few inward faces, which must not go black.
    diffuse = np.abs(normals @ -direction)
    half = -direction - view
    half /= np.linalg.norm(half, axis=-1, keepdims=True)
    highlight = rng.uniform(0.0, 0.25) * np.abs(np.sum(normals * half, -1)) ** 12
    # Faces turned to the ground get less of the sky.
    sky = 0.8 + 0.2 * -normals[:, 1]
    return (ambient[None] * sky[:, None] + sun[None] * diffuse[:, None] + highlight[:, None]).astype(np.float32)
