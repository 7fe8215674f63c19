"""AdvUnlearn: the ESD target and the fast-AT step by hand, the inner attack lowers its
own loss, and only the text encoder (or the chosen layers of it) trains."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.attacks.prompt_search import adversarial_ids
from erase_diffusion.methods.advunlearn import (
    AdvUnlearnParams,
    adversarial_step,
    attack_embedding,
    erase_advunlearn,
    esd_target,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for

FEW = {
    "iterations": 3,
    "warmup_iterations": 1,
    "attack_steps": 2,
    "batch_size": 2,
    "retain_batch": 2,
    "ddim_steps": 3,
}


def test_esd_target_worked_by_hand() -> None:
    # eps_empty = (1, 0), eps_concept = (3, -2), eta = 0.5: (1, 0) - 0.5 (2, -2) = (0, 1).
    out = esd_target(torch.tensor([1.0, 0.0]), torch.tensor([3.0, -2.0]), 0.5)
    assert out.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(("attack", "moved"), [("pgd", [-0.3, 0.05]), ("fast-at", [-0.1, 0.1])])
def test_fast_at_steps_on_the_gradient_sign(attack: str, moved: list[float]) -> None:
    # Plain SGD with lr 0.1 on grad (3, -0.5): the gradient itself, or its sign.
    delta = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([delta], lr=0.1)
    adversarial_step(delta, torch.tensor([3.0, -0.5]), optimizer, attack)
    assert delta.detach().tolist() == pytest.approx(moved)


def test_inner_attack_lowers_its_loss(tiny_pipe: Any) -> None:
    prompts = ["a red circle on a dark plain background"] * 2
    slot = int(tiny_pipe.tokenizer.unk_token_id)
    ids = adversarial_ids(tiny_pipe, prompts, [[slot]] * 2, "prefix")
    assert ids[0, 1].item() == slot  # <start>, then the adversarial slot, then the prompt
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 16, 16, generator=generator)
    target = torch.randn(2, 3, 16, 16, generator=generator)
    start = torch.zeros(int(tiny_pipe.text_encoder.config.hidden_size))
    params = AdvUnlearnParams(attack_steps=15, attack_learning_rate=0.1)
    delta, losses = attack_embedding(tiny_pipe, ids, slot, start, (x, 500, target), params)
    assert losses[-1] < losses[0]
    assert not torch.equal(delta, start)


def test_only_the_text_encoder_trains(tiny_pipe: Any) -> None:
    unet_before = [p.detach().clone() for p in tiny_pipe.unet.parameters()]
    encoder_before = {n: p.detach().clone() for n, p in tiny_pipe.text_encoder.named_parameters()}
    request = EraseRequest([make_concept("circle", prompts_per_concept=2)], prompts_for("cross", 2))
    edited = erase_advunlearn(tiny_pipe, request, FEW)
    assert all(
        torch.equal(a, b) for a, b in zip(unet_before, edited.unet.parameters(), strict=True)
    )
    changed = {
        n
        for n, p in edited.text_encoder.named_parameters()
        if not torch.equal(p, encoder_before[n])
    }
    assert changed
    assert all(
        torch.equal(p, encoder_before[n]) for n, p in tiny_pipe.text_encoder.named_parameters()
    )
    first = erase_advunlearn(tiny_pipe, request, {**FEW, "layers": [0]})
    changed = {
        n for n, p in first.text_encoder.named_parameters() if not torch.equal(p, encoder_before[n])
    }
    assert changed and all(".layers.0." in n for n in changed)
    with pytest.raises(ValueError, match=r"layers 0\.\.1"):
        erase_advunlearn(tiny_pipe, request, {**FEW, "layers": [7]})
