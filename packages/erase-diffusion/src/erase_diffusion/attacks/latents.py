r"""Inverted-latent attacks: DDIM inversion of concept images into starting noise.

M-ErasureBench's "inverted latents" modality. DDIM sampling is deterministic, so it can
be run backwards: from an image $x_0$ of the concept and the caption's encoding $c$,
every step of the ascending timesteps $t_1 < \dots < t_K$ maps

$$\hat x_0 = \frac{x_{t_{i-1}} - \sqrt{1-\bar\alpha_{t_{i-1}}}\,\epsilon_i}
{\sqrt{\bar\alpha_{t_{i-1}}}},
\qquad x_{t_i} = \sqrt{\bar\alpha_{t_i}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t_i}}\,\epsilon_i,
\qquad \epsilon_i = \epsilon_\theta(x_{t_{i-1}}, c, t_i)$$

($\bar\alpha_{t_0} = 1$: the image itself), the usual approximation that evaluates the
noise at the next timestep from the current latent. The erased model then samples with
DDIM from $x_{t_K}$ on the same caption, and the judge reads the result.

* white-box (``inverted-latents``): the inversion runs through the *erased* model;
* black-box (``inverted-latents-transfer``): through the *original* model (its own
  encoding of the caption), the erased model only samples.

Inversion uses the conditional noise (no guidance); sampling uses the target's guidance.
Each concept image is one attacked item, so the ASR equals the CRR. The clean reading
samples the same captions from fresh noise.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.attacks.conditioning import concept_images, from_latents, to_latents
from erase_diffusion.attacks.target import (
    DiffusionAttackOutcome,
    DiffusionAttackTarget,
    judged_outcome,
    original_of,
)
from erase_diffusion.methods.request import method_params

if TYPE_CHECKING:
    import torch

    from erase_diffusion.pipeline import TextToImage


class InvertedLatentParams(MethodParams):
    """Parameters of the inverted-latent attacks."""

    images: int = Field(default=24, ge=1, le=100_000, description="Concept images inverted.")


def ddim_invert(
    pipe: TextToImage, latents: torch.Tensor, context: torch.Tensor, steps: int
) -> torch.Tensor:
    """The starting noise from which DDIM (``steps`` steps) on ``context`` draws ``latents``."""
    import torch

    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(steps)
    alphas = scheduler.alphas_cumprod
    current = torch.tensor(1.0)
    x = latents
    with torch.no_grad():
        for t in reversed(scheduler.timesteps):
            eps = pipe.unet(x, t, encoder_hidden_states=context).sample
            following = alphas[t]
            clean = (x - (1 - current).sqrt() * eps) / current.sqrt()
            x = following.sqrt() * clean + (1 - following).sqrt() * eps
            current = following
    return x


def sample_from(
    pipe: TextToImage,
    noise: torch.Tensor,
    context: torch.Tensor,
    steps: int,
    guidance: float | None,
) -> torch.Tensor:
    """DDIM from given starting latents (the loop of `TextToImage.generate`, which draws its
    own noise from a seed)."""
    import torch

    guidance = pipe.guidance if guidance is None else guidance
    guided = guidance != 1.0
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(steps)
    uncond = pipe.encode([""]).expand(context.shape[0], -1, -1) if guided else None
    x = noise
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = pipe.unet(x, t, encoder_hidden_states=context).sample
            if uncond is not None:
                eps_uncond = pipe.unet(x, t, encoder_hidden_states=uncond).sample
                eps = eps_uncond + guidance * (eps - eps_uncond)
            x = scheduler.step(eps, t, x).prev_sample
    return from_latents(pipe, x)


def _attack(
    name: str, target: DiffusionAttackTarget, params: InvertedLatentParams, inverter: TextToImage
) -> DiffusionAttackOutcome:
    start = time.perf_counter()
    images, captions = concept_images(target, params.images, target.seed)
    noise = ddim_invert(
        inverter, to_latents(inverter, images), inverter.encode(captions), target.steps
    )
    invert_s = time.perf_counter() - start
    context = target.pipe.encode(captions)
    attacked = sample_from(target.pipe, noise, context, target.steps, target.guidance)
    clean = target.pipe.generate(
        prompt_embeds=context, steps=target.steps, guidance=target.guidance, seed=target.seed
    )
    metrics = {"invert_s": invert_s}
    if target.pipe.vae is None:
        metrics["reconstruction_mse"] = float(((attacked - images) ** 2).mean())
    return judged_outcome(name, target, attacked, clean, len(captions), metrics, start)


def inverted_latents(
    target: DiffusionAttackTarget, params: InvertedLatentParams | dict[str, Any] | None = None
) -> DiffusionAttackOutcome:
    """White-box: invert concept images with the erased model, sample them back with it."""
    typed = method_params(InvertedLatentParams, params, "inverted-latents")
    return _attack("inverted-latents", target, typed, target.pipe)


def inverted_latents_transfer(
    target: DiffusionAttackTarget, params: InvertedLatentParams | dict[str, Any] | None = None
) -> DiffusionAttackOutcome:
    """Black-box: invert with ``target.original``, sample with the erased model."""
    typed = method_params(InvertedLatentParams, params, "inverted-latents-transfer")
    original = original_of(target, "inverted-latents-transfer")
    return _attack("inverted-latents-transfer", target, typed, original)
