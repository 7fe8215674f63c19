"""CGCE: the classifier and one refinement step worked by hand, benign prompts untouched
bit for bit, and on the shipped pipeline circles erased while other shapes stay."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from erase_diffusion.methods.cgce import (
    CGCEParams,
    cgce_hook,
    classifier_logits,
    erase_cgce,
    refine_embeddings,
    training_prompts,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for
from unlearn_schema import Concept


def _hand_classifier() -> dict[str, torch.Tensor]:
    # One concept in d = 2; a zero query attends uniformly over the tokens.
    return {
        "query": torch.zeros(1, 2),
        "weight": torch.tensor([[1.0, 0.0]]),
        "bias": torch.tensor([0.0]),
    }


def test_logit_with_uniform_attention_is_the_head_on_the_mean_row() -> None:
    rows = torch.tensor([[[2.0, 5.0], [0.0, -1.0]]])  # mean row (1, 2)
    assert classifier_logits(_hand_classifier(), rows).tolist() == [[1.0]]


def test_one_refinement_step_by_hand() -> None:
    # z = mean of the first coordinates = 1, p = sigma(1). d/de_j softplus(z) =
    # sigma(1) * w / T with T = 2 tokens, so one step of eta = 2 moves every token by
    # -sigma(1) * (1, 0).
    rows = torch.tensor([[[2.0, 5.0], [0.0, -1.0]]])
    params = CGCEParams(refine_steps=1, step_size=2.0, target=1e-6)
    refined = refine_embeddings(_hand_classifier(), rows, params)
    shift = torch.sigmoid(torch.tensor(1.0)).item()
    expected = rows - torch.tensor([shift, 0.0])
    assert torch.allclose(refined, expected, atol=1e-6)


def test_unflagged_rows_are_returned_bit_for_bit() -> None:
    # Row 0: z = 1 (flagged); row 1: z = -3 (p < 0.5, not flagged).
    rows = torch.tensor([[[2.0, 5.0], [0.0, -1.0]], [[-3.0, 0.7], [-3.0, 0.1]]])
    params = CGCEParams(refine_steps=5, step_size=1.0)
    refined = refine_embeddings(_hand_classifier(), rows, params)
    assert torch.equal(refined[1], rows[1])
    assert not torch.equal(refined[0], rows[0])
    benign = rows[1:]
    assert refine_embeddings(_hand_classifier(), benign, params) is benign


def test_refinement_stops_at_the_target() -> None:
    rows = torch.tensor([[[2.0, 5.0], [0.0, -1.0]]])
    params = CGCEParams(refine_steps=10_000, step_size=1.0, target=0.1)
    refined = refine_embeddings(_hand_classifier(), rows, params)
    p = torch.sigmoid(classifier_logits(_hand_classifier(), refined)).item()
    # Stopped just under the target, not run to the step budget.
    assert 0.05 < p < 0.1


def test_training_prompts_pair_each_prompt_with_its_anchor() -> None:
    circle = Concept(name="circle", prompts=["a red circle"], anchor="square")
    red = Concept(name="red", prompts=["a red circle", "a red cross"], anchor="blue")
    (pos_c, neg_c), (pos_r, neg_r) = training_prompts([circle, red], ["a blue square"])
    assert pos_c == ["a red circle"]
    # The other concept's prompt that names circle is no negative of the circle classifier.
    assert neg_c == ["a red square", "a blue square", "a red cross", ""]
    assert pos_r == ["a red circle", "a red cross"]
    assert neg_r == ["a blue circle", "a blue cross", "a blue square", ""]


def test_cgce_erases_circles_and_leaves_other_prompts_identical(
    shipped_pipe: Any, judge: Any
) -> None:
    before = [p.detach().clone() for p in shipped_pipe.unet.parameters()]
    request = EraseRequest([make_concept("circle")], prompts_for("square", 12, seed=1))
    edited = erase_cgce(shipped_pipe, request)
    circles = prompts_for("circle", seed=5)[:16]
    kept = prompts_for("triangle", seed=5)[:16]
    original = judge.judge(shipped_pipe.generate(circles, steps=10, seed=1))
    erased = judge.judge(edited.generate(circles, steps=10, seed=1))
    assert np.mean(original.sees("circle", "shape")) >= 0.8
    assert np.mean(erased.sees("circle", "shape")) <= 0.25
    # Benign prompts: the same images, bit for bit.
    assert torch.equal(
        shipped_pipe.generate(kept, steps=10, seed=1), edited.generate(kept, steps=10, seed=1)
    )
    # No weight changed, the caller's pipeline has no hook.
    after = list(edited.unet.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert cgce_hook(shipped_pipe) is None and cgce_hook(edited) is not None


def test_cgce_refines_precomputed_embeddings_too(shipped_pipe: Any) -> None:
    edited = erase_cgce(shipped_pipe, EraseRequest([make_concept("circle", prompts_per_concept=6)]))
    embeds = shipped_pipe.encode(prompts_for("circle", 4, seed=3))
    assert not torch.equal(
        shipped_pipe.generate(prompt_embeds=embeds, steps=4),
        edited.generate(prompt_embeds=embeds, steps=4),
    )


def test_cgce_params_name_the_bad_value() -> None:
    with pytest.raises(Exception, match="threshold"):
        erase_cgce(None, None, {"threshold": 1.5})  # type: ignore[arg-type]
