"""Building blocks the attacks share: concept images, the concept's token, an embedding
swapped in for that token, and the pixel/latent conversion of pipelines with a VAE.

torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from erase_diffusion.worlds.shapes import all_attributes, caption, kind_of, render

if TYPE_CHECKING:
    import torch

    from erase_diffusion.attacks.target import DiffusionAttackTarget
    from erase_diffusion.pipeline import TextToImage


def concept_images(
    target: DiffusionAttackTarget, n: int, seed: int
) -> tuple[torch.Tensor, list[str]]:
    """``n`` rendered images (n, 3, H, W) in [-1, 1] that show the concept, with their captions.

    The other attributes (colour, background, style, or shape for a colour concept) are
    drawn at random from ``seed``; the attacker knows them, so each caption is the image's
    true caption.
    """
    import torch

    if n < 1:
        raise ValueError(f"need at least 1 concept image, got {n}")
    name = target.concept.name
    kind = kind_of(name)
    combos = [a for a in all_attributes() if a.get(kind) == name]
    rng = np.random.default_rng(seed)
    picks = [combos[i] for i in rng.integers(0, len(combos), n)]
    images = np.stack([render(a, target.world, rng) for a in picks])
    return torch.from_numpy(images), [caption(a) for a in picks]


def concept_token_id(pipe: TextToImage, name: str) -> int:
    """The id of the single token that spells ``name``; raises if it takes several."""
    ids = pipe.tokenizer(name, add_special_tokens=False).input_ids
    if len(ids) != 1 or ids[0] == pipe.tokenizer.unk_token_id:
        raise ValueError(
            f"concept {name!r} must be one known token of the pipeline's tokenizer to "
            f"learn its embedding; it tokenizes to {ids}"
        )
    return int(ids[0])


@contextmanager
def token_embedding_replaced(
    text_encoder: torch.nn.Module, token_id: int, vector: torch.Tensor
) -> Iterator[None]:
    """While open, every occurrence of ``token_id`` reads ``vector`` as its input embedding.

    A forward hook on the input embedding table (removed on exit): the encoder's weights
    are untouched, and gradients flow to ``vector``.
    """
    import torch

    def swap(
        _module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
    ) -> torch.Tensor:
        mask = (inputs[0] == token_id).unsqueeze(-1)
        return torch.where(mask, vector.to(output.dtype), output)

    handle = text_encoder.get_input_embeddings().register_forward_hook(swap)  # type: ignore[operator]
    try:
        yield
    finally:
        handle.remove()


def to_latents(pipe: TextToImage, images: torch.Tensor) -> torch.Tensor:
    """What the UNet denoises: the images themselves, or the VAE's scaled latents."""
    import torch

    if pipe.vae is None:
        return images
    with torch.no_grad():
        latents = pipe.vae.encode(images).latent_dist.mean
    return latents * pipe.vae.config.scaling_factor


def from_latents(pipe: TextToImage, latents: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] from what the UNet denoises."""
    import torch

    if pipe.vae is not None:
        with torch.no_grad():
            latents = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.clamp(-1, 1)
