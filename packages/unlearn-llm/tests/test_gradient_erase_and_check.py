"""GradEC on a hand-built filter whose gradient is known: a linear score on the mean word
embedding, where one planted adversarial token hides a harmful prompt.

The filter: word embeddings are scalars $e_t$, the harmful logit is
$z = \\frac{1}{n}\\sum_i \\sigma(m_i) e_{p_i} + b$ with $b = -1/2$ (the harmless logit is 0), so
the harmful score is $\\sigma(z)$ and, at $m = 0$ (every $\\sigma(m_i) = 1/2$),
$\\partial L / \\partial m_i = -(1 - \\sigma(z))\\, e_{p_i} / (4n)$: a token with $e < 0$ has a
positive gradient and the first step erases it; a token with $e = 0$ has none and stays.
The checks score the erased sequences with the unmasked embeddings.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from unlearn_llm.defences import (
    CheckResult,
    gradient_erase_and_check,
    gradient_erasure_masks,
    gradient_ranked_erase_and_check,
)

HARM, TRIGGER, NEUTRAL, CALM = 1, 2, 3, 4
EMBEDDING = {HARM: 1.0, TRIGGER: -6.0, NEUTRAL: 0.0, CALM: -1.0}
BIAS = -0.5


class MeanLinearFilter(nn.Module):
    """Harmful logit = mean scalar embedding + BIAS; harmless logit = 0."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 1)
        with torch.no_grad():
            self.embed.weight.zero_()
            for token, value in EMBEDDING.items():
                self.embed.weight[token, 0] = value

    def forward_embeddings(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(embeddings.dtype)
        mean = (embeddings * weights).sum(1) / weights.sum(1)
        harmful = mean[:, 0] + BIAS
        return torch.stack([torch.zeros_like(harmful), harmful], dim=-1)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_the_planted_trigger_is_the_one_token_erased_first() -> None:
    model = MeanLinearFilter()
    attacked = (HARM, TRIGGER, HARM, HARM)
    # clean (HARM, HARM, HARM): z = 1 - 0.5 = 0.5, harmful; the trigger hides it:
    # z = (1 - 6 + 1 + 1) / 4 - 0.5 = -1.25
    masks = list(gradient_erasure_masks(model, attacked, 2))
    assert masks == [(True, True, True, True)] + [(True, False, True, True)] * 2
    bare = gradient_erase_and_check(model, attacked, 0)
    assert isinstance(bare, CheckResult) and not bare.harmful
    assert bare.checks == 1 and bare.gradient_steps == 0
    assert bare.max_score == pytest.approx(sigmoid(-1.25))  # 0.2227
    one = gradient_erase_and_check(model, attacked, 1)
    # S_1 = (HARM, HARM, HARM): z = 0.5, score sigma(0.5) = 0.6225 >= 0.5
    assert one.harmful and one.checks == 2 and one.gradient_steps == 1
    assert one.max_score == pytest.approx(sigmoid(0.5))
    many = gradient_erase_and_check(model, attacked, 20)
    assert many.harmful and many.checks == 2 and many.gradient_steps == 1  # stops at S_1


def test_a_clean_harmless_prompt_stays_harmless() -> None:
    model = MeanLinearFilter()
    calm = (CALM, NEUTRAL, NEUTRAL)  # z = -1/3 - 0.5
    masks = list(gradient_erasure_masks(model, calm, 3))
    # CALM (e = -1) is erased at step 1; NEUTRAL (e = 0) has a zero gradient and stays
    assert masks == [(True, True, True)] + [(False, True, True)] * 3
    result = gradient_erase_and_check(model, calm, 5)
    # S_0 scores sigma(-0.8333), S_1 = (NEUTRAL, NEUTRAL) scores sigma(-0.5); S_2..S_5
    # repeat S_1 and are not scored again
    assert not result.harmful and result.checks == 2 and result.gradient_steps == 5
    assert result.max_score == pytest.approx(sigmoid(-0.5))
    assert result.max_score == pytest.approx(0.3775407, abs=1e-6)


def test_a_mask_that_erases_everything_keeps_one_token() -> None:
    model = MeanLinearFilter()
    masks = list(gradient_erasure_masks(model, (CALM, CALM), 1))
    assert masks == [(True, True), (True, False)]  # tie: the first largest logit stays
    result = gradient_erase_and_check(model, (CALM, CALM), 1)
    assert not result.harmful and result.checks == 2
    assert result.max_score == pytest.approx(sigmoid(-1.5))  # (CALM,): z = -1 - 0.5


def test_the_filter_gradient_is_the_hand_formula() -> None:
    """On (HARM, TRIGGER) at $m = 0$: $z = (1 - 6)/4 - 1/2 = -1.75$ (the soft mask halves
    every embedding) and $\\partial L / \\partial m_i = -(1 - \\sigma(z))\\, e_i / (4 \\cdot 2)$."""
    model = MeanLinearFilter()
    embeddings = model.embed(torch.tensor([[HARM, TRIGGER]])).detach()
    leaf = torch.zeros(2, requires_grad=True)
    output = model.forward_embeddings(
        torch.sigmoid(leaf)[None, :, None] * embeddings, torch.ones(1, 2, dtype=torch.bool)
    )
    loss = nn.functional.cross_entropy(output, torch.tensor([1]))
    (gradient,) = torch.autograd.grad(loss, leaf)
    expected = -(1 - sigmoid(-1.75)) * 0.25 / 2 * torch.tensor([1.0, -6.0])
    assert torch.allclose(gradient, expected, atol=1e-6)
    # so GradEC erases the trigger (positive gradient) and keeps HARM
    assert list(gradient_erasure_masks(model, (HARM, TRIGGER), 1))[1] == (True, False)


def test_gradec_erases_every_harmless_looking_token_at_once_the_ranked_variant_one() -> None:
    """(HARM, HARM, CALM, TRIGGER): z = (1 + 1 - 1 - 6)/4 - 0.5 = -1.75, harmless.

    GradEC's first step erases both tokens with e < 0, leaving (HARM, HARM): z = 0.5.
    The ranked variant erases the largest gradient first, $-e/n$: TRIGGER (6 > 1), giving
    (HARM, HARM, CALM) with z = 1/3 - 0.5 = -1/6, still harmless; round 2 erases CALM.
    """
    model = MeanLinearFilter()
    prompt = (HARM, HARM, CALM, TRIGGER)
    assert list(gradient_erasure_masks(model, prompt, 1))[1] == (True, True, False, False)
    gradec = gradient_erase_and_check(model, prompt, 1)
    assert gradec.harmful and gradec.checks == 2
    assert gradec.max_score == pytest.approx(sigmoid(0.5))
    one = gradient_ranked_erase_and_check(model, prompt, 1)
    assert not one.harmful and one.checks == 2 and one.gradient_steps == 1
    assert one.max_score == pytest.approx(sigmoid(-1 / 6))  # 0.4584
    two = gradient_ranked_erase_and_check(model, prompt, 2)
    assert two.harmful and two.checks == 3 and two.gradient_steps == 2
    assert two.max_score == pytest.approx(sigmoid(0.5))
    calm = gradient_ranked_erase_and_check(model, (CALM, NEUTRAL, NEUTRAL), 5)
    # erases CALM, then a NEUTRAL (zero gradients: the first), then stops at one token
    assert not calm.harmful and calm.checks == 3 and calm.gradient_steps == 2
    assert calm.max_score == pytest.approx(sigmoid(-0.5))


def test_bad_inputs_are_named() -> None:
    model = MeanLinearFilter()
    with pytest.raises(ValueError, match="iterations"):
        gradient_erase_and_check(model, (HARM,), -1)
    with pytest.raises(ValueError, match="tokens"):
        gradient_erase_and_check(model, (), 1)
    with pytest.raises(ValueError, match="learning_rate"):
        gradient_erase_and_check(model, (HARM,), 1, learning_rate=0.0)
    with pytest.raises(ValueError, match="iterations"):
        gradient_ranked_erase_and_check(model, (HARM,), -2)
