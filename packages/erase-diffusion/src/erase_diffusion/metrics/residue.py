r"""Concept residue: how often an erased concept still appears from inputs *related* to it.

RealEra (arXiv:2410.09140) names "concept residue" the images of the erased concept that
semantically related inputs still produce. The shapes world has no synonyms, so the
related inputs are built four ways, each a *family* of the report:

* ``perturbed``: the concept prompts' text embeddings, every row from the concept's token
  on moved by $\delta$ with $\|\delta\| = r\|e\|$, $r \sim U(r_0, r_1]$, in a random
  direction (the output side of the encoder, where cross-attention reads; RealEra's
  own mining perturbs there too, so by default the radii, $r \in (0.6, 2.5]$, lie beyond
  its mining radii and the seed differs; the unedited shipped model still draws the
  concept from 75-100 % of such inputs, and nearer ones are erased by UCE already);
* ``token-neighbours``: the concept word's *input* embedding $v$ moved to
  $v + r\|v\|u$ and read through the text encoder, nearby points of the vocabulary
  space standing in for synonyms;
* ``held-out``: captions that contain the concept but are not among the concept's
  prompts (compositions with other attributes the erasure never saw);
* ``paraphrases``: shortened and reordered prompts that keep the concept word
  (``"a red circle"``, ``"a red circle on a striped background"``).

The residue of a family is the judge's rate of the concept on its images,
$\frac{1}{N}\sum_n 1[\mathrm{judge}_k(x_n) = c]$ (lower is better, as the erasure rate);
the report's ``mean`` averages the families. Compare with the unedited model's report
on the same inputs and noise: the residue a method leaves is what remains of that.

torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from unlearn_schema import Concept

from erase_diffusion.worlds.shapes import all_attributes, caption, kind_of

if TYPE_CHECKING:
    import torch

    from erase_diffusion.metrics.judge import Judge
    from erase_diffusion.pipeline import TextToImage

RESIDUE_FAMILIES: tuple[str, ...] = ("perturbed", "token-neighbours", "held-out", "paraphrases")

# Shortened and reordered forms of the world's caption; those keeping the concept's word
# are the paraphrases (every word is in the shipped tokenizer's vocabulary).
PARAPHRASES: tuple[str, ...] = (
    "a {colour} {shape}",
    "a {shape}",
    "a {colour} {shape} on a {background} background",
    "a {colour} {shape} on a {style} background",
    "a {shape} on a {background} {style} background",
    "a {colour} {shape} on a {style} {background} background",
)


@dataclass
class ResidueReport:
    """Per family, the share of images in which the judge sees the concept, and counts."""

    concept: str
    rates: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        """Mean rate over the families measured."""
        if not self.rates:
            raise ValueError(f"no residue family was measured for {self.concept!r}")
        return float(np.mean(list(self.rates.values())))


def held_out_prompts(concept: Concept, limit: int, seed: int = 0) -> list[str]:
    """Up to ``limit`` world captions naming the concept that are not its prompts."""
    kind = kind_of(concept.name)
    seen = set(concept.prompts)
    found = [caption(a) for a in all_attributes() if a.get(kind) == concept.name]
    found = [p for p in found if p not in seen]
    order = np.random.default_rng(seed).permutation(len(found))
    return [found[i] for i in order[:limit]]


def paraphrase_prompts(concept: Concept, limit: int, seed: int = 0) -> list[str]:
    """Up to ``limit`` distinct shortened/reordered prompts that keep the concept's word."""
    kind = kind_of(concept.name)
    found: list[str] = []
    for a in all_attributes():
        if a.get(kind) != concept.name:
            continue
        for template in PARAPHRASES:
            text = template.format(
                colour=a.colour, shape=a.shape, background=a.background, style=a.style
            )
            if concept.name in text.split() and text not in found:
                found.append(text)
    order = np.random.default_rng(seed).permutation(len(found))
    return [found[i] for i in order[:limit]]


