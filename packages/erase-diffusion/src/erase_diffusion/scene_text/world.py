"""The scene-text world: small textured images with rendered text strings, numpy only.

Text is drawn from a hand-made 3×5 bitmap font (no font file is read or downloaded),
scaled, coloured, placed and rotated over a procedural background texture. Every image
comes with its ground truth: the same background without the text, the soft text alpha
and the text box. `synthesize` is the style-aware synthesis function of STE
(arXiv:2204.12743, Sec. 3.1): the style parameters it takes are exactly the ones the
policy picks (`STYLE_FACTORS`). `sample_styles` draws styles from a categorical
distribution per factor; `REAL_STYLE_PROBABILITIES` is the fixed, non-uniform one of the
"real" images: the held-out test set (`real_test_set`, which the methods never see) and
an unlabelled pool from another seed stream (`real_unlabelled_images`, images only),
which STE's realism discriminator may look at, as the paper's method looks at
unlabelled real-world images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image

HEIGHT: Final = 32
WIDTH: Final = 48
TEXT_LENGTH: Final = 3

_GLYPH_ROWS: Final[dict[str, tuple[str, ...]]] = {
    "A": (".#.", "#.#", "###", "#.#", "#.#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"),
    "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "F": ("###", "#..", "##.", "#..", "#.."),
    "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "L": ("#..", "#..", "#..", "#..", "###"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."),
    "P": ("##.", "#.#", "##.", "#..", "#.."),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "Z": ("###", "..#", ".#.", "#..", "###"),
    "2": ("##.", "..#", ".#.", "#..", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
}
GLYPHS: Final[dict[str, np.ndarray]] = {
    char: np.array([[c == "#" for c in row] for row in rows], dtype=np.float32)
    for char, rows in _GLYPH_ROWS.items()
}
"""Each character as a 5×3 array of 0/1."""
ALPHABET: Final = "".join(GLYPHS)

COLOURS: Final[dict[str, tuple[float, float, float]]] = {
    "black": (0.05, 0.05, 0.05),
    "white": (0.95, 0.95, 0.95),
    "red": (0.85, 0.15, 0.1),
    "green": (0.15, 0.7, 0.2),
    "blue": (0.15, 0.25, 0.85),
    "yellow": (0.95, 0.85, 0.15),
}
STYLE_FACTORS: Final[dict[str, tuple[str, ...]]] = {
    "scale": ("1", "2", "3"),
    "colour": tuple(COLOURS),
    "position": ("top", "middle", "bottom"),
    "rotation": ("-30", "-15", "0", "15", "30"),
    "texture": ("flat", "gradient", "stripes", "checker", "noise"),
}
"""The style parameters the synthesis function takes, each with its levels."""

REAL_STYLE_PROBABILITIES: Final[dict[str, tuple[float, ...]]] = {
    "scale": (0.15, 0.35, 0.5),
    "colour": (0.3, 0.3, 0.1, 0.1, 0.1, 0.1),
    "position": (0.25, 0.5, 0.25),
    "rotation": (0.2, 0.25, 0.1, 0.25, 0.2),
    "texture": (0.05, 0.1, 0.3, 0.25, 0.3),
}
"""The held-out images' style distribution: mostly large, rotated text on busy textures."""


@dataclass(frozen=True)
class TextStyle:
    """One style: a level of each factor of `STYLE_FACTORS`."""

    scale: str
    colour: str
    position: str
    rotation: str
    texture: str

    def __post_init__(self) -> None:
        for factor, levels in STYLE_FACTORS.items():
            value = getattr(self, factor)
            if value not in levels:
                raise ValueError(f"{factor}={value!r} is not a level; accepted: {levels}")

    def level_index(self, factor: str) -> int:
        """The index of this style's level of ``factor`` in `STYLE_FACTORS`."""
        return STYLE_FACTORS[factor].index(getattr(self, factor))


@dataclass
class TextImages:
    """Images with text and their erasure ground truth, all (n, 3, H, W) or (n, 1, H, W)
    float32 in [0, 1]: ``images`` with text, ``clean`` the same without, ``alpha`` the soft
    text coverage, ``box`` 1 inside each text's bounding box (dilated by one pixel)."""

    images: np.ndarray
    clean: np.ndarray
    alpha: np.ndarray
    box: np.ndarray
    styles: list[TextStyle]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.styles)


