r"""Concept-vector attack in the style of Ring-A-Bell (Tsai et al., arXiv:2310.10012).

A concept direction is extracted from prompt pairs that differ only in the concept: each
prompt $p_i$ that names the concept against the same prompt with every other value
$o$ of the concept's kind (a circle prompt against its square, triangle and cross
versions), encoded by the *original* text encoder $\tau$ (black-box: Ring-A-Bell takes
it from the public text encoder, never from the erased model),

$$d = \frac{1}{N}\sum_i \Big(\tau(p_i) - \frac{1}{|O|}\sum_{o \in O} \tau(p_i[c \to o])\Big),$$

one vector per token position (the world's captions share their template). The erased
model is then prompted with $\tau'(y) + \eta\, d$: its own encoding of each concept
prompt $y$, pushed along the direction with strength $\eta$. Ring-A-Bell goes on to
search discrete tokens whose encoding approximates that embedding; this attack feeds the
embedding itself (the continuous upper bound of that search).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.attacks.target import (
    DiffusionAttackOutcome,
    DiffusionAttackTarget,
    judged_outcome,
    original_of,
)
from erase_diffusion.methods.request import method_params
from erase_diffusion.worlds.shapes import kind_of, prompts_for, swap_concept, values_of


class ConceptVectorParams(MethodParams):
    """Parameters of the concept-vector attack."""

    strength: float = Field(default=2.0, gt=0.0, le=100.0, description="η: how far to push.")
    pairs: int = Field(
        default=24, ge=1, le=1000, description="Concept prompts the direction is averaged over."
    )
    images_per_prompt: int = Field(
        default=2, ge=1, le=64, description="Images generated per concept prompt (noise seeds)."
    )


def concept_vector(
    target: DiffusionAttackTarget, params: ConceptVectorParams | dict[str, Any] | None = None
) -> DiffusionAttackOutcome:
    """Prompt the erased model with its concept prompts' encodings plus $\\eta d$."""
    typed = method_params(ConceptVectorParams, params, "concept-vector")
    original = original_of(target, "concept-vector")
    start = time.perf_counter()
    name = target.concept.name
    others = [v for v in values_of(kind_of(name)) if v != name]
    # Pairs in an order of their own (seed + 1), not the evaluated prompts' order.
    pairs = prompts_for(name, seed=target.seed + 1)[: typed.pairs]
    with_concept = original.encode(pairs)
    without = sum(original.encode([swap_concept(p, name, o) for p in pairs]) for o in others)
    direction = (with_concept - without / len(others)).mean(0)
    prompts = list(target.concept.prompts) * typed.images_per_prompt
    clean_context = target.pipe.encode(prompts)
    options: dict[str, Any] = {
        "steps": target.steps,
        "guidance": target.guidance,
        "seed": target.seed,
    }
    attacked = target.pipe.generate(
        prompt_embeds=clean_context + typed.strength * direction, **options
    )
    clean = target.pipe.generate(prompt_embeds=clean_context, **options)
    metrics = {"direction_norm": float(direction.norm())}
    items = len(target.concept.prompts)
    return judged_outcome("concept-vector", target, attacked, clean, items, metrics, start)
