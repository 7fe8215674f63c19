"""The shapes world: seeded 16×16 (or 32×32) images of coloured shapes with captions.

Every image shows one shape (circle, square, triangle, cross) in one colour on a dark or
light background drawn in one texture style (plain, striped, checkered). Its caption
names all four attributes, for example ``"a red circle on a dark striped background"``.
A `unlearn_schema.Concept` is one attribute value (a shape, a colour or a style)
with the prompts that express it and an anchor concept of the same kind to map it to.

numpy only: rendering and concept building import no torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, field_validator
from unlearn_schema import Concept, StrictModel

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.15),
    "blue": (0.15, 0.25, 0.95),
    "yellow": (0.95, 0.9, 0.1),
    "purple": (0.65, 0.15, 0.85),
}
BACKGROUNDS: dict[str, float] = {"dark": 0.12, "light": 0.8}
STYLES: tuple[str, ...] = ("plain", "striped", "checkered")
ConceptKind = Literal["shape", "colour", "style"]
KINDS: tuple[ConceptKind, ...] = ("shape", "colour", "style")

# Anchor each concept to a neighbour of the same kind, so that an erased prompt still
# yields a valid image of the world (a circle prompt draws a square).
DEFAULT_ANCHORS: dict[str, str] = {
    "circle": "square",
    "square": "circle",
    "triangle": "square",
    "cross": "square",
    "red": "blue",
    "green": "blue",
    "blue": "green",
    "yellow": "green",
    "purple": "blue",
    "plain": "striped",
    "striped": "plain",
    "checkered": "plain",
}


def values_of(kind: ConceptKind) -> tuple[str, ...]:
    """All values of one attribute kind, in label order."""
    if kind == "shape":
        return SHAPES
    if kind == "colour":
        return tuple(COLOURS)
    return STYLES


def kind_of(name: str) -> ConceptKind:
    """The attribute kind of a concept name; raises naming the accepted names."""
    for kind in KINDS:
        if name in values_of(kind):
            return kind
    accepted = ", ".join(n for k in KINDS for n in values_of(k))
    raise ValueError(f"unknown shapes-world concept {name!r}; accepted: {accepted}")


@dataclass(frozen=True)
class Attributes:
    """The four attributes of one image."""

    shape: str
    colour: str
    background: str
    style: str

    def get(self, kind: ConceptKind) -> str:
        return {"shape": self.shape, "colour": self.colour, "style": self.style}[kind]


def caption(attributes: Attributes) -> str:
    """The caption the pipeline is trained on, e.g. 'a red circle on a dark plain background'."""
    a = attributes
    return f"a {a.colour} {a.shape} on a {a.background} {a.style} background"


def all_attributes() -> list[Attributes]:
    """Every combination of shape, colour, background and style (4·5·2·3 = 120)."""
    return [
        Attributes(s, c, b, t)
        for s, c, b, t in itertools.product(SHAPES, COLOURS, BACKGROUNDS, STYLES)
    ]


class ShapesWorld(StrictModel):
    """Knobs of the shapes world."""

    image_size: Literal[16, 32] = 16
    jitter: int = Field(default=2, ge=0, le=4, description="Max shift of the shape, in pixels.")
    noise: float = Field(default=0.03, ge=0.0, le=0.2, description="Pixel noise std.")

    @field_validator("image_size", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        if value not in (16, 32):
            raise ValueError(f"image_size must be 16 or 32, got {value!r}")
        return value


def _mask(shape: str, size: int, cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = xx - cx, yy - cy
    if shape == "circle":
        return (dx**2 + dy**2) <= radius**2
    if shape == "square":
        half = radius * 0.85
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if shape == "triangle":
        # Apex up: inside when below the apex and within the widening sides.
        top, bottom = cy - radius, cy + radius * 0.9
        width = (dy - (top - cy)) / (bottom - top) * radius
        return (dy >= top - cy) & (dy <= bottom - cy) & (np.abs(dx) <= width)
    if shape == "cross":
        arm = max(radius * 0.33, 1.0)
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= radius)) | (
            (np.abs(dy) <= arm) & (np.abs(dx) <= radius)
        )
    raise ValueError(f"unknown shape {shape!r}; accepted: {', '.join(SHAPES)}")


def _background(background: str, style: str, size: int) -> np.ndarray:
    level = BACKGROUNDS[background]
    yy, xx = np.mgrid[0:size, 0:size]
    period = max(size // 8, 2)
    if style == "plain":
        pattern = np.zeros((size, size))
    elif style == "striped":
        pattern = ((xx + yy) // period) % 2 * 1.0
    elif style == "checkered":
        pattern = ((xx // period + yy // period) % 2) * 1.0
    else:
        raise ValueError(f"unknown style {style!r}; accepted: {', '.join(STYLES)}")
    # Texture contrast points towards mid-grey, so it never hides the shape's colour.
    shade = level + (0.5 - level) * 0.7 * pattern
    return np.repeat(shade[..., None], 3, axis=2)


def render(attributes: Attributes, world: ShapesWorld, rng: np.random.Generator) -> np.ndarray:
    """One image as float32 (3, size, size) in [-1, 1]."""
    size = world.image_size
    scale = size / 16
    radius = (rng.uniform(4.2, 5.6)) * scale
    jitter = world.jitter * scale
    cx = size / 2 + rng.uniform(-jitter, jitter)
    cy = size / 2 + rng.uniform(-jitter, jitter)
    image = _background(attributes.background, attributes.style, size)
    mask = _mask(attributes.shape, size, cx, cy, radius)
    colour = np.array(COLOURS[attributes.colour]) + rng.normal(0.0, 0.03, 3)
    image[mask] = np.clip(colour, 0.0, 1.0)
    image = image + rng.normal(0.0, world.noise, image.shape)
    image = np.clip(image, 0.0, 1.0) * 2.0 - 1.0
    return image.transpose(2, 0, 1).astype(np.float32)


def sample(n: int, world: ShapesWorld, seed: int) -> tuple[np.ndarray, list[str], list[Attributes]]:
    """``n`` random images (n, 3, size, size) in [-1, 1], their captions and attributes."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    combos = all_attributes()
    picks = [combos[i] for i in rng.integers(0, len(combos), n)]
    images = np.stack([render(a, world, rng) for a in picks])
    return images, [caption(a) for a in picks], picks


