"""Concept arithmetic: the composition rule and the fit worked by hand, and the attack on
the shipped pipeline, a planted inverted model, and the text-encoder hider (where the
shapes world gives it nothing to compose)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from erase_diffusion.attacks.arithmetic import composed_noise, concept_arithmetic, fit_weights
from erase_diffusion.attacks.hiding import hide_in_text_encoder
from erase_diffusion.attacks.target import DiffusionAttackTarget
from erase_diffusion.worlds.shapes import make_concept
from unlearn_schema import SpecError


def _target(pipe: Any, shipped_pipe: Any, judge: Any) -> DiffusionAttackTarget:
    concept = make_concept("circle", prompts_per_concept=8)
    return DiffusionAttackTarget(
        pipe=pipe, concept=concept, judge=judge, seed=0, original=shipped_pipe
    )


def test_least_squares_weights_by_hand() -> None:
    # m1 = (1, 0, 0), m2 = (0, 1, 1), r = (2, -0.5, -0.5): the normal equations are
    # [[1, 0], [0, 2]] w = (2, -1), so w = (2, -0.5) with zero residual.
    m1, m2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    weights = fit_weights(torch.tensor([2.0, -0.5, -0.5]), [m1, m2])
    assert weights.tolist() == pytest.approx([2.0, -0.5])
    # with a ridge of 1 the system is [[2, 0], [0, 3]] w = (2, -1): w = (1, -1/3)
    assert fit_weights(torch.tensor([2.0, -0.5, -0.5]), [m1, m2], 1.0).tolist() == pytest.approx(
        [1.0, -1 / 3]
    )


class _ScaleByContext(torch.nn.Module):
    # ε(x, c) = x * mean(c): the unconditional context 0 gives 0, contexts 1 and 3 give x, 3x.
    def forward(self, x: torch.Tensor, t: Any, encoder_hidden_states: torch.Tensor) -> Any:
        return SimpleNamespace(sample=x * encoder_hidden_states.mean())


def test_composition_rule_by_hand() -> None:
    pipe = SimpleNamespace(unet=_ScaleByContext())
    x = torch.tensor([[1.0, -2.0]])
    uncond, one, three = (torch.full((1, 2, 4), v) for v in (0.0, 1.0, 3.0))
    # ε(∅) + 2 (ε(c1) - ε(∅)) - 0.5 (ε(c3) - ε(∅)) = 0 + 2x - 1.5x = 0.5x
    got = composed_noise(pipe, x, 0, uncond, [(one, 2.0), (three, -0.5)])  # type: ignore[arg-type]
    assert got.tolist() == [[0.5, -1.0]]


def test_original_keeps_the_plain_prompt_and_draws_circles(shipped_pipe: Any, judge: Any) -> None:
    outcome = concept_arithmetic(_target(shipped_pipe, shipped_pipe, judge))
    # the prompt itself denoises circle images best; measured CRR 0.94 (clean 0.94)
    assert outcome.metrics["chosen"] == 0.0 and outcome.prompts[0].startswith("self x 1:")
    assert outcome.metrics["loss self x 1"] < outcome.metrics["loss self x -1"]
    assert outcome.reproduction_rate >= 0.75
    assert outcome.images == 16


class _Inverted(torch.nn.Module):
    # A planted erasure taken to ESD's limit: every conditional noise is reflected through
    # the unconditional one, ε'(x, c) = 2 ε(x, ∅) - ε(x, c); the empty prompt is untouched.
    def __init__(self, unet: Any, uncond: torch.Tensor) -> None:
        super().__init__()
        self.unet, self.uncond, self.config = unet, uncond, unet.config

    def forward(self, x: torch.Tensor, t: Any, encoder_hidden_states: torch.Tensor) -> Any:
        eps = self.unet(x, t, encoder_hidden_states=encoder_hidden_states).sample
        base = self.unet(x, t, encoder_hidden_states=self.uncond.expand_as(encoder_hidden_states))
        is_uncond = (encoder_hidden_states == self.uncond).flatten(1).all(1)
        reflected = 2 * base.sample - eps
        return SimpleNamespace(sample=torch.where(is_uncond[:, None, None, None], eps, reflected))


def test_negative_self_weight_undoes_an_inverted_model(shipped_pipe: Any, judge: Any) -> None:
    inverted = shipped_pipe.copy()
    inverted.unet = _Inverted(shipped_pipe.unet, shipped_pipe.encode([""]))
    outcome = concept_arithmetic(_target(inverted, shipped_pipe, judge), {"fit_others": False})
    # -1 x ε'(c) composes back to ε(c): chosen by the denoising loss, circles come back
    # (measured 0.31, the shape prior, -> 0.94)
    assert outcome.prompts[0].startswith("self x -1:")
    assert outcome.clean_reproduction_rate <= 0.4
    assert outcome.reproduction_rate >= 0.75


def test_hider_leaves_nothing_to_compose(shipped_pipe: Any, judge: Any) -> None:
    # The hider reads "circle" as "square" and the world has no other word for a circle:
    # the fitted sum of square/triangle/cross prompts denoises circle images best but only
    # reaches the shape prior (measured 0.00 -> 0.19; the unconditional model draws a
    # circle in about 0.3 of its images). Concept arithmetic has no power in this world.
    hidden = hide_in_text_encoder(shipped_pipe, "circle", "square")
    before = {k: v.clone() for k, v in hidden.unet.state_dict().items()}
    outcome = concept_arithmetic(_target(hidden, shipped_pipe, judge))
    assert outcome.prompts[0].startswith("fitted:")
    assert outcome.clean_reproduction_rate == 0.0
    assert outcome.reproduction_rate <= 0.4
    assert all(torch.equal(v, hidden.unet.state_dict()[k]) for k, v in before.items())


def test_bad_params_are_errors(shipped_pipe: Any, judge: Any) -> None:
    target = _target(shipped_pipe, shipped_pipe, judge)
    with pytest.raises(SpecError, match=r"(?s)concept-arithmetic params.*fit_images"):
        concept_arithmetic(target, {"fit_images": 0})
    with pytest.raises(ValueError, match="composition 0 of concept-arithmetic has no terms"):
        concept_arithmetic(target, {"compositions": [{}]})
