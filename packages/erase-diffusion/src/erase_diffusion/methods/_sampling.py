"""The set-up and the decoding of `TextToImage.generate`, for the samplers of the
inference-time methods (A-STAR, Geom-Erasing) that change what happens inside the DDIM
loop: the same checks, scheduler and starting noise as the pipeline's own sampler, so
that a method's images and the plain pipeline's start from the same noise (one guided
step of that loop is `TextToImage.denoise_step`).

Also the parts of a cross-attention written out by the attention processors of A-STAR
and IRECE, which need the attention's queries, keys or probabilities: the processor that
computes a layer by hand when it is asked to and the layer allows it
(`ByHandProcessor`, `computes_by_hand`), its projections split into heads (`heads`) and
the output from the heads' values (`attention_output`), as diffusers' own processor
computes them."""

from __future__ import annotations

import copy
from collections.abc import Callable
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


def computes_by_hand(
    attn: Any,
    hidden_states: torch.Tensor,
    encoder_hidden_states: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
) -> bool:
    """Whether the diffusers ``Attention`` layer ``attn`` is a plain cross-attention on
    (b, positions, channels) states that `heads` and `attention_output` compute exactly:
    text keys, no mask and none of the norms they leave out."""
    return not (
        encoder_hidden_states is None
        or attention_mask is not None
        or hidden_states.ndim != 3
        or attn.spatial_norm is not None
        or attn.group_norm is not None
        or attn.norm_cross
        or attn.norm_q is not None
        or attn.norm_k is not None
    )


def heads(
    attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """``attn``'s query (b, positions, inner), key and value (b, tokens, inner), and the
    function that splits such a tensor into (b, heads, rows, inner / heads)."""
    b = hidden_states.shape[0]
    query = attn.to_q(hidden_states)
    key = attn.to_k(encoder_hidden_states)
    value = attn.to_v(encoder_hidden_states)
    count = attn.heads
    d = key.shape[-1] // count

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(b, -1, count, d).transpose(1, 2)

    return query, key, value, split


def attention_output(
    attn: Any, per_head: torch.Tensor, hidden_states: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """The layer's output from the heads' attended values (b, heads, positions, d): heads
    merged (cast to ``dtype``), the output projection and dropout, the residual when the
    layer has one, divided by the layer's output rescale factor."""
    b, positions, _ = hidden_states.shape
    out = per_head.transpose(1, 2).reshape(b, positions, -1).to(dtype)
    out = attn.to_out[1](attn.to_out[0](out))
    if attn.residual_connection:
        out = out + hidden_states
    return out / attn.rescale_output_factor


class ByHandProcessor:
    """A diffusers attention processor that computes a cross-attention layer by hand
    (`by_hand`) while `by_hand_now` says so and the layer allows it (`computes_by_hand`),
    and is the layer's own processor ``inner``, untouched, otherwise. ``name`` is the
    layer's module name. Subclasses define `by_hand_now` and `by_hand`."""

    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    def by_hand_now(self) -> bool:
        raise NotImplementedError

    def by_hand(
        self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        if encoder_hidden_states is None or not (
            self.by_hand_now()
            and computes_by_hand(attn, hidden_states, encoder_hidden_states, attention_mask)
        ):
            return self.inner(
                attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs
            )
        return self.by_hand(attn, hidden_states, encoder_hidden_states)


def finish_latents(pipe: TextToImage, latents: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] from final latents (decoded by the VAE when there is one)."""
    import torch

    with torch.no_grad():
        if pipe.vae is not None:
            latents = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.clamp(-1, 1)
