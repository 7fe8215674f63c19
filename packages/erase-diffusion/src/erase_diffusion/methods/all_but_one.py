r"""All but One: surgical concept erasing with model preservation (Hong, Lee and Woo,
*All but One: Surgical Concept Erasing with Model Preservation in Text-to-Image
Diffusion Models*, AAAI 2024, arXiv:2312.12807).

The conditional noise prediction splits into the unconditional score and a
classifier-guidance term, $\epsilon(x_t, c) = \epsilon(x_t, \varnothing) +
[\epsilon(x_t, c) - \epsilon(x_t, \varnothing)]$, the second being (up to scale)
$-\nabla_x \log p(c \mid x_t)$. The edit updates only the guidance term of the erased
concept $c$, moving it to the frozen original's guidance term of a user-chosen
alternative concept $c^+$ (here each concept's prompt with the concept swapped for its
anchor; the empty prompt when it has none, which turns the guidance off), and
constrains the unconditional score's drift:

$$L(\theta) = \mathbb{E}\,\Big\|\big[\epsilon_\theta(x_t, c, t) -
\epsilon_\theta(x_t, \varnothing, t)\big] - \big[\epsilon_{\theta^*}(x_t, c^+, t) -
\epsilon_{\theta^*}(x_t, \varnothing, t)\big]\Big\|^2
+ \lambda\,\mathbb{E}\,\big\|\epsilon_\theta(x_t, \varnothing, t) -
\epsilon_{\theta^*}(x_t, \varnothing, t)\big\|^2$$

with $x_t$ drawn, as in ESD, by partially denoising from pure noise with the model being
trained, conditioned on $c$. At $\lambda \to \infty$ the unconditional score stays the
original's and $\epsilon_\theta(x_t, c)$ becomes the original's guided prediction of
$c^+$ at guidance 1: the concept's prompt draws the alternative.

This module follows the paper's abstract and the brief's reading of it (the paper's
code was not available to us); the loss above is our transcription of "a surgical
update on the classifier guidance term while constraining the drift of the
unconditional score term" with a user-chosen alternative.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods._denoiser import (
    Layers,
    prepare_training,
    sample_until,
    sampling_scheduler,
)
from erase_diffusion.methods.cross_attention import anchor_prompt, working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class AllButOneParams(MethodParams):
    """Parameters of All-but-One."""

    drift_weight: float = Field(
        default=1.0, ge=0.0, le=1000.0, description="λ of the unconditional-drift term."
    )
    iterations: int = Field(default=40, ge=1, le=100_000)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=4, ge=1, le=256)
    ddim_steps: int = Field(default=6, ge=2, le=1000, description="Steps of the x_t sampler.")
    layers: Layers = Field(default="cross-attention", description="Which UNet weights train.")
    seed: int = Field(default=0, description="Seed of the prompt, timestep and noise draws.")


def all_but_one_loss(
    edited_concept: torch.Tensor,
    edited_empty: torch.Tensor,
    original_alternative: torch.Tensor,
    original_empty: torch.Tensor,
    drift_weight: float,
) -> torch.Tensor:
    """The loss of the module docstring on one batch of noise predictions: the squared
    error of the edited guidance term against the alternative's, plus λ times the
    unconditional drift (both means over every entry)."""
    from torch.nn.functional import mse_loss

    guidance = mse_loss(edited_concept - edited_empty, original_alternative - original_empty)
    return guidance + drift_weight * mse_loss(edited_empty, original_empty)


def erase_all_but_one(
    pipe: TextToImage,
    request: EraseRequest,
    params: AllButOneParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` by moving each concept's classifier-guidance term to
    its alternative's (``concept.anchor``) while holding the unconditional score; returns
    a copy unless ``in_place``. ``request.preserve_prompts`` is not read: the drift term
    is the method's preservation."""
    import torch

    params = method_params(AllButOneParams, params, "all-but-one")
    edited = working_copy(pipe, in_place)
    unet = edited.unet
    frozen, trained = prepare_training(unet, params.layers)
    optimizer = torch.optim.Adam([p for _, p in trained], lr=params.learning_rate)
    scheduler = sampling_scheduler(edited.scheduler, params.ddim_steps)
    generator = torch.Generator().manual_seed(params.seed)
    prompts = [p for c in request.concepts for p in c.prompts]
    alternatives = [anchor_prompt(p, c) for c in request.concepts for p in c.prompts]
    concept_context = edited.encode(prompts)
    alternative_context = edited.encode(alternatives)
    empty = edited.encode([""]).expand(params.batch_size, -1, -1)
    sample_size = int(unet.config.sample_size)
    channels = int(unet.config.in_channels)
    # The x_t draw of esd.py (there inline); only the targets and the loss differ.
    for _ in range(params.iterations):
        picks = torch.randint(0, len(prompts), (params.batch_size,), generator=generator)
        context = concept_context[picks]
        stop = int(torch.randint(0, params.ddim_steps, (1,), generator=generator))
        x = torch.randn(
            (params.batch_size, channels, sample_size, sample_size), generator=generator
        )
        x = sample_until(unet, scheduler, context, x, stop)
        t = scheduler.timesteps[stop]
        with torch.no_grad():
            original_empty = frozen(x, t, encoder_hidden_states=empty).sample
            alternative = frozen(x, t, encoder_hidden_states=alternative_context[picks]).sample
        edited_empty = unet(x, t, encoder_hidden_states=empty).sample
        edited_concept = unet(x, t, encoder_hidden_states=context).sample
        loss = all_but_one_loss(
            edited_concept, edited_empty, alternative, original_empty, params.drift_weight
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    unet.eval()
    unet.requires_grad_(False)
    return edited
