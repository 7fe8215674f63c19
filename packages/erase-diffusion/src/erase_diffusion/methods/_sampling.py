"""The set-up and the decoding of `TextToImage.generate`, for the samplers of the
inference-time methods (A-STAR, Geom-Erasing) that change what happens inside the DDIM
loop: the same checks, scheduler and starting noise as the pipeline's own sampler, so
that a method's images and the plain pipeline's start from the same noise."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


def start_sampling(
    pipe: TextToImage, n: int, steps: int, seed: int, height: int | None, width: int | None
) -> tuple[Any, torch.Tensor]:
    """A fresh DDIM scheduler set to ``steps`` and the starting noise (n, C, h, w) drawn
    from ``seed`` (already scaled by the scheduler's initial sigma), as `generate` does."""
    import torch

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    height = pipe.default_size if height is None else height
    width = pipe.default_size if width is None else width
    pipe.check_size(height, width)
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(seed)
    channels = int(pipe.unet.config.in_channels)
    shape = (n, channels, height // pipe.downscale, width // pipe.downscale)
    return scheduler, torch.randn(shape, generator=generator) * scheduler.init_noise_sigma


def finish_latents(pipe: TextToImage, latents: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] from final latents (decoded by the VAE when there is one)."""
    import torch

    with torch.no_grad():
        if pipe.vae is not None:
            latents = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.clamp(-1, 1)
