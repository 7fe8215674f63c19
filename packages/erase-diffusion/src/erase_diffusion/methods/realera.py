r"""RealEra: semantic-level concept erasure via neighbour-concept mining (Liu et al.,
*RealEra: Semantic-level Concept Erasure via Neighbor-Concept Mining*, arXiv:2410.09140).

Erasing the concept's own prompts leaves a "concept residue": inputs near the concept
(related words, paraphrases) still draw it. RealEra widens the erased set by mining
*neighbour concepts* and protects what lies just outside it:

* **neighbour-concept mining**: every row $e$ of a concept prompt's text embedding, from
  the concept's token on (earlier positions of a causal encoder never see the concept),
  is perturbed at random, $n = e + \delta$, $\|\delta\| = r\,\|e\|$ with
  $r \sim U(0, \rho_n]$ and a uniformly random direction; the neighbours are erased like
  the concept itself, mapped to the anchor prompt's rows $e^*$ at the same positions;
* **beyond-concept regularisation**: rows perturbed farther,
  $b = e + \delta$, $r \sim U(\rho_n, \rho_b]$, are kept where they were, so the widened
  erasure does not spill onto the concepts around it;
* **closed form**: the cross-attention keys and values are solved in one step, the UCE
  normal equations with the two new row sets,

$$W' = \arg\min_{W'} \sum_i \|W' c_i - W c^*_i\|^2 + \sum_k \|W' n_k - W n^*_k\|^2
+ \mu \sum_b \|W' b - W b\|^2 + \lambda \sum_j \|W' p_j - W p_j\|^2 + \gamma \|W' - W\|^2$$

$$= W\big(I + (T - E)^\top E M^{-1}\big), \quad M = E^\top E + \lambda P^\top P
+ \mu B^\top B + \gamma I,$$

with $E = [C; N]$ the erased rows and $T$ their anchor rows, solved by
`erase_diffusion.methods.cross_attention.closed_form_edit` (the beyond rows join the
preserved ones, scaled by $\sqrt{\mu/\lambda}$).

``mining="random"`` (the default, the paper's) keeps every perturbation.
``mining="judge"`` (our option) generates one image per perturbed prompt with the
unedited model and keeps the neighbours in which the shipped shapes-world judge still
sees the concept, and the beyond rows in which it does not: neighbours that really
regenerate it, a boundary that really lies outside it.

This module is the paper's first stage alone, registered as ``realera-closed-form``;
the full method, this closed form followed by LoRA fine-tuning that aligns the noise
predicted for neighbour prompts with the anchor's, is ``realera``
(`erase_diffusion.methods.realera_lora`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator
from unlearn_schema import Concept

from erase_diffusion.methods.cross_attention import (
    anchor_prompt,
    closed_form_edit,
    cross_attention_projections,
    preserve_rows,
    working_copy,
    write_projections,
)
from erase_diffusion.methods.hirm import concept_positions
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.methods.uce import UCEParams
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class RealEraParams(UCEParams):
    """Parameters of RealEra's closed form (UCE's, plus mining and regularisation)."""

    neighbours: int = Field(
        default=8, ge=0, le=1000, description="Perturbed neighbour copies of each prompt."
    )
    neighbour_radius: float = Field(
        default=0.3, gt=0.0, le=10.0, description="ρ_n: neighbours' largest relative radius."
    )
    beyond: int = Field(
        default=4, ge=0, le=1000, description="Beyond-concept copies of each prompt."
    )
    beyond_radius: float = Field(
        default=0.6, gt=0.0, le=10.0, description="ρ_b: beyond rows' largest relative radius."
    )
    beyond_weight: float = Field(
        default=1.0, ge=0.0, le=1e6, description="μ: weight of the beyond-concept rows."
    )
    mining: Literal["random", "judge"] = Field(
        default="random",
        description="'random': every perturbation (paper); 'judge': keep judged ones.",
    )
    steps: int = Field(default=12, ge=2, le=1000, description="DDIM steps of judge mining.")
    seed: int = Field(default=0, description="Seed of the perturbations.")

    @model_validator(mode="after")
    def _radii_ordered(self) -> RealEraParams:
        if self.beyond and self.beyond_radius <= self.neighbour_radius:
            raise ValueError(
                f"beyond_radius ({self.beyond_radius}) must exceed neighbour_radius "
                f"({self.neighbour_radius}): beyond-concept rows lie outside the neighbours"
            )
        return self


@dataclass
class MinedRows:
    """What mining found for the request: erased rows and targets, beyond rows (float64,
    the closed form's), and the same sets as whole prompt embeddings (prompts, tokens, d;
    float32, what `erase_diffusion.methods.realera_lora` trains on): the concept's prompts
    and kept neighbours with their anchor prompts, and the kept beyond prompts."""

    erased: torch.Tensor
    targets: torch.Tensor
    beyond: torch.Tensor
    kept_neighbours: int = 0
    kept_beyond: int = 0
    erased_prompts: torch.Tensor | None = None
    anchor_prompts: torch.Tensor | None = None
    beyond_prompts: torch.Tensor | None = None


def perturb(
    rows: torch.Tensor,
    mask: torch.Tensor,
    low: float,
    high: float,
    generator: torch.Generator,
) -> torch.Tensor:
    r"""``rows`` (prompts, tokens, d) with every masked row moved by $\delta$,
    $\|\delta\| = r\,\|e\|$, $r \sim U(\text{low}, \text{high}]$, in a uniformly random
    direction; unmasked rows are returned unchanged."""
    import torch

    direction = torch.randn(rows.shape, generator=generator, dtype=rows.dtype)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    radius = low + (high - low) * torch.rand(rows.shape[:-1], generator=generator, dtype=rows.dtype)
    step = direction * (radius * rows.norm(dim=-1)).unsqueeze(-1)
    return rows + step * mask.unsqueeze(-1).to(rows.dtype)


def _judged_concept(
    pipe: TextToImage, embeds: torch.Tensor, concept: Concept, steps: int, seed: int
) -> torch.Tensor:
    """Whether the shipped judge sees ``concept`` in one image per embedding (bool, n)."""
    import torch

    from erase_diffusion.metrics.judge import load_judge
    from erase_diffusion.worlds.shapes import kind_of

    kind = kind_of(concept.name)
    images = pipe.generate(prompt_embeds=embeds.float(), steps=steps, seed=seed)
    seen = load_judge().judge(images).sees(concept.name, kind)
    return torch.from_numpy(seen)


def mine_rows(pipe: TextToImage, request: EraseRequest, params: RealEraParams) -> MinedRows:
    """The concept rows, mined neighbours (both mapped to anchor rows) and beyond rows."""
    import torch

    generator = torch.Generator().manual_seed(params.seed)
    erased: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    beyond: list[torch.Tensor] = []
    # The same sets as whole prompts: (erased prompt, anchor prompt) pairs and beyond prompts.
    pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
    kept_beyond_prompts: list[torch.Tensor] = []
    kept_n = kept_b = 0
    for concept in request.concepts:
        prompts = list(concept.prompts)
        rows = pipe.encode(prompts).double()
        anchors = pipe.encode([anchor_prompt(p, concept) for p in prompts]).double()
        mask = concept_positions(pipe, concept)
        erased.append(rows[mask])
        targets.append(anchors[mask])
        pairs.append((rows, anchors))
        near = [
            perturb(rows, mask, 0.0, params.neighbour_radius, generator)
            for _ in range(params.neighbours)
        ]
        far = [
            perturb(rows, mask, params.neighbour_radius, params.beyond_radius, generator)
            for _ in range(params.beyond)
        ]
        for copies, wanted, out in ((near, True, erased), (far, False, beyond)):
            if not copies:
                continue
            stacked = torch.cat(copies)  # (copies·prompts, tokens, d)
            keep = torch.ones(stacked.shape[0], dtype=torch.bool)
            if params.mining == "judge":
                keep = _judged_concept(pipe, stacked, concept, params.steps, params.seed) == wanted
            masks = mask.repeat(len(copies), 1) & keep.unsqueeze(-1)
            out.append(stacked[masks])
            if wanted:
                targets.append(anchors.repeat(len(copies), 1, 1)[masks])
                pairs.append((stacked[keep], anchors.repeat(len(copies), 1, 1)[keep]))
                kept_n += int(keep.sum())
            else:
                kept_beyond_prompts.append(stacked[keep])
                kept_b += int(keep.sum())
    width = rows.shape[-1]
    return MinedRows(
        erased=torch.cat(erased),
        targets=torch.cat(targets),
        beyond=torch.cat(beyond) if beyond else torch.zeros(0, width, dtype=torch.float64),
        kept_neighbours=kept_n,
        kept_beyond=kept_b,
        erased_prompts=torch.cat([e for e, _ in pairs]).float(),
        anchor_prompts=torch.cat([a for _, a in pairs]).float(),
        beyond_prompts=(
            torch.cat(kept_beyond_prompts).float()
            if kept_beyond_prompts
            else torch.zeros(0, *rows.shape[1:])
        ),
    )


def erase_realera(
    pipe: TextToImage,
    request: EraseRequest,
    params: RealEraParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
    mined: list[MinedRows] | None = None,
) -> TextToImage:
    """Erase ``request.concepts`` and their mined neighbours in closed form, keeping the
    beyond-concept rows and ``request.preserve_prompts``; a copy unless ``in_place``.

    Pass a list as ``mined`` to receive the rows the edit was solved with.
    """
    import torch

    params = method_params(RealEraParams, params, "realera-closed-form")
    layers = cross_attention_projections(pipe.unet, params.edit_keys, params.edit_values)
    originals = [layer.weight.detach() for _, layer in layers]
    edited = working_copy(pipe, in_place)
    rows = mine_rows(edited, request, params)
    if mined is not None:
        mined.append(rows)
    preserve = preserve_rows(edited, request.preserve_prompts)
    # μ Σ‖W'b − Wb‖² is λ Σ‖W'b̃ − Wb̃‖² with b̃ = √(μ/λ) b: the beyond rows join P.
    scale = (params.beyond_weight / params.preserve_weight) ** 0.5
    kept = torch.cat([preserve.double(), scale * rows.beyond])
    edit = closed_form_edit(rows.erased, rows.targets, kept, params.preserve_weight, params.ridge)
    write_projections(edited.unet, edit.apply(originals), params.edit_keys, params.edit_values)
    return edited
