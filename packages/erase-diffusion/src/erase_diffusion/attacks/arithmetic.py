r"""Concept arithmetic (Petsiuk and Saenko, *Concept Arithmetics for Circumventing Concept
Inhibition in Diffusion Models*, 2024).

Diffusion models compose prompts in one generation (Liu et al.'s composable diffusion):
with the unconditional noise $\epsilon(x_t, \varnothing)$ as the base,

$$\hat\epsilon(x_t) = \epsilon(x_t, \varnothing)
  + \sum_k w_k\,\big(\epsilon(x_t, p_k) - \epsilon(x_t, \varnothing)\big),$$

and classifier-free guidance is the one-term case ($w = g$ on the prompt itself). The
attack looks for a composition that rebuilds the erased concept's direction from terms
the erasure should not have touched, or from the erased prompt itself used against the
grain. Candidates are compositions in denoiser units (their losses below are those of
the denoiser as composed); sampling multiplies every weight by the guidance scale $g$,
so the composition ``{prompt: 1}`` is the clean classifier-free-guided reading. Each
candidate is built from every concept prompt:

* ``self x w``: the prompt itself at weight $w$, for each ``self_weights`` entry (1: the
  clean reading, kept so that the attack never does worse than asking); a negative weight
  inverts erasures that were trained to push the prompt's noise *away* from the concept
  (ESD's target is $\epsilon(\varnothing) - \eta(\epsilon(c) - \epsilon(\varnothing))$,
  so its negation points back at the concept);
* ``fitted``: the prompt with the concept's word replaced by each other value of its kind
  (circle -> square, triangle, cross), with weights fitted by least squares on the
  erased model's denoising loss over concept images (white-box):
  $w^\star = \arg\min_w \mathbb{E}\,\|\epsilon - \epsilon(x_t, \varnothing) - \sum_o w_o
  (\epsilon(x_t, p[c \to o]) - \epsilon(x_t, \varnothing))\|^2$;
* ``composition i``: the user's own, each a map from a replacement of the concept's word
  to its weight (how a real checkpoint is attacked: ``{"starry night": 1.5, "painting":
  0.5}`` for an erased ``"van gogh"``; the concept's own name keeps the prompt as it is).

The candidate with the lowest denoising loss on the concept images (never the judge) is
sampled with DDIM from the clean reading's noise and judged; every candidate's loss is in
the metrics. Each concept prompt is one attacked item.
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
)
from erase_diffusion.methods.request import method_params
from erase_diffusion.worlds.shapes import kind_of, swap_concept, values_of

if TYPE_CHECKING:
    import torch

    from erase_diffusion.pipeline import TextToImage

Composition = dict[str, float]
"""A replacement of the concept's word (the concept's name: the prompt itself) -> weight."""


class ConceptArithmeticParams(MethodParams):
    """Parameters of the concept-arithmetic attack."""

    self_weights: list[float] = Field(
        default=[1.0, -1.0, -2.0],
        max_length=16,
        description="Weights of the erased prompt itself (1: the clean reading).",
    )
    fit_others: bool = Field(
        default=True, description="Add the least-squares composition of the other values."
    )
    compositions: list[Composition] = Field(
        default_factory=list, max_length=64, description="Extra user compositions."
    )
    fit_images: int = Field(
        default=8, ge=1, le=10_000, description="Concept images the losses are measured on."
    )
    fit_draws: int = Field(
        default=4, ge=1, le=1000, description="Noise draws (timestep, noise) per fit image."
    )
    images_per_prompt: int = Field(
        default=2, ge=1, le=64, description="Images generated per concept prompt (noise seeds)."
    )
    ridge: float = Field(default=1e-6, ge=0.0, description="Ridge of the least-squares fit.")


Terms = list[tuple[str, float]]
"""A candidate: (replacement of the concept's word, weight) pairs."""


def _encode_terms(
    pipe: TextToImage, name: str, prompts: list[str], terms: Terms
) -> list[tuple[torch.Tensor, float]]:
    return [
        (pipe.encode([p if word == name else swap_concept(p, name, word) for p in prompts]), w)
        for word, w in terms
    ]


def composed_noise(
    pipe: TextToImage,
    x: torch.Tensor,
    t: Any,
    uncond: torch.Tensor,
    terms: list[tuple[torch.Tensor, float]],
) -> torch.Tensor:
    """The composed noise $\\epsilon(x, \\varnothing) + \\sum_k w_k (\\epsilon(x, p_k) -
    \\epsilon(x, \\varnothing))$ of one denoising step."""
    base = pipe.unet(x, t, encoder_hidden_states=uncond).sample
    total = base.clone()
    for context, weight in terms:
        total = total + weight * (pipe.unet(x, t, encoder_hidden_states=context).sample - base)
    return total


def sample_composed(
    pipe: TextToImage, noise: torch.Tensor, terms: list[tuple[torch.Tensor, float]], steps: int
) -> torch.Tensor:
    """DDIM from ``noise`` (already scaled by the scheduler) on a composition of prompts."""
    import torch

    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(steps)
    uncond = pipe.encode([""]).expand(noise.shape[0], -1, -1)
    x = noise
    with torch.no_grad():
        for t in scheduler.timesteps:
            model_in = scheduler.scale_model_input(x, t)
            x = scheduler.step(composed_noise(pipe, model_in, t, uncond, terms), t, x).prev_sample
    return from_latents(pipe, x)


def _fit_draws(
    target: DiffusionAttackTarget, params: ConceptArithmeticParams
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    # Noised concept latents x_t, their noise, their timesteps and captions (fixed by seed).
    import torch

    pipe = target.pipe
    images, captions = concept_images(target, params.fit_images, target.seed + 7)
    latents = to_latents(pipe, images).repeat(params.fit_draws, 1, 1, 1)
    generator = torch.Generator().manual_seed(target.seed + 7)
    noise = torch.randn(latents.shape, generator=generator)
    steps = int(pipe.scheduler.config.num_train_timesteps)
    timesteps = torch.randint(0, steps, (latents.shape[0],), generator=generator)
    noisy = pipe.scheduler.add_noise(latents, noise, timesteps)
    return noisy, noise, timesteps, captions * params.fit_draws


def _directions(
    pipe: TextToImage, noisy: torch.Tensor, timesteps: torch.Tensor, contexts: list[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    # ε(x_t, ∅) and each context's ε(x_t, p) - ε(x_t, ∅), flattened per draw.
    import torch

    uncond = pipe.encode([""]).expand(noisy.shape[0], -1, -1)
    with torch.no_grad():
        base = pipe.unet(noisy, timesteps, encoder_hidden_states=uncond).sample
        moves = [
            pipe.unet(noisy, timesteps, encoder_hidden_states=c).sample - base for c in contexts
        ]
    return base, moves


def fit_weights(
    residual: torch.Tensor, moves: list[torch.Tensor], ridge: float = 0.0
) -> torch.Tensor:
    """Least-squares $w$ minimising $\\|r - \\sum_k w_k m_k\\|^2 + \\lambda\\|w\\|^2$."""
    import torch

    design = torch.stack([m.reshape(-1).double() for m in moves], dim=1)
    gram = design.T @ design + ridge * torch.eye(design.shape[1], dtype=design.dtype)
    return torch.linalg.solve(gram, design.T @ residual.reshape(-1).double()).float()


def concept_arithmetic(
    target: DiffusionAttackTarget,
    params: ConceptArithmeticParams | dict[str, Any] | None = None,
) -> DiffusionAttackOutcome:
    """Sample the composition of prompts that best denoises concept images (white-box)."""
    import torch

    typed = method_params(ConceptArithmeticParams, params, "concept-arithmetic")
    start = time.perf_counter()
    pipe, name = target.pipe, target.concept.name
    guidance = pipe.guidance if target.guidance is None else target.guidance
    others = [v for v in values_of(kind_of(name)) if v != name]
    candidates: dict[str, Terms] = {f"self x {w:g}": [(name, w)] for w in typed.self_weights}
    for i, composition in enumerate(typed.compositions):
        if not composition:
            raise ValueError(f"composition {i} of concept-arithmetic has no terms")
        candidates[f"composition {i}"] = list(composition.items())

    noisy, noise, timesteps, captions = _fit_draws(target, typed)
    words = sorted({w for terms in candidates.values() for w, _ in terms} | set(others))
    contexts = {w: _encode_terms(pipe, name, captions, [(w, 1.0)])[0][0] for w in words}
    base, moves = _directions(pipe, noisy, timesteps, list(contexts.values()))
    move_of = dict(zip(contexts, moves, strict=True))
    if typed.fit_others and others:
        fitted = fit_weights(noise - base, [move_of[o] for o in others], typed.ridge)
        candidates["fitted"] = list(zip(others, fitted.tolist(), strict=True))

    losses: dict[str, float] = {}
    for label, terms in candidates.items():
        predicted = base + sum(w * move_of[word] for word, w in terms)
        losses[label] = float(((noise - predicted) ** 2).mean())
    chosen = min(losses, key=losses.__getitem__)

    prompts = list(target.concept.prompts) * typed.images_per_prompt
    clean = pipe.generate(prompts, steps=target.steps, guidance=guidance, seed=target.seed)
    channels = int(pipe.unet.config.in_channels)
    size = pipe.default_size // pipe.downscale
    generator = torch.Generator().manual_seed(target.seed)
    start_noise = torch.randn((len(prompts), channels, size, size), generator=generator)
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(target.steps)
    scaled = [(word, guidance * w) for word, w in candidates[chosen]]
    encoded = _encode_terms(pipe, name, prompts, scaled)
    attacked = sample_composed(
        pipe, start_noise * scheduler.init_noise_sigma, encoded, target.steps
    )

    metrics = {f"loss {label}": loss for label, loss in losses.items()}
    metrics["chosen"] = float(list(candidates).index(chosen))
    metrics.update({f"weight {word}": w for word, w in candidates[chosen]})
    items = len(target.concept.prompts)
    outcome = judged_outcome("concept-arithmetic", target, attacked, clean, items, metrics, start)
    described = ", ".join(f"{w:+.3g} {word}" for word, w in candidates[chosen])
    outcome.prompts = [f"{chosen}: {described} (x guidance {guidance:g})"]
    return outcome
