"""The watermarked shapes world: an *implicit* concept that captions never name.

A share of the shapes world's images carry a small QR-like mark (a white square frame
with a black core) in one corner; their captions are the plain shapes-world captions,
so a pipeline fine-tuned on them learns to draw the mark without any word for it (the
"implicit concept" of Geom-Erasing, arXiv:2310.05873). The geometric condition that
Geom-Erasing writes into the text names the mark and its corner: ``"mark top left"``.

numpy only, like `erase_diffusion.worlds.shapes`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.worlds.shapes import ShapesWorld, all_attributes, caption, render

Corner = Literal["top left", "top right", "bottom left", "bottom right"]
CORNERS: tuple[Corner, ...] = ("top left", "top right", "bottom left", "bottom right")
MARK_WORD = "mark"
"""The word of the geometric condition that names the implicit concept."""
GEOMETRY_WORDS: tuple[str, ...] = (MARK_WORD, "top", "bottom", "left", "right")
"""Words the geometric condition uses (none is in the shapes world's vocabulary)."""


class WatermarkWorld(StrictModel):
    """Knobs of the watermarked world."""

    share: float = Field(default=0.5, ge=0.0, le=1.0, description="Share of marked images.")
    mark_size: int = Field(default=4, ge=3, le=8, description="Side of the mark, in pixels.")
    shapes: ShapesWorld = Field(default_factory=ShapesWorld)


def mark_pattern(size: int) -> np.ndarray:
    """The mark (size, size) in {0, 1}: a white one-pixel frame around a black core, with
    one white pixel in the core's centre when the core is at least 3 wide."""
    pattern = np.ones((size, size))
    pattern[1:-1, 1:-1] = 0.0
    if size >= 5:
        centre = size // 2
        pattern[centre, centre] = 1.0
    return pattern


def corner_box(corner: Corner, image_size: int, mark_size: int) -> tuple[slice, slice]:
    """(rows, columns) the mark covers in a corner."""
    if corner not in CORNERS:
        raise ValueError(f"unknown corner {corner!r}; accepted: {', '.join(CORNERS)}")
    top = corner.startswith("top")
    left = corner.endswith("left")
    rows = slice(0, mark_size) if top else slice(image_size - mark_size, image_size)
    cols = slice(0, mark_size) if left else slice(image_size - mark_size, image_size)
    return rows, cols


def add_mark(image: np.ndarray, corner: Corner, mark_size: int) -> np.ndarray:
    """A copy of ``image`` (3, H, W) in [-1, 1] with the mark drawn over ``corner``."""
    out = image.copy()
    rows, cols = corner_box(corner, image.shape[-1], mark_size)
    out[:, rows, cols] = mark_pattern(mark_size)[None] * 2.0 - 1.0
    return out


def geometric_phrase(corner: Corner | None) -> str:
    """The geometric condition Geom-Erasing appends: ``"mark top left"`` ("" for none)."""
    return "" if corner is None else f"{MARK_WORD} {corner}"


def with_condition(prompt: str, corner: Corner | None) -> str:
    """``prompt`` followed by the geometric condition of ``corner`` (unchanged for None)."""
    phrase = geometric_phrase(corner)
    return f"{prompt} {phrase}" if phrase else prompt


def sample_marked(
    n: int, world: WatermarkWorld, seed: int
) -> tuple[np.ndarray, list[str], list[Corner | None]]:
    """``n`` images (n, 3, size, size) in [-1, 1], their plain captions, and the corner
    each mark sits in (None: unmarked); the corner is uniform over the four."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    combos = all_attributes()
    images, captions, corners = [], [], []
    for _ in range(n):
        attributes = combos[int(rng.integers(0, len(combos)))]
        image = render(attributes, world.shapes, rng)
        corner: Corner | None = None
        if rng.random() < world.share:
            corner = CORNERS[int(rng.integers(0, len(CORNERS)))]
            image = add_mark(image, corner, world.mark_size)
        images.append(image)
        captions.append(caption(attributes))
        corners.append(corner)
    return np.stack(images), captions, corners
