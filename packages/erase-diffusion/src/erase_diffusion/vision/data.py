"""Labelled images of the shapes world for image classifiers (numpy only).

A label kind names what a classifier predicts: one attribute of the image (``shape``: 4
classes, ``colour``: 5, ``style``: 3) or the pair ``shape-colour`` (20 classes, "red
circle", ...), the default of the continual-forgetting benchmark, since a stream of
forgetting tasks needs more classes than one attribute has. Sets are balanced: every
class gets the same number of images, the other attributes drawn at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from erase_diffusion.worlds.shapes import (
    COLOURS,
    SHAPES,
    STYLES,
    Attributes,
    ShapesWorld,
    all_attributes,
    render,
)

LabelKind = Literal["shape", "colour", "style", "shape-colour"]
LABEL_KINDS: tuple[LabelKind, ...] = ("shape", "colour", "style", "shape-colour")


def class_names(label: LabelKind) -> list[str]:
    """The class names of a label kind, in label order."""
    if label == "shape":
        return list(SHAPES)
    if label == "colour":
        return list(COLOURS)
    if label == "style":
        return list(STYLES)
    if label == "shape-colour":
        return [f"{colour} {shape}" for shape in SHAPES for colour in COLOURS]
    raise ValueError(f"unknown label kind {label!r}; accepted: {', '.join(LABEL_KINDS)}")


def class_of(attributes: Attributes, label: LabelKind) -> int:
    """The class index of one image's attributes under ``label``."""
    if label == "shape":
        return SHAPES.index(attributes.shape)
    if label == "colour":
        return list(COLOURS).index(attributes.colour)
    if label == "style":
        return STYLES.index(attributes.style)
    if label == "shape-colour":
        return SHAPES.index(attributes.shape) * len(COLOURS) + list(COLOURS).index(
            attributes.colour
        )
    raise ValueError(f"unknown label kind {label!r}; accepted: {', '.join(LABEL_KINDS)}")


def class_indices(names: list[str], label: LabelKind) -> list[int]:
    """Class indices of class names; raises naming the accepted names."""
    known = class_names(label)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {label} classes {unknown}; accepted: {', '.join(known)}")
    return [known.index(n) for n in names]


@dataclass(frozen=True)
class LabelledImages:
    """Images (n, 3, H, W) float32 in [-1, 1] and their class indices (n,) int64."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def of_classes(self, classes: list[int] | set[int]) -> LabelledImages:
        """Only the images whose class is in ``classes``."""
        keep = np.isin(self.labels, sorted(classes))
        return LabelledImages(self.images[keep], self.labels[keep])

    def without_classes(self, classes: list[int] | set[int]) -> LabelledImages:
        """Every image whose class is not in ``classes``."""
        keep = ~np.isin(self.labels, sorted(classes))
        return LabelledImages(self.images[keep], self.labels[keep])

    def first_per_class(self, count: int) -> LabelledImages:
        """At most ``count`` images of each class (the first ones): the scarce-data case."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        keep = np.zeros(len(self), dtype=bool)
        for c in np.unique(self.labels):
            keep[np.flatnonzero(self.labels == c)[:count]] = True
        return LabelledImages(self.images[keep], self.labels[keep])


def labelled_images(
    per_class: int, label: LabelKind, seed: int, world: ShapesWorld | None = None
) -> LabelledImages:
    """``per_class`` images of every class of ``label`` (class-major, seeded)."""
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    world = world or ShapesWorld()
    rng = np.random.default_rng(seed)
    combos = all_attributes()
    images, labels = [], []
    for index in range(len(class_names(label))):
        members = [a for a in combos if class_of(a, label) == index]
        for pick in rng.integers(0, len(members), per_class):
            images.append(render(members[pick], world, rng))
            labels.append(index)
    return LabelledImages(np.stack(images), np.asarray(labels, dtype=np.int64))