def render_text_alpha(
    text: str, scale: int, angle: float, centre: tuple[float, float]
) -> np.ndarray:
    """The text's coverage (H, W) in [0, 1]: glyphs 1 px apart, each pixel ``scale``² wide,
    centred at ``centre`` (row, column) and rotated by ``angle`` degrees (bilinear)."""
    unknown = sorted(set(text) - set(GLYPHS))
    if unknown:
        raise ValueError(f"no glyph for {unknown}; accepted characters: {ALPHABET}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    row = np.concatenate([np.pad(GLYPHS[c], ((0, 0), (0, 1))) for c in text], axis=1)[:, :-1]
    bitmap = np.kron(row, np.ones((scale, scale), dtype=np.float32))
    canvas = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    h, w = bitmap.shape
    top, left = round(centre[0] - h / 2), round(centre[1] - w / 2)
    if top < 0 or left < 0 or top + h > HEIGHT or left + w > WIDTH:
        raise ValueError(f"text {text!r} at scale {scale} does not fit centred at {centre}")
    canvas[top : top + h, left : left + w] = bitmap
    if angle == 0:
        return canvas
    rotated = Image.fromarray(canvas, mode="F").rotate(
        angle, resample=Image.Resampling.BILINEAR, center=(centre[1], centre[0])
    )
    return np.clip(np.asarray(rotated, dtype=np.float32), 0.0, 1.0)


def background(texture: str, rng: np.random.Generator) -> np.ndarray:
    """A (3, H, W) background of the named texture with random colours and period."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    first, second = rng.uniform(0.1, 0.9, size=(2, 3, 1, 1)).astype(np.float32)
    if texture == "flat":
        weight = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    elif texture == "gradient":
        direction = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(direction) * xx / WIDTH + np.sin(direction) * yy / HEIGHT
        weight = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    elif texture == "stripes":
        period = rng.integers(3, 8)
        along = [yy, xx, xx + yy][rng.integers(0, 3)]
        weight = ((along // period) % 2).astype(np.float32)
    elif texture == "checker":
        period = rng.integers(2, 6)
        weight = (((yy // period) + (xx // period)) % 2).astype(np.float32)
    elif texture == "noise":
        coarse = rng.uniform(0, 1, size=(HEIGHT // 4 + 1, WIDTH // 4 + 1)).astype(np.float32)
        weight = np.kron(coarse, np.ones((4, 4), dtype=np.float32))[:HEIGHT, :WIDTH]
        weight = 0.5 * weight + 0.5 * rng.uniform(0, 1, size=(HEIGHT, WIDTH)).astype(np.float32)
    else:
        raise ValueError(f"unknown texture {texture!r}; accepted: {STYLE_FACTORS['texture']}")
    image = first * (1 - weight) + second * weight
    image += rng.normal(0, 0.02, size=image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def synthesize(styles: list[TextStyle], rng: np.random.Generator) -> TextImages:
    """STE's style-aware synthesis: one image per style, text rendered over a fresh
    background of the style's texture; returns the pair (with text, without) and masks."""
    n = len(styles)
    images = np.empty((n, 3, HEIGHT, WIDTH), dtype=np.float32)
    clean = np.empty_like(images)
    alpha = np.empty((n, 1, HEIGHT, WIDTH), dtype=np.float32)
    box = np.zeros_like(alpha)
    texts: list[str] = []
    bands = {"top": (0.0, 1 / 3), "middle": (1 / 3, 2 / 3), "bottom": (2 / 3, 1.0)}
    for i, style in enumerate(styles):
        text = "".join(rng.choice(list(ALPHABET), size=TEXT_LENGTH))
        scale = int(style.scale)
        h, w = 5 * scale, (4 * TEXT_LENGTH - 1) * scale
        low, high = bands[style.position]
        # Centre row inside the band, kept far enough from the border for the text to fit.
        row = rng.uniform(max(low * HEIGHT, h / 2 + 1), min(high * HEIGHT, HEIGHT - h / 2 - 1))
        column = rng.uniform(w / 2 + 1, WIDTH - w / 2 - 1)
        a = render_text_alpha(text, scale, float(style.rotation), (row, column))
        ground = background(style.texture, rng)
        colour = np.array(COLOURS[style.colour], dtype=np.float32).reshape(3, 1, 1)
        images[i] = ground * (1 - a) + colour * a
        clean[i], alpha[i, 0] = ground, a
        texts.append(text)
        rows, cols = np.nonzero(a > 0.05)
        box[
            i, 0, max(rows.min() - 1, 0) : rows.max() + 2, max(cols.min() - 1, 0) : cols.max() + 2
        ] = 1
    return TextImages(images, clean, alpha, box, list(styles), texts)


def sample_styles(
    n: int, probabilities: dict[str, tuple[float, ...]] | None, rng: np.random.Generator
) -> list[TextStyle]:
    """``n`` styles, each factor drawn independently (uniform where ``probabilities`` is None)."""
    columns = {}
    for factor, levels in STYLE_FACTORS.items():
        p = None if probabilities is None else np.asarray(probabilities[factor], dtype=float)
        if p is not None and (p.shape != (len(levels),) or not np.isclose(p.sum(), 1.0)):
            raise ValueError(f"{factor}: need {len(levels)} probabilities summing to 1, got {p}")
        columns[factor] = rng.choice(len(levels), size=n, p=p)
    return [
        TextStyle(**{f: STYLE_FACTORS[f][int(columns[f][i])] for f in STYLE_FACTORS})
        for i in range(n)
    ]


def real_test_set(n: int, seed: int) -> TextImages:
    """The held-out "real" images: styles from `REAL_STYLE_PROBABILITIES`, own seed stream."""
    rng = np.random.default_rng([seed, 7919])
    return synthesize(sample_styles(n, REAL_STYLE_PROBABILITIES, rng), rng)


def real_unlabelled_images(n: int, seed: int) -> np.ndarray:
    """``n`` unlabelled "real" images (n, 3, H, W): the same style distribution as
    `real_test_set` but a disjoint seed stream, and no ground truth. They stand for the
    paper's real-world images, which STE may look at (its realism discriminator learns
    what real text looks like from them) but never has erasure labels for."""
    rng = np.random.default_rng([seed, 104723])
    return synthesize(sample_styles(n, REAL_STYLE_PROBABILITIES, rng), rng).images


def clean_backgrounds(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` text-free backgrounds (n, 3, H, W), textures uniform: the detector's negatives."""
    textures = STYLE_FACTORS["texture"]
    return np.stack([background(textures[int(rng.integers(len(textures)))], rng) for _ in range(n)])