def perturbed_embeddings(
    pipe: TextToImage,
    concept: Concept,
    samples: int,
    radius: tuple[float, float],
    seed: int,
) -> torch.Tensor:
    """``samples`` concept-prompt embeddings (samples, tokens, d), each row from the
    concept's token on moved by a random relative radius in ``radius``."""
    import torch

    from erase_diffusion.methods.hirm import concept_positions
    from erase_diffusion.methods.realera import perturb

    generator = torch.Generator().manual_seed(seed)
    prompts = list(concept.prompts)
    picks = torch.randint(0, len(prompts), (samples,), generator=generator).tolist()
    rows = pipe.encode(prompts)[picks]
    mask = concept_positions(pipe, concept)[picks]
    return perturb(rows, mask, radius[0], radius[1], generator)


def token_neighbour_embeddings(
    pipe: TextToImage,
    concept: Concept,
    samples: int,
    radius: tuple[float, float],
    seed: int,
) -> torch.Tensor:
    """``samples`` encodings (samples, tokens, d) of concept prompts whose concept word
    reads a moved input embedding $v + r\\|v\\|u$, $r$ uniform in ``radius``."""
    import torch

    from erase_diffusion.attacks.conditioning import concept_token_id, token_embedding_replaced

    generator = torch.Generator().manual_seed(seed)
    token = concept_token_id(pipe, concept.name)
    table = pipe.text_encoder.get_input_embeddings().weight.detach()
    word = table[token]
    prompts = list(concept.prompts)
    out = []
    for _ in range(samples):
        prompt = prompts[int(torch.randint(0, len(prompts), (1,), generator=generator))]
        u = torch.randn(word.shape, generator=generator, dtype=word.dtype)
        r = radius[0] + (radius[1] - radius[0]) * float(torch.rand((), generator=generator))
        vector = word + r * word.norm() * u / u.norm()
        with token_embedding_replaced(pipe.text_encoder, token, vector):
            out.append(pipe.encode([prompt]))
    return torch.cat(out)


def concept_residue(
    pipe: TextToImage,
    concept: Concept,
    judge: Judge,
    *,
    samples: int = 24,
    perturbation: tuple[float, float] = (0.6, 2.5),
    token_radius: tuple[float, float] = (0.5, 2.0),
    families: Sequence[str] = RESIDUE_FAMILIES,
    steps: int = 12,
    guidance: float | None = None,
    seed: int = 1,
) -> ResidueReport:
    """The judge's rate of ``concept`` on each family of related inputs (see the module).

    ``samples`` images per family (fewer for ``held-out`` and ``paraphrases`` when the
    world has fewer such prompts). Images start from noise drawn from ``seed``, so an
    original and an edited pipeline read the same inputs from the same noise; ``seed``
    also draws the perturbations (default 1: RealEra mines with seed 0).
    """
    unknown = [f for f in families if f not in RESIDUE_FAMILIES]
    if unknown:
        raise ValueError(
            f"unknown residue families {unknown}; accepted: {', '.join(RESIDUE_FAMILIES)}"
        )
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    for name, (low, high) in (("perturbation", perturbation), ("token_radius", token_radius)):
        if not 0 <= low < high:
            raise ValueError(f"{name} must be (low, high) with 0 <= low < high, got {(low, high)}")
    kind = kind_of(concept.name)
    report = ResidueReport(concept=concept.name)
    for family in families:
        if family == "perturbed":
            embeds = perturbed_embeddings(pipe, concept, samples, perturbation, seed)
        elif family == "token-neighbours":
            embeds = token_neighbour_embeddings(pipe, concept, samples, token_radius, seed)
        else:
            pick = held_out_prompts if family == "held-out" else paraphrase_prompts
            prompts = pick(concept, samples, seed)
            if not prompts:
                continue
            embeds = pipe.encode(prompts)
        images = pipe.generate(prompt_embeds=embeds, steps=steps, guidance=guidance, seed=seed)
        seen = judge.judge(images).sees(concept.name, kind)
        report.rates[family] = float(seen.mean())
        report.counts[family] = int(seen.size)
    return report
