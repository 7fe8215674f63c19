r"""Co-Erasing: text-image collaborative concept erasing (Li et al., *One Image is Worth a
Thousand Words: A Usability Preservable Text-Image Collaborative Erasing Framework*,
ICML 2025, arXiv:2505.11131).

The concept is described twice: by its text prompts $c$ and by images $x$ of it that the
model itself generates from those prompts. Both serve as negative guidance (ESD's
target) for the fine-tuned UNet $\theta$ against the frozen original $\theta^*$:

$$L = \big\|\epsilon_\theta(z_t, c, t) - [\epsilon^*_\varnothing - \eta(\epsilon^*_c -
\epsilon^*_\varnothing)]\big\|^2 + \omega\,\big\|\epsilon_\theta(z_t, c, I, t) -
[\epsilon^*_{\varnothing, I} - \eta(\epsilon^*_{c, I} - \epsilon^*_{\varnothing, I})]\big\|^2,$$

with $\epsilon^*_{c, I} = \epsilon_{\theta^*}(z_t, c, I, t)$ conditioned on the text and
the image tokens $I$ (and $\varnothing$ the empty prompt), $z_t$ drawn by partially
denoising with the model being trained, as in ESD. **Text-guided image concept
refinement**: the image tokens are not used raw; the concept's text rows $Q$ (the
encoded concept name) attend over them, $I = \mathrm{softmax}(Q K^\top / \sqrt d)\,K$
with $K$ the image's tokens, so that each text position takes the part of the image
that matches the concept and leaves the rest of the picture (other attributes) alone.

**What stands in for the image encoder** (our pipeline has none, and no IP-Adapter):
an image $x$ is read by the shipped shapes-world judge's 128-d feature layer $f(x)$
(`erase_diffusion.metrics.judge`) and mapped to $L$ pseudo-text rows by a *learned
projection* $P$, a ridge regression fitted, before any edit, on the unedited model's
own images of every world caption onto that caption's text-encoder rows
(`fit_image_projection`): $K = P\,[f(x); 1]$ reshaped to $(L, d)$. The paper's CLIP
image encoder and IP-Adapter projection are pretrained; this one is fitted in closed form
in seconds. The paper feeds image tokens through IP-Adapter's *decoupled*
cross-attention (a second key/value branch); the tiny UNet has no such branch, so the
image tokens are appended to the text rows and the existing cross-attention reads both.

Trained layers: the cross-attention (``attn2``) parameters by default, as ESD-x.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import Concept, MethodParams

from erase_diffusion.methods._denoiser import (
    Layers,
    prepare_training,
    sample_until,
    sampling_scheduler,
)
from erase_diffusion.methods.cross_attention import cross_attention_projections, working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch

    from erase_diffusion.metrics.judge import Judge


class CoErasingParams(MethodParams):
    """Parameters of Co-Erasing."""

    variant: Literal["x", "u"] = Field(
        default="x", description="'x': cross-attention trains; 'u': all but cross-attention."
    )
    negative_guidance: float = Field(default=1.0, gt=0.0, le=20.0, description="η.")
    image_weight: float = Field(default=1.0, ge=0.0, le=1e6, description="ω of the image term.")
    refine: bool = Field(default=True, description="Text-guided image concept refinement.")
    images: int = Field(default=8, ge=1, le=1024, description="Concept images generated.")
    projection_ridge: float = Field(
        default=1.0, gt=0.0, le=1e6, description="Ridge of the image-to-rows projection."
    )
    iterations: int = Field(default=50, ge=1, le=100_000)
    learning_rate: float = Field(default=3e-4, gt=0.0, le=1.0)
    batch_size: int = Field(default=4, ge=1, le=256)
    ddim_steps: int = Field(default=6, ge=2, le=1000, description="Steps of the z_t sampler.")
    image_steps: int = Field(default=12, ge=2, le=1000, description="Steps of generated images.")
    seed: int = Field(default=0)


@dataclass
class ImageProjection:
    """$K = [f(x); 1]\\,P$ reshaped to (rows, d): judge features to pseudo-text rows."""

    weight: torch.Tensor  # (features + 1, rows·d)
    rows: int
    width: int

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        import torch

        ones = torch.ones(features.shape[0], 1, dtype=features.dtype)
        flat = torch.cat([features, ones], dim=1) @ self.weight.to(features.dtype)
        return flat.reshape(-1, self.rows, self.width)


def fit_image_projection(
    pipe: TextToImage, judge: Judge, ridge: float, steps: int, seed: int
) -> ImageProjection:
    """Ridge regression from the judge's features of ``pipe``'s own images of every world
    caption onto that caption's text rows: $P = (F^\\top F + \\rho I)^{-1} F^\\top Y$."""
    import torch

    from erase_diffusion.worlds.shapes import all_attributes, caption

    captions = [caption(a) for a in all_attributes()]
    rows = pipe.encode(captions).double()  # (n, L, d)
    images = pipe.generate(captions, steps=steps, seed=seed)
    feats = torch.from_numpy(judge.judge(images).features)  # (n, 128), float64
    design = torch.cat([feats, torch.ones(feats.shape[0], 1, dtype=feats.dtype)], dim=1)
    system = design.T @ design + ridge * torch.eye(design.shape[1], dtype=design.dtype)
    weight = torch.linalg.solve(system, design.T @ rows.reshape(rows.shape[0], -1))
    return ImageProjection(weight=weight, rows=rows.shape[1], width=rows.shape[2])


