from __future__ import annotations

import numpy as np
import pytest
from erase_diffusion.worlds.shapes import (
    ShapesWorld,
    all_concept_names,
    kind_of,
    make_concept,
    prompts_for,
    sample,
    swap_concept,
)
from unlearn_schema import Concept


def test_sampling_is_reproducible_from_the_seed() -> None:
    a, captions_a, _ = sample(8, ShapesWorld(), seed=3)
    b, captions_b, _ = sample(8, ShapesWorld(), seed=3)
    c, _, _ = sample(8, ShapesWorld(), seed=4)
    assert np.array_equal(a, b) and captions_a == captions_b
    assert not np.array_equal(a, c)
    assert a.shape == (8, 3, 16, 16) and a.min() >= -1 and a.max() <= 1


def test_captions_name_the_drawn_attributes() -> None:
    images, captions, attrs = sample(30, ShapesWorld(image_size=32), seed=0)
    assert images.shape[-1] == 32
    for text, a in zip(captions, attrs, strict=True):
        assert text == f"a {a.colour} {a.shape} on a {a.background} {a.style} background"


def test_red_images_are_redder_than_blue_ones() -> None:
    images, _, attrs = sample(200, ShapesWorld(noise=0.0), seed=1)
    red = np.mean(
        [
            im[0].max() - im[2].max()
            for im, a in zip(images, attrs, strict=True)
            if a.colour == "red"
        ]
    )
    blue = np.mean(
        [
            im[0].max() - im[2].max()
            for im, a in zip(images, attrs, strict=True)
            if a.colour == "blue"
        ]
    )
    assert red > blue


def test_concepts_are_schema_concepts_with_an_anchor_of_the_same_kind() -> None:
    for name in all_concept_names():
        concept = make_concept(name)
        assert isinstance(concept, Concept)
        assert all(name in p.split() for p in concept.prompts)
        assert kind_of(concept.anchor or "") == kind_of(name) and concept.anchor != name


def test_bad_concepts_and_anchors_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown shapes-world concept 'hexagon'.*circle"):
        make_concept("hexagon")
    with pytest.raises(ValueError, match="anchor of 'circle' must be another shape"):
        make_concept("circle", anchor="red")
    with pytest.raises(ValueError, match="image_size must be 16 or 32"):
        ShapesWorld(image_size=24)  # type: ignore[arg-type]


def test_swap_keeps_token_positions() -> None:
    prompt = prompts_for("circle", 1)[0]
    swapped = swap_concept(prompt, "circle", "square")
    assert len(swapped.split()) == len(prompt.split()) and "square" in swapped.split()
