"""Synthetic worlds of erase-diffusion (numpy only)."""

from erase_diffusion.worlds.shapes import (
    COLOURS,
    SHAPES,
    STYLES,
    Attributes,
    ShapesWorld,
    all_concept_names,
    caption,
    kind_of,
    make_concept,
    prompts_for,
    render,
    sample,
    swap_concept,
)

__all__ = [
    "COLOURS",
    "SHAPES",
    "STYLES",
    "Attributes",
    "ShapesWorld",
    "all_concept_names",
    "caption",
    "kind_of",
    "make_concept",
    "prompts_for",
    "render",
    "sample",
    "swap_concept",
]
