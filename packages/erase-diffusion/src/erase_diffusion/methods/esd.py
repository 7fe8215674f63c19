r"""ESD: Erasing Concepts from Diffusion Models (Gandikota et al., arXiv:2303.07345).

Fine-tunes the UNet $\theta$ against a frozen copy $\theta^*$ so that, conditioned on the
erased concept $c$, it predicts the noise of *negative* guidance away from $c$:

$$L(\theta) = \mathbb{E} \big\|\epsilon_\theta(x_t, c, t) -
\big[\epsilon_{\theta^*}(x_t, \varnothing, t) -
\eta \big(\epsilon_{\theta^*}(x_t, c, t) - \epsilon_{\theta^*}(x_t, \varnothing, t)\big)\big]
\big\|^2$$

with $x_t$ drawn by partially denoising from pure noise with the model being trained,
conditioned on $c$ (as in the paper). ESD-x (registered as ``esd-x``) trains only the
cross-attention layers (``attn2``), so the change stays tied to the prompt; ESD-u
(``esd-u``) trains every other layer (unconditional weights), which erases more broadly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods.cross_attention import cross_attention_projections, working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class ESDParams(MethodParams):
    """Parameters of ESD."""

    variant: Literal["x", "u"] = Field(
        default="x", description="'x': cross-attention only; 'u': all but cross-attention."
    )
    negative_guidance: float = Field(default=1.0, gt=0.0, le=20.0, description="η.")
    iterations: int = Field(default=60, ge=1, le=100_000)
    learning_rate: float = Field(default=3e-4, gt=0.0, le=1.0)
    batch_size: int = Field(default=8, ge=1, le=256)
    ddim_steps: int = Field(default=10, ge=2, le=1000, description="Steps of the x_t sampler.")
    seed: int = Field(default=0, description="Seed of the prompt, timestep and noise draws.")


class ESDXParams(ESDParams):
    """Parameters of ESD-x (the registered ``esd-x``): ``variant`` is always ``"x"``."""

    variant: Literal["x"] = Field(default="x", description="Fixed: cross-attention only.")


class ESDUParams(ESDParams):
    """Parameters of ESD-u (the registered ``esd-u``): ``variant`` is always ``"u"``."""

    variant: Literal["u"] = Field(default="u", description="Fixed: all but cross-attention.")


def trainable_parameters(unet: Any, variant: Literal["x", "u"]) -> list[torch.nn.Parameter]:
    """ESD-x: parameters inside cross-attention (``attn2``); ESD-u: all the others."""
    chosen = []
    for name, param in unet.named_parameters():
        in_cross = ".attn2." in name
        if in_cross == (variant == "x"):
            chosen.append(param)
    return chosen


def erase_esd(
    pipe: TextToImage,
    request: EraseRequest,
    params: ESDParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` by negative-guidance fine-tuning of the layers that
    ``params.variant`` names; returns a copy unless ``in_place``.

    ``request.preserve_prompts`` is not read: ESD has no preservation term.
    """
    import torch

    params = method_params(ESDParams, params, "esd")
    cross_attention_projections(pipe.unet)
    edited = working_copy(pipe, in_place)
    frozen = copy.deepcopy(edited.unet).eval().requires_grad_(False)
    unet = edited.unet
    unet.requires_grad_(False)
    params_to_train = trainable_parameters(unet, params.variant)
    for p in params_to_train:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params_to_train, lr=params.learning_rate)
    scheduler = copy.deepcopy(edited.scheduler)
    scheduler.set_timesteps(params.ddim_steps)
    generator = torch.Generator().manual_seed(params.seed)
    prompts = [p for c in request.concepts for p in c.prompts]
    empty = edited.encode([""])
    sample_size = int(unet.config.sample_size)
    channels = int(unet.config.in_channels)
    unet.train()
    for _ in range(params.iterations):
        picks = torch.randint(0, len(prompts), (params.batch_size,), generator=generator)
        context = edited.encode([prompts[i] for i in picks.tolist()])
        stop = int(torch.randint(0, params.ddim_steps, (1,), generator=generator))
        x = torch.randn(
            (params.batch_size, channels, sample_size, sample_size), generator=generator
        )
        with torch.no_grad():
            for t in scheduler.timesteps[:stop]:
                eps = unet(x, t, encoder_hidden_states=context).sample
                x = scheduler.step(eps, t, x).prev_sample
            t = scheduler.timesteps[stop]
            uncond = empty.expand(params.batch_size, -1, -1)
            eps_empty = frozen(x, t, encoder_hidden_states=uncond).sample
            eps_concept = frozen(x, t, encoder_hidden_states=context).sample
            target = eps_empty - params.negative_guidance * (eps_concept - eps_empty)
        predicted = unet(x, t, encoder_hidden_states=context).sample
        loss = torch.nn.functional.mse_loss(predicted, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    unet.eval()
    unet.requires_grad_(False)
    return edited


def erase_esd_x(
    pipe: TextToImage,
    request: EraseRequest,
    params: ESDXParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """ESD-x: `erase_esd` training the cross-attention layers only."""
    params = method_params(ESDXParams, params, "esd-x")
    return erase_esd(pipe, request, params, in_place=in_place)


def erase_esd_u(
    pipe: TextToImage,
    request: EraseRequest,
    params: ESDUParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """ESD-u: `erase_esd` training every layer outside cross-attention."""
    params = method_params(ESDUParams, params, "esd-u")
    return erase_esd(pipe, request, params, in_place=in_place)
