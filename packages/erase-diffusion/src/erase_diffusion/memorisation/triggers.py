r"""Replication triggers in text-embedding space, and adversarial fine-tuning against them.

*Finding Dori* (Kowalczuk et al., arXiv:2507.16880) searches the text-embedding space
(the encoder output that cross-attention reads) for an embedding $e$ that makes the
model replicate a memorised image $x_0$, by minimising the model's denoising loss on
that image,

$$e^\star = \arg\min_e\; \mathbb{E}_{t,\epsilon}\,
\lVert \epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,
\; e,\; t)\rVert^2,$$

every weight frozen. Started at the memorised prompt's own embedding $e_0$ with
$\lVert e - e_0\rVert \le \beta \lVert e_0 \rVert$ (a *small* change; `search_trigger`
projects onto that ball after each step) it tests whether a mitigation that works on
the prompt (pruning) survives a nearby input; started at unrelated prompts' embeddings
with no bound, it tests whether replication can be reached from many places of the
embedding space (the paper's evidence that memorisation is not local).

`adversarial_finetune` is the paper's mitigation: rounds of (1) searching triggers for
every memorised image against the current model, (2) fine-tuning the UNet so that
the memorised prompts and those triggers denoise towards *surrogate* images (fresh
renders of the same content, so the content stays and the copy goes), with the
plain denoising loss on world batches to keep utility.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.worlds.shapes import ShapesWorld, sample

if TYPE_CHECKING:
    import torch

    from erase_diffusion.memorisation.train import MemorisedSet
    from erase_diffusion.pipeline import TextToImage


class TriggerParams(StrictModel):
    """The trigger search (Dori's adversarial embedding)."""

    steps: int = Field(default=40, ge=0, le=100_000)
    learning_rate: float = Field(default=2e-2, gt=0.0, le=10.0)
    batch_size: int = Field(default=8, ge=1, le=512, description="(t, ε) draws per step.")
    budget: float | None = Field(
        default=0.3,
        gt=0.0,
        description="Max ‖e − e₀‖ / ‖e₀‖ (None: unbounded, for starts far away).",
    )


def denoising_loss(
    pipe: TextToImage,
    image: torch.Tensor,
    embedding: torch.Tensor,
    generator: torch.Generator,
    batch_size: int,
) -> torch.Tensor:
    """$\\lVert\\epsilon - \\epsilon_\\theta(x_t, e, t)\\rVert^2$ averaged over ``batch_size``
    draws of $(t, \\epsilon)$ for one image (3, H, W) and one embedding (tokens, dim)."""
    import torch

    alphas = pipe.scheduler.alphas_cumprod
    t = torch.randint(
        0, int(pipe.scheduler.config.num_train_timesteps), (batch_size,), generator=generator
    )
    noise = torch.randn((batch_size, *image.shape), generator=generator)
    a = alphas[t].view(-1, 1, 1, 1).to(image.dtype)
    noisy = a.sqrt() * image + (1 - a).sqrt() * noise
    context = embedding.unsqueeze(0).expand(batch_size, -1, -1)
    predicted = pipe.unet(noisy, t, encoder_hidden_states=context).sample
    return torch.nn.functional.mse_loss(predicted, noise)


def search_trigger(
    pipe: TextToImage,
    image: torch.Tensor,
    start: torch.Tensor,
    params: TriggerParams,
    seed: int = 0,
    checkpoints: Sequence[int] = (),
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """The trigger $e^\\star$ for ``image`` from ``start`` (tokens, dim), and the embedding
    after each step count in ``checkpoints`` (0: ``start``). Weights are not modified."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    origin = start.detach()
    delta = torch.zeros_like(origin, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=params.learning_rate)
    limit = None if params.budget is None else params.budget * float(origin.norm())
    saved = {0: origin.clone()} if 0 in checkpoints else {}
    for step in range(1, params.steps + 1):
        loss = denoising_loss(pipe, image, origin + delta, generator, params.batch_size)
        # Gradients for delta only: the pipeline's parameters never get a .grad.
        (delta.grad,) = torch.autograd.grad(loss, [delta])
        optimizer.step()
        if limit is not None:
            with torch.no_grad():
                norm = float(delta.norm())
                if norm > limit:
                    delta.mul_(limit / norm)
        if step in checkpoints:
            saved[step] = (origin + delta).detach().clone()
    return (origin + delta).detach(), saved


class AdversarialFineTuneParams(StrictModel):
    """Dori's adversarial fine-tuning."""

    rounds: int = Field(default=2, ge=1, le=100)
    steps_per_round: int = Field(default=60, ge=1, le=100_000)
    batch_size: int = Field(default=16, ge=2, le=512)
    memorised_share: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Share of a batch on memorised conditionings."
    )
    learning_rate: float = Field(default=3e-4, gt=0.0, le=1.0)
    triggers_per_image: int = Field(default=2, ge=1, le=64, description="New triggers per round.")
    trigger: TriggerParams = Field(default_factory=TriggerParams)
    seed: int = 0


def adversarial_finetune(
    pipe: TextToImage,
    memorised: MemorisedSet,
    params: AdversarialFineTuneParams,
    ordinary: torch.Tensor,
) -> TextToImage:
    """A copy of ``pipe`` whose UNet no longer replicates ``memorised`` from its prompts or
    from the triggers found against it, round by round (text encoder frozen: the
    triggers live in its output space). ``ordinary``: embeddings (n, tokens, dim) of
    world prompts, from which half of each round's triggers start (the far starts,
    unbounded); the other half start at the memorised prompts (within the budget)."""
    import torch
    from diffusers import DDPMScheduler

    model = pipe.copy()
    noise_scheduler = DDPMScheduler.from_config(model.scheduler.config)
    optimizer = torch.optim.AdamW(model.unet.parameters(), lr=params.learning_rate)
    generator = torch.Generator().manual_seed(params.seed)
    prompts = model.encode(memorised.captions)
    conditionings: list[list[torch.Tensor]] = [[p] for p in prompts]
    far = params.trigger.model_copy(update={"budget": None})
    world = ShapesWorld()
    memorised_rows = max(1, round(params.memorised_share * params.batch_size))
    for round_index in range(params.rounds):
        model.unet.eval()
        for i, image in enumerate(memorised.images):
            for k in range(params.triggers_per_image):
                seed = params.seed + 1000 * round_index + 31 * i + k
                if k % 2 == 0:
                    found, _ = search_trigger(model, image, prompts[i], params.trigger, seed)
                else:
                    start = ordinary[(i + k + round_index) % ordinary.shape[0]]
                    found, _ = search_trigger(model, image, start, far, seed)
                conditionings[i].append(found)
        model.unet.train()
        for step in range(params.steps_per_round):
            images, captions, _ = sample(
                params.batch_size - memorised_rows,
                world,
                seed=params.seed * 104_729 + round_index * 10_007 + step,
            )
            with torch.no_grad():
                world_context = model.encode(captions)
            which = torch.randint(0, len(conditionings), (memorised_rows,), generator=generator)
            contexts, surrogates = [], []
            for i in which.tolist():
                pick = int(torch.randint(0, len(conditionings[i]), (1,), generator=generator))
                contexts.append(conditionings[i][pick])
                fresh = int(
                    torch.randint(0, memorised.rerenders.shape[1], (1,), generator=generator)
                )
                surrogates.append(memorised.rerenders[i, fresh])
            x0 = torch.cat([torch.from_numpy(images), torch.stack(surrogates)])
            context = torch.cat([world_context, torch.stack(contexts)])
            noise = torch.randn(x0.shape, generator=generator)
            t = torch.randint(
                0, noise_scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator
            )
            noisy = noise_scheduler.add_noise(x0, noise, t)
            loss = torch.nn.functional.mse_loss(model.unet(noisy, t, context).sample, noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.unet.parameters()), 1.0)
            optimizer.step()
    model.unet.eval()
    return model
