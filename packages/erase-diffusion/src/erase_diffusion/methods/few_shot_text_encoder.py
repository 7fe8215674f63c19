r"""Few-shot text-encoder erasing (Fuchi and Takagi, *Erasing Concepts from Text-to-Image
Diffusion Models with Few-shot Unlearning*, arXiv:2405.07288).

The UNet $\epsilon_\theta$ stays frozen; only the text encoder $\tau_\phi$ is trained, on
a few real images $x_0$ of the concept, each paired with a prompt $y$ drawn at random
from the concept's prompts (the paper draws one of its textual-inversion templates
around the concept's name). The objective is textual inversion's denoising loss with
its sign flipped (gradient *ascent*), so the text stops explaining the concept's images:

$$L(\phi) = -\,\mathbb{E}_{x_0, y, \epsilon \sim \mathcal{N}(0, I), t}
\big\|\epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,
\epsilon,\ t,\ \tau_\phi(y)\big)\big\|^2,$$

with $t$ uniform over the training timesteps, a few epochs over the few images, Adam
(the authors' code: lr $10^{-5}$, betas (0.9, 0.98), eps $10^{-6}$, weight decay
$10^{-8}$, batch 2, 4-5 epochs). There is no anchor: the prompt drifts to whatever the
model's text space puts nearby, which the paper calls an implicit transition.

Which parameters train (``trainable``): ``"all"`` is what the authors' code does (it
passes every text-encoder parameter to the optimizer, and its freezing helper sets
``require_grad``, a typo, so nothing is frozen); ``"mlp"`` trains only the feed-forward
layers, where the paper's ablation finds most of the knowledge; ``"attention"`` only the
self-attention; ``"mlp-final-attention"`` the feed-forward layers plus the last layer's
self-attention (what the code's helper meant to select). The default is ``"mlp"``: on
the shipped tiny pipeline, at the same erasure, training everything also wiped out the
colours of prompts that never named the concept (recipe numbers in
``docs/recipes/erase-diffusion-compare-methods.md``).

Images: ``images`` (keyword) gives them per concept name, (n, 3, H, W) in [-1, 1] at the
pipeline's size (latent pipelines encode them with the VAE); by default ``params.images``
of them are rendered from the shapes world for a shapes-world concept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods.cross_attention import working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch

Trainable = Literal["all", "mlp", "attention", "mlp-final-attention"]


class FewShotTextEncoderParams(MethodParams):
    """Parameters of few-shot text-encoder erasing (defaults calibrated on the shipped
    tiny pipeline; the paper's SD 1.4 settings are lr 1e-5, 4 epochs, batch 2)."""

    images: int = Field(
        default=4, ge=1, le=256, description="Real images per concept (rendered when not given)."
    )
    epochs: int = Field(default=20, ge=1, le=10_000, description="Passes over the few images.")
    batch_size: int = Field(default=2, ge=1, le=256)
    learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)
    trainable: Trainable = Field(
        default="mlp",
        description=(
            "Text-encoder parameters trained: 'all' (the authors' code), 'mlp' (feed-forward "
            "only), 'attention', or 'mlp-final-attention'."
        ),
    )
    seed: int = Field(default=0, description="Seed of the images, prompts, timesteps and noise.")


def trainable_parameters(text_encoder: Any, trainable: Trainable) -> list[torch.nn.Parameter]:
    """The text-encoder parameters ``trainable`` names (raises when it selects none)."""
    last = int(text_encoder.config.num_hidden_layers) - 1
    chosen = []
    for name, param in text_encoder.named_parameters():
        in_mlp = ".mlp." in name
        in_attention = ".self_attn." in name
        if trainable == "all":
            keep = True
        elif trainable == "mlp":
            keep = in_mlp
        elif trainable == "attention":
            keep = in_attention
        else:
            keep = in_mlp or (in_attention and f".layers.{last}." in name)
        if keep:
            chosen.append(param)
    if not chosen:
        raise ValueError(
            f"trainable={trainable!r} selects no parameter of {type(text_encoder).__name__} "
            "(expected CLIP-style names with '.mlp.' and '.self_attn.')"
        )
    return chosen


