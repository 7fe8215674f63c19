"""`train.noise_prediction_loss`: DDPM's loss, its draws in order, a frozen encoder's context."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from diffusers import DDPMScheduler
from erase_diffusion.train import noise_prediction_loss


def _stub_pipe(seen: dict[str, Any]) -> Any:
    def text_encoder(tokens: torch.Tensor) -> Any:
        return SimpleNamespace(last_hidden_state=weight * torch.ones(tokens.shape[0], 2, 3))

    def unet(xt: torch.Tensor, t: torch.Tensor, encoder_hidden_states: torch.Tensor) -> Any:
        seen.update(xt=xt, t=t, context=encoder_hidden_states)
        return SimpleNamespace(sample=torch.zeros_like(xt))  # predicts no noise at all

    weight = torch.tensor(2.0, requires_grad=True)
    return SimpleNamespace(
        text_encoder=text_encoder, unet=unet, tokenize=lambda c: torch.zeros(len(c), 4)
    )


def test_the_loss_of_a_zero_prediction_is_the_mean_square_noise() -> None:
    scheduler: Any = DDPMScheduler(num_train_timesteps=50)
    x0 = torch.full((3, 1, 2, 2), 0.5)
    seen: dict[str, Any] = {}
    loss = noise_prediction_loss(
        _stub_pipe(seen), scheduler, x0, ["a", "b", "c"], torch.Generator().manual_seed(4)
    )
    generator = torch.Generator().manual_seed(4)
    noise = torch.randn(x0.shape, generator=generator)  # the noise first, then t
    t = torch.randint(0, 50, (3,), generator=generator)
    assert torch.equal(seen["t"], t)
    assert torch.equal(seen["xt"], scheduler.add_noise(x0, noise, t))
    assert torch.allclose(loss, (noise**2).mean())
    assert seen["context"].requires_grad


def test_a_frozen_text_encoder_gives_a_context_without_gradient() -> None:
    seen: dict[str, Any] = {}
    noise_prediction_loss(
        _stub_pipe(seen),
        DDPMScheduler(num_train_timesteps=50),
        torch.zeros(2, 1, 2, 2),
        ["a", "b"],
        torch.Generator().manual_seed(0),
        text_encoder_grad=False,
    )
    assert not seen["context"].requires_grad
