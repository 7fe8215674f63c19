r"""Primitives of the denoiser fine-tuning methods (DoCo, All-but-One, ANT): which UNet
weights train, a frozen copy of the original, the DDIM scheduler the loops sample with,
partial sampling to draw $x_t$, and the clean-image estimate $\hat x_0$ from a noise
prediction.

ESD (`erase_diffusion.methods.esd`) writes the same steps inline; these methods share
them here instead of repeating them three more times. torch is imported inside the
functions only.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

Layers = Literal["cross-attention", "non-cross-attention", "all"]
"""Which UNet weights a method trains: the cross-attention layers (``attn2``, as ESD-x),
every other weight (as ESD-u), or the whole UNet."""


def select_parameters(unet: Any, layers: Layers) -> list[tuple[str, torch.nn.Parameter]]:
    """``(name, parameter)`` of the UNet weights ``layers`` names; raises naming the
    accepted values for any other name, or when the model has no cross-attention."""
    if layers not in ("cross-attention", "non-cross-attention", "all"):
        raise ValueError(
            f"layers={layers!r} is not a layer choice; accepted: 'cross-attention', "
            "'non-cross-attention', 'all'"
        )
    named = list(unet.named_parameters())
    if not any(".attn2." in name for name, _ in named):
        raise ValueError(
            f"{type(unet).__name__} has no cross-attention layers (no parameter under "
            "'.attn2.'): these methods fine-tune a text-conditioned UNet such as "
            "UNet2DConditionModel with CrossAttn blocks"
        )
    if layers == "all":
        return named
    cross = layers == "cross-attention"
    return [(name, p) for name, p in named if (".attn2." in name) == cross]


def prepare_training(unet: Any, layers: Layers) -> tuple[Any, list[tuple[str, torch.nn.Parameter]]]:
    """Freeze a copy of ``unet`` (the original, $\theta^*$) and make only ``layers`` of
    ``unet`` trainable; returns the frozen copy and the trainable ``(name, parameter)``."""
    chosen = select_parameters(unet, layers)
    frozen = copy.deepcopy(unet).eval().requires_grad_(False)
    unet.requires_grad_(False)
    for _, p in chosen:
        p.requires_grad_(True)
    unet.train()
    return frozen, chosen


def sampling_scheduler(scheduler: Any, ddim_steps: int) -> Any:
    """A copy of the pipeline's scheduler set to ``ddim_steps`` DDIM steps."""
    sampler = copy.deepcopy(scheduler)
    sampler.set_timesteps(ddim_steps)
    return sampler


def sample_until(
    unet: Any,
    scheduler: Any,
    context: torch.Tensor,
    x: torch.Tensor,
    stop: int,
    start: int = 0,
) -> torch.Tensor:
    """``x`` (the sample at ``scheduler.timesteps[start]``) after DDIM steps ``start`` to
    ``stop - 1`` of ``scheduler`` (unguided, conditioned on ``context``), without
    gradients: the $x_t$ at ``scheduler.timesteps[stop]``."""
    import torch

    with torch.no_grad():
        for t in scheduler.timesteps[start:stop]:
            eps = unet(x, t, encoder_hidden_states=context).sample
            x = scheduler.step(eps, t, x).prev_sample
    return x


def predicted_original(
    scheduler: Any, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    r"""$\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon) / \sqrt{\bar\alpha_t}$ for the
    per-sample (or scalar) training timesteps ``t``; differentiable in ``eps``."""
    alphas = scheduler.alphas_cumprod.to(x_t.dtype)[t.long()]
    alphas = alphas.reshape(-1, *([1] * (x_t.dim() - 1)))
    return (x_t - (1 - alphas).sqrt() * eps) / alphas.sqrt()
