"""Co-Erasing: the text-guided refinement worked by hand, the image projection's least
squares, what trains, and on the shipped pipeline the concept erased, another kept."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.co_erasing import (
    CoErasingParams,
    concept_image_tokens,
    erase_co_erasing,
    fit_image_projection,
    refine_image_tokens,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for


def test_refinement_takes_the_image_token_the_text_matches() -> None:
    # d = 2 (scale √2). Two image tokens along the axes, scaled so the scores are ±20/√2.
    tokens = torch.tensor([[[10.0, 0.0], [0.0, 10.0]]])
    query = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    refined = refine_image_tokens(query, tokens)[0]
    # A query along x scores token 0 at 20/√2 ≈ 14.1 and token 1 at 0: softmax ≈ (1, 0).
    assert torch.allclose(refined[0], tokens[0, 0], atol=1e-4)
    assert torch.allclose(refined[1], tokens[0, 1], atol=1e-4)
    # A zero query scores both equally: the mean of the tokens.
    assert torch.allclose(refined[2], torch.tensor([5.0, 5.0]))


def test_projection_solves_its_ridge_normal_equations(shipped_pipe: Any, judge: Any) -> None:
    from erase_diffusion.worlds.shapes import all_attributes, caption

    projection = fit_image_projection(shipped_pipe, judge, ridge=1.0, steps=4, seed=0)
    captions = [caption(a) for a in all_attributes()]
    feats = torch.from_numpy(judge.judge(shipped_pipe.generate(captions, steps=4, seed=0)).features)
    x = torch.cat([feats, torch.ones(len(captions), 1, dtype=feats.dtype)], dim=1)
    y = shipped_pipe.encode(captions).double().reshape(len(captions), -1)
    # Gradient of ‖XP − Y‖² + ρ‖P‖² is zero: (XᵀX + ρI) P = XᵀY.
    lhs = (x.T @ x + torch.eye(x.shape[1], dtype=x.dtype)) @ projection.weight
    assert float((lhs - x.T @ y).norm() / (x.T @ y).norm()) < 1e-6
    # The fit explains most of the rows: images carry their caption's attributes.
    fitted = projection(feats).reshape(len(captions), -1)
    assert float((fitted - y).norm() / (y - y.mean(0)).norm()) < 0.8
    params = CoErasingParams(images=3, image_steps=4)
    tokens = concept_image_tokens(shipped_pipe, make_concept("red"), judge, projection, params)
    assert tokens.shape == (3, 16, 64)


def test_co_erasing_trains_only_cross_attention(
    tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {n: p.detach().clone() for n, p in tiny_pipe.unet.named_parameters()}
    request = EraseRequest([make_concept("red", prompts_per_concept=2)])
    params = {"iterations": 2, "images": 2, "image_steps": 2, "ddim_steps": 3, "batch_size": 2}
    edited = erase_co_erasing(tiny_pipe, request, params)
    changed = {n for n, p in edited.unet.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".attn2." in n for n in changed)
    assert all(torch.equal(p, before[n]) for n, p in tiny_pipe.unet.named_parameters())


def test_co_erasing_erases_a_shape_and_keeps_another(shipped_pipe: Any, judge: Any) -> None:
    request = EraseRequest([make_concept("circle", prompts_per_concept=12)])
    edited = erase_co_erasing(shipped_pipe, request, {"image_steps": 6})
    prompts = prompts_for("circle", 12, seed=3) + prompts_for("triangle", 12, seed=3)
    before = judge.judge(shipped_pipe.generate(prompts, steps=8, seed=0))
    after = judge.judge(edited.generate(prompts, steps=8, seed=0))
    circle_before = before.sees("circle", "shape")[:12].mean()
    assert circle_before > 0.7
    assert after.sees("circle", "shape")[:12].mean() < circle_before - 0.3
    assert after.sees("triangle", "shape")[12:].mean() > 0.6