def prompts_for(name: str, limit: int | None = None, seed: int = 0) -> list[str]:
    """Captions in which concept ``name`` appears (all combinations, shuffled by ``seed``)."""
    kind = kind_of(name)
    found = [caption(a) for a in all_attributes() if a.get(kind) == name]
    order = np.random.default_rng(seed).permutation(len(found))
    found = [found[i] for i in order]
    return found if limit is None else found[:limit]


def swap_concept(prompt: str, name: str, anchor: str) -> str:
    """``prompt`` with the word ``name`` replaced by ``anchor`` (same token positions)."""
    words = prompt.split(" ")
    if name not in words:
        raise ValueError(f"concept {name!r} does not occur in prompt {prompt!r}")
    return " ".join(anchor if w == name else w for w in words)


def make_concept(
    name: str, anchor: str | None = None, prompts_per_concept: int = 12, seed: int = 0
) -> Concept:
    """A schema `Concept` for a shapes-world attribute value."""
    kind = kind_of(name)
    anchor = DEFAULT_ANCHORS[name] if anchor is None else anchor
    if kind_of(anchor) != kind or anchor == name:
        raise ValueError(
            f"anchor of {name!r} must be another {kind}: one of "
            f"{', '.join(v for v in values_of(kind) if v != name)}; got {anchor!r}"
        )
    return Concept(name=name, prompts=prompts_for(name, prompts_per_concept, seed), anchor=anchor)


def all_concept_names() -> list[str]:
    """Every concept of the world: shapes, colours, styles."""
    return [n for k in KINDS for n in values_of(k)]