def concept_images(name: str, count: int, size: int, seed: int) -> np.ndarray:
    """``count`` shapes-world images (count, 3, size, size) showing concept ``name``, the
    other attributes drawn at random; raises naming the fix for a concept of another world."""
    from erase_diffusion.worlds.shapes import ShapesWorld, all_attributes, kind_of, render

    try:
        kind = kind_of(name)
    except ValueError as error:
        raise ValueError(
            f"few-shot erasing needs a few images of {name!r}: pass images={{{name!r}: "
            f"array (n, 3, H, W) in [-1, 1]}}, or erase a shapes-world concept ({error})"
        ) from None
    if size not in (16, 32):
        raise ValueError(
            f"the shapes world renders 16 or 32 pixel images, the pipeline draws {size}: "
            f"pass images={{{name!r}: ...}} at that size"
        )
    rng = np.random.default_rng(seed)
    matching = [a for a in all_attributes() if a.get(kind) == name]
    picks = [matching[i] for i in rng.integers(0, len(matching), count)]
    world = ShapesWorld(image_size=size)  # type: ignore[arg-type]
    return np.stack([render(a, world, rng) for a in picks])


def unlearning_loss(predicted: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    r"""$-\|\epsilon - \epsilon_\theta\|^2$ averaged over every element: textual
    inversion's loss with its sign flipped, so minimising it is gradient ascent."""
    import torch

    return -torch.nn.functional.mse_loss(predicted, noise)


def _latents(pipe: TextToImage, images: np.ndarray, name: str) -> torch.Tensor:
    import torch

    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    size = pipe.default_size
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2:] != (size, size):
        raise ValueError(
            f"images for {name!r} must be (n, 3, {size}, {size}) in [-1, 1], got {tuple(x.shape)}"
        )
    if pipe.vae is None:
        return x
    with torch.no_grad():
        return pipe.vae.encode(x).latent_dist.sample() * pipe.vae.config.scaling_factor


def erase_few_shot_text_encoder(
    pipe: TextToImage,
    request: EraseRequest,
    params: FewShotTextEncoderParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
    images: Mapping[str, np.ndarray] | None = None,
) -> TextToImage:
    """Erase ``request.concepts`` by gradient ascent of the text encoder's denoising loss on
    a few images of each; returns a copy unless ``in_place``.

    ``request.preserve_prompts`` is not read (the paper has no preservation term), nor are
    the anchors.
    """
    import torch

    params = method_params(FewShotTextEncoderParams, params, "few-shot-text-encoder")
    edited = working_copy(pipe, in_place)
    generator = torch.Generator().manual_seed(params.seed)
    latents, prompts = [], []
    for i, concept in enumerate(request.concepts):
        given = None if images is None else images.get(concept.name)
        pixels = (
            concept_images(concept.name, params.images, pipe.default_size, params.seed + i)
            if given is None
            else given
        )
        latents.append(_latents(edited, pixels, concept.name))
        prompts.append(list(concept.prompts))
    encoder, unet, scheduler = edited.text_encoder, edited.unet, edited.scheduler
    unet.requires_grad_(False)
    encoder.requires_grad_(False)
    chosen = trainable_parameters(encoder, params.trainable)
    for p in chosen:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(
        chosen, lr=params.learning_rate, betas=(0.9, 0.98), eps=1e-6, weight_decay=1e-8
    )
    train_steps = int(scheduler.config.num_train_timesteps)
    # One item per (concept, image); each epoch visits every item once, in random order.
    items = [(c, j) for c, x in enumerate(latents) for j in range(x.shape[0])]
    # Same optimiser step and tear-down as esd.py's loop; the loss and what trains differ.
    encoder.train()
    for _ in range(params.epochs):
        order = torch.randperm(len(items), generator=generator).tolist()
        for start in range(0, len(order), params.batch_size):
            batch = [items[k] for k in order[start : start + params.batch_size]]
            x0 = torch.stack([latents[c][j] for c, j in batch])
            texts = [
                prompts[c][int(torch.randint(len(prompts[c]), (1,), generator=generator))]
                for c, _ in batch
            ]
            ids = edited.tokenize(texts).to(encoder.device)
            context = encoder(ids).last_hidden_state
            noise = torch.randn(x0.shape, generator=generator)
            t = torch.randint(0, train_steps, (len(batch),), generator=generator)
            noisy = scheduler.add_noise(x0, noise, t)
            predicted = unet(noisy, t, encoder_hidden_states=context).sample
            loss = unlearning_loss(predicted, noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    encoder.eval()
    encoder.requires_grad_(False)
    return edited
