"""TRCE: the token groups of stage 1, its weighted closed form, the triplet hinge of
stage 2 worked by hand, what stage 2 trains, and on the shipped pipeline the concept
weakened by the [EoT] edit alone while another concept is kept."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.cross_attention import (
    anchor_prompt,
    cross_attention_projections,
    preserve_rows,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.methods.trce import TRCEParams, erase_trce, steering_loss, token_weights
from erase_diffusion.worlds.shapes import make_concept, prompts_for
from unlearn_schema import Concept

PRESERVE = prompts_for("triangle", 3) + prompts_for("cross", 3)


def _weights(pipe: Any) -> list[torch.Tensor]:
    return [m.weight.detach().double().clone() for _, m in cross_attention_projections(pipe.unet)]


def test_token_groups_of_a_caption(tiny_pipe: Any) -> None:
    concept = Concept(name="circle", prompts=["a red circle on a dark plain background"])
    # <start> a red circle on a dark plain background <end> + 6 pads = 16 positions.
    default = token_weights(tiny_pipe, concept, TRCEParams())[0].tolist()
    assert default == [0.0] * 9 + [1.0] * 7
    params = TRCEParams(start_weight=0.5, key_weight=2.0, first_eot_weight=3.0, later_eot_weight=0)
    weighted = token_weights(tiny_pipe, concept, params)[0].tolist()
    assert weighted == [0.5, 0, 0, 2.0, 0, 0, 0, 0, 0, 3.0] + [0.0] * 6


def test_steering_hinge_worked_by_hand() -> None:
    safe = torch.zeros(1, 2)
    unsafe = torch.tensor([[2.0, 0.0]])  # mean squared gap D = 4 / 2 = 2
    # At the safe prediction the hinge is (m - 1) D: 0 at m = 1, 2 at m = 2.
    assert steering_loss(safe, safe, unsafe, 1.0).item() == pytest.approx(0.0)
    assert steering_loss(safe, safe, unsafe, 2.0).item() == pytest.approx(2.0)
    # At the unsafe prediction: D - 0 + m D = 4 at m = 1.
    assert steering_loss(unsafe, safe, unsafe, 1.0).item() == pytest.approx(4.0)
    # Halfway: 0.5 - 0.5 + 0 at m = 0; never below 0.
    half = torch.tensor([[1.0, 0.0]])
    assert steering_loss(half, safe, unsafe, 0.0).item() == pytest.approx(0.0)
    assert steering_loss(-unsafe, safe, unsafe, 0.0).item() == pytest.approx(0.0)


def test_stage_one_solves_the_weighted_normal_equations(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=2)
    params = TRCEParams(stages="text", key_weight=2.0, preserve_weight=0.5, ridge=0.05)
    edited = _weights(erase_trce(tiny_pipe, EraseRequest([concept], PRESERVE), params))
    prompts = list(concept.prompts)
    malicious = tiny_pipe.encode(prompts).double()
    safe = tiny_pipe.encode([anchor_prompt(p, concept) for p in prompts]).double()
    w = token_weights(tiny_pipe, concept, params).reshape(-1, 1)
    e_m, e_s = malicious.reshape(-1, malicious.shape[-1]), safe.reshape(-1, safe.shape[-1])
    p = preserve_rows(tiny_pipe, PRESERVE)
    eye = torch.eye(e_m.shape[1], dtype=torch.float64)
    system = (w * e_m).T @ e_m + 0.5 * p.T @ p + 0.05 * eye
    pulled = (w * e_s).T @ e_m + 0.5 * p.T @ p + 0.05 * eye
    for w_old, w_new in zip(_weights(tiny_pipe), edited, strict=True):
        lhs, rhs = w_new @ system, w_old @ pulled
        assert float((lhs - rhs).norm() / rhs.norm()) < 1e-4


def test_stage_two_trains_only_the_visual_layers(tiny_pipe: Any) -> None:
    concept = make_concept("red", prompts_per_concept=2)
    request = EraseRequest([concept], PRESERVE)
    before = {n: p.detach().clone() for n, p in tiny_pipe.unet.named_parameters()}
    stage_one = erase_trce(tiny_pipe, request, {"stages": "text"})
    losses: list[float] = []
    params = {
        "iterations": 3,
        "batch_size": 2,
        "ddim_steps": 4,
        "early_steps": 2,
        "trajectories": 1,
    }
    both = erase_trce(tiny_pipe, request, params, losses=losses)
    assert len(losses) == 3 and all(x >= 0 for x in losses)
    stage_one_params = dict(stage_one.unet.named_parameters())
    changed = {
        n for n, p in both.unet.named_parameters() if not torch.equal(p, stage_one_params[n])
    }
    assert changed and all(".attn1." in n or ".attn2.to_q." in n for n in changed)
    # The caller's model is untouched.
    assert all(torch.equal(p, before[n]) for n, p in tiny_pipe.unet.named_parameters())


def test_the_eot_edit_weakens_a_shape_and_keeps_another(shipped_pipe: Any, judge: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=12)
    request = EraseRequest([concept], prompts_for("triangle", 6) + prompts_for("square", 6))
    edited = erase_trce(shipped_pipe, request, {"stages": "text"})
    prompts = prompts_for("circle", 12, seed=3) + prompts_for("triangle", 12, seed=3)
    before = judge.judge(shipped_pipe.generate(prompts, steps=8, seed=0))
    after = judge.judge(edited.generate(prompts, steps=8, seed=0))
    circle_before = before.sees("circle", "shape")[:12].mean()
    assert circle_before > 0.7
    assert after.sees("circle", "shape")[:12].mean() < circle_before - 0.2
    assert after.sees("triangle", "shape")[12:].mean() > 0.7