def refine_image_tokens(query: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Text-guided refinement: ``softmax(Q Kᵀ / √d) K`` per image, (n, Lq, d), for text
    rows ``query`` (Lq, d) and image tokens ``tokens`` (n, L, d)."""
    import torch

    scores = torch.einsum("qd,nkd->nqk", query, tokens) / query.shape[-1] ** 0.5
    return torch.einsum("nqk,nkd->nqd", torch.softmax(scores, dim=-1), tokens)


def concept_image_tokens(
    pipe: TextToImage,
    concept: Concept,
    judge: Judge,
    projection: ImageProjection,
    params: CoErasingParams,
) -> torch.Tensor:
    """Image tokens (images, rows, d) of the model's own images of ``concept``."""
    import torch

    prompts = [concept.prompts[i % len(concept.prompts)] for i in range(params.images)]
    images = pipe.generate(prompts, steps=params.image_steps, seed=params.seed)
    feats = torch.from_numpy(judge.judge(images).features)
    tokens = projection(feats)
    if params.refine:
        tokens = refine_image_tokens(pipe.encode([concept.name])[0].double(), tokens)
    return tokens.float()


def erase_co_erasing(
    pipe: TextToImage,
    request: EraseRequest,
    params: CoErasingParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` with text and self-generated image negative guidance;
    returns a copy unless ``in_place``.

    ``request.preserve_prompts`` is not read: like ESD, Co-Erasing has no preservation
    term (the refinement is what keeps other concepts' features out of the image term).
    """
    import torch

    from erase_diffusion.metrics.judge import load_judge

    params = method_params(CoErasingParams, params, "co-erasing")
    cross_attention_projections(pipe.unet)
    judge = load_judge()
    projection = fit_image_projection(
        pipe, judge, params.projection_ridge, params.image_steps, params.seed
    )
    # (concept index, prompt) pairs and each concept's image tokens, from the original.
    pairs = [(i, p) for i, c in enumerate(request.concepts) for p in c.prompts]
    tokens = [concept_image_tokens(pipe, c, judge, projection, params) for c in request.concepts]
    edited = working_copy(pipe, in_place)
    unet = edited.unet
    layers: Layers = "cross-attention" if params.variant == "x" else "non-cross-attention"
    frozen, chosen = prepare_training(unet, layers)
    optimizer = torch.optim.Adam([p for _, p in chosen], lr=params.learning_rate)
    scheduler = sampling_scheduler(edited.scheduler, params.ddim_steps)
    generator = torch.Generator().manual_seed(params.seed)
    empty = edited.encode([""])
    size, channels = int(unet.config.sample_size), int(unet.config.in_channels)
    b, eta = params.batch_size, params.negative_guidance

    def negative_target(
        z: torch.Tensor, t: Any, cond: torch.Tensor, uncond: torch.Tensor
    ) -> torch.Tensor:
        e_cond = frozen(z, t, encoder_hidden_states=cond).sample
        e_uncond = frozen(z, t, encoder_hidden_states=uncond).sample
        return e_uncond - eta * (e_cond - e_uncond)

    # ESD's loop (x_t sampled by the model being trained, one optimiser step per batch)
    # with the _denoiser.py primitives; the loss adds the image term.
    for _ in range(params.iterations):
        picks = torch.randint(0, len(pairs), (b,), generator=generator).tolist()
        context = edited.encode([pairs[i][1] for i in picks])
        image = torch.stack(
            [
                tokens[pairs[i][0]][int(torch.randint(0, params.images, (1,), generator=generator))]
                for i in picks
            ]
        )
        uncond = empty.expand(b, -1, -1)
        stop = int(torch.randint(0, params.ddim_steps, (1,), generator=generator))
        z = torch.randn((b, channels, size, size), generator=generator)
        z = sample_until(unet, scheduler, context, z, stop)
        with torch.no_grad():
            t = scheduler.timesteps[stop]
            text_target = negative_target(z, t, context, uncond)
            with_image = torch.cat([context, image], dim=1)
            image_target = negative_target(z, t, with_image, torch.cat([uncond, image], dim=1))
        loss = torch.nn.functional.mse_loss(
            unet(z, t, encoder_hidden_states=context).sample, text_target
        )
        if params.image_weight > 0:
            predicted = unet(z, t, encoder_hidden_states=with_image).sample
            loss = loss + params.image_weight * torch.nn.functional.mse_loss(
                predicted, image_target
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    unet.eval()
    unet.requires_grad_(False)
    return edited
