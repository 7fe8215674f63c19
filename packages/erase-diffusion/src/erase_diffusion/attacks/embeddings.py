r"""Learned-embedding attacks: textual inversion of the erased concept.

*Circumventing Concept Erasure Methods for Text-to-Image Generative Models* (Pham et al.,
arXiv:2308.01508) and M-ErasureBench's "learned embeddings" modality: a new input
embedding $v$ for the concept's token is optimised on images $x_0$ of the concept with
the denoising loss of the model, every weight frozen,

$$v^\star = \arg\min_v \; \mathbb{E}_{x_0, \epsilon, t}
\big\|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,
\; \tau(y; v),\; t)\big\|^2,$$

where $\tau(y; v)$ encodes the image's caption $y$ with $v$ read at the concept token's
positions. $v$ starts from the model's own embedding of the concept word.

* white-box (``learned-embedding``): $\theta$ is the *erased* model, which is then
  prompted with $v$;
* black-box (``learned-embedding-transfer``): $v$ is learned on the *original* model and
  used on the erased one.

The CRR is read on the concept's prompts with $v$ in place of the concept word; the
clean CRR on the same prompts and noise without $v$.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.attacks.conditioning import (
    concept_images,
    concept_token_id,
    to_latents,
    token_embedding_replaced,
)
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


class LearnedEmbeddingParams(MethodParams):
    """Parameters of the learned-embedding attacks."""

    steps: int = Field(default=40, ge=1, le=100_000, description="Optimiser steps on $v$.")
    learning_rate: float = Field(default=2e-2, gt=0.0, le=10.0)
    batch_size: int = Field(default=8, ge=1, le=1024)
    training_images: int = Field(
        default=32, ge=1, le=100_000, description="Rendered concept images to learn from."
    )
    images_per_prompt: int = Field(
        default=2, ge=1, le=64, description="Images generated per concept prompt (noise seeds)."
    )


def learn_embedding(
    pipe: TextToImage,
    token_id: int,
    images: torch.Tensor,
    captions: list[str],
    params: LearnedEmbeddingParams,
    seed: int,
) -> torch.Tensor:
    """Textual inversion: the input embedding of ``token_id`` that minimises ``pipe``'s
    denoising loss on ``images`` captioned ``captions`` (weights frozen, not modified)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    table = pipe.text_encoder.get_input_embeddings().weight
    vector = table[token_id].detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([vector], lr=params.learning_rate)
    latents = to_latents(pipe, images)
    ids = pipe.tokenize(captions)
    alphas = pipe.scheduler.alphas_cumprod
    train_steps = int(pipe.scheduler.config.num_train_timesteps)
    for _ in range(params.steps):
        pick = torch.randint(0, latents.shape[0], (params.batch_size,), generator=generator)
        x0 = latents[pick]
        t = torch.randint(0, train_steps, (params.batch_size,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        a = alphas[t].view(-1, 1, 1, 1).to(x0.dtype)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        with token_embedding_replaced(pipe.text_encoder, token_id, vector):
            context = pipe.text_encoder(ids[pick]).last_hidden_state
        predicted = pipe.unet(noisy, t, encoder_hidden_states=context).sample
        loss = torch.nn.functional.mse_loss(predicted, noise)
        # Gradients for the vector only: the pipeline's parameters never get a .grad.
        (vector.grad,) = torch.autograd.grad(loss, [vector])
        optimizer.step()
    return vector.detach()


def _attack(
    name: str, target: DiffusionAttackTarget, params: LearnedEmbeddingParams, learner: TextToImage
) -> DiffusionAttackOutcome:
    import torch

    start = time.perf_counter()
    token_id = concept_token_id(target.pipe, target.concept.name)
    images, captions = concept_images(target, params.training_images, target.seed)
    vector = learn_embedding(learner, token_id, images, captions, params, target.seed)
    learn_s = time.perf_counter() - start
    prompts = list(target.concept.prompts) * params.images_per_prompt
    with torch.no_grad(), token_embedding_replaced(target.pipe.text_encoder, token_id, vector):
        attacked = target.pipe.encode(prompts)
    options: dict[str, Any] = {
        "steps": target.steps,
        "guidance": target.guidance,
        "seed": target.seed,
    }
    attacked_images = target.pipe.generate(prompt_embeds=attacked, **options)
    clean_images = target.pipe.generate(prompts, **options)
    metrics = {"learn_s": learn_s, "embedding_norm": float(vector.norm())}
    items = len(target.concept.prompts)
    return judged_outcome(name, target, attacked_images, clean_images, items, metrics, start)


def learned_embedding(
    target: DiffusionAttackTarget, params: LearnedEmbeddingParams | dict[str, Any] | None = None
) -> DiffusionAttackOutcome:
    """White-box: learn the concept's embedding through the erased model, prompt it with it."""
    typed = method_params(LearnedEmbeddingParams, params, "learned-embedding")
    return _attack("learned-embedding", target, typed, target.pipe)


def learned_embedding_transfer(
    target: DiffusionAttackTarget, params: LearnedEmbeddingParams | dict[str, Any] | None = None
) -> DiffusionAttackOutcome:
    """Black-box: learn the embedding on ``target.original``, prompt the erased model with it."""
    typed = method_params(LearnedEmbeddingParams, params, "learned-embedding-transfer")
    original = original_of(target, "learned-embedding-transfer")
    return _attack("learned-embedding-transfer", target, typed, original)
