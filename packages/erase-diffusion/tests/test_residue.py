"""Concept residue: the related-input families and the judge's rate on them."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.hirm import concept_positions
from erase_diffusion.metrics.residue import (
    concept_residue,
    held_out_prompts,
    paraphrase_prompts,
    perturbed_embeddings,
    token_neighbour_embeddings,
)
from erase_diffusion.worlds.shapes import make_concept


def test_held_out_prompts_name_the_concept_and_skip_its_prompts() -> None:
    concept = make_concept("circle", prompts_per_concept=12)
    held = held_out_prompts(concept, limit=100)
    # 30 captions show a circle (5 colours x 2 backgrounds x 3 styles); 12 are the prompts.
    assert len(held) == 18
    assert all("circle" in p.split() and p not in concept.prompts for p in held)


def test_paraphrases_keep_the_concept_word_in_the_vocabulary(shipped_pipe: Any) -> None:
    concept = make_concept("striped", prompts_per_concept=4)
    found = paraphrase_prompts(concept, limit=500)
    assert found and all("striped" in p.split() for p in found)
    assert len(found) == len(set(found))
    unk = shipped_pipe.tokenizer.unk_token_id
    assert unk not in shipped_pipe.tokenize(found).flatten().tolist()
    # The three templates with a style slot: "a {colour} {shape} on a striped background"
    # (5 x 4 = 20), "a {shape} on a {background} striped background" (4 x 2 = 8) and
    # "a {colour} {shape} on a striped {background} background" (5 x 4 x 2 = 40).
    assert len(found) == 20 + 8 + 40


def test_perturbation_leaves_the_positions_before_the_concept(shipped_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=3)
    moved = perturbed_embeddings(shipped_pipe, concept, 6, (0.1, 0.2), seed=0)
    # Every prompt is "a <colour> circle ...": 3 positions (<start> a <colour>) come first.
    assert bool(concept_positions(shipped_pipe, concept)[:, 3:].all())
    original = shipped_pipe.encode(list(concept.prompts))
    starts = original[:, :3]
    assert any(torch.allclose(moved[i, :3], starts[j]) for i in range(6) for j in range(3))
    assert not torch.allclose(moved[:, 3:], original[:1, 3:].expand(6, -1, -1))


def test_a_vanishing_token_radius_reads_the_concept_word_itself(shipped_pipe: Any) -> None:
    concept = make_concept("red", prompts_per_concept=1)
    near = token_neighbour_embeddings(shipped_pipe, concept, 2, (0.0, 1e-9), seed=0)
    exact = shipped_pipe.encode(list(concept.prompts))
    assert torch.allclose(near, exact.expand(2, -1, -1), atol=1e-5)


def test_the_unedited_pipeline_draws_the_concept_from_related_inputs(
    shipped_pipe: Any, judge: Any
) -> None:
    concept = make_concept("circle", prompts_per_concept=12)
    report = concept_residue(shipped_pipe, concept, judge, samples=8, steps=8)
    assert set(report.rates) == {"perturbed", "token-neighbours", "held-out", "paraphrases"}
    assert report.counts["held-out"] == 8
    assert report.rates["held-out"] > 0.7 and report.mean > 0.6
    with pytest.raises(ValueError, match="unknown residue families"):
        concept_residue(shipped_pipe, concept, judge, families=["synonyms"])
