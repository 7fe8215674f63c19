"""MACE-style multi-concept erasure in closed form (after Lu et al., "MACE: Mass Concept
Erasure in Diffusion Models", arXiv:2403.06135).

Two closed-form stages, for many concepts at once:

1. *Refinement per concept* ``i``: as in MACE's cross-attention refinement, only the
   concept's word and the tokens after it are edited (in a causal text encoder the later
   words absorb the concept), mapped to the anchor prompt's rows at the same positions:
   ``Wᵢ = argmin Σ_{e∈Eᵢ} ‖W' e − W e*‖² + λ Σⱼ ‖W' pⱼ − W pⱼ‖² + γ‖W' − W‖²``.
2. *Fusion*: one projection that reproduces every expert on its own concept and the
   original on the preserved rows (MACE's closed-form fusion of per-concept modules):

       W* = argmin Σᵢ Σ_{e∈Eᵢ} ‖W* e − Wᵢ e‖² + λ Σⱼ ‖W* pⱼ − W pⱼ‖² + γ‖W* − W‖²
          = (Σᵢ Wᵢ EᵢᵀEᵢ + λ W PᵀP + γ W)(Σᵢ EᵢᵀEᵢ + λ PᵀP + γ I)⁻¹.

Not included: MACE's LoRA training with the attention-map loss and its segmentation
masks; here each per-concept expert is the closed-form refinement of stage 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import Concept, validate_or_raise

from erase_diffusion.methods.cross_attention import (
    check_concepts,
    closed_form_update,
    concept_rows,
    cross_attention_projections,
    preserve_rows,
    working_copy,
)
from erase_diffusion.methods.uce import UCEParams
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    pass


class MACEParams(UCEParams):
    """Parameters of the MACE-style closed form (UCE's, plus the fusion's weight)."""

    fusion_preserve_weight: float = Field(
        default=1.0, gt=0.0, le=1e6, description="λ of the fusion stage."
    )


def erase_mace(
    pipe: TextToImage,
    concepts: Sequence[Concept | dict[str, Any]],
    preserve_prompts: Sequence[str] = (),
    params: MACEParams | dict[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase many ``concepts`` at once; returns a copy unless ``in_place``."""
    import torch

    checked = check_concepts(concepts)
    if not isinstance(params, MACEParams):
        params = validate_or_raise(MACEParams, params or {}, "mace params")
    layers = cross_attention_projections(pipe.unet, params.edit_keys, params.edit_values)
    originals = [layer.weight.detach().double() for _, layer in layers]
    edited = working_copy(pipe, in_place)
    preserve = preserve_rows(edited, preserve_prompts)
    d = preserve.shape[1]
    left = [params.ridge * w for w in originals]
    if preserve.shape[0]:
        prior = params.fusion_preserve_weight * (preserve.T @ preserve)
        left = [acc + w @ prior for acc, w in zip(left, originals, strict=True)]
    else:
        prior = torch.zeros(d, d, dtype=torch.float64)
    right = prior + params.ridge * torch.eye(d, dtype=torch.float64)
    for concept in checked:
        rows, anchors = concept_rows(edited, [concept], from_concept_token=True)
        expert = closed_form_update(
            originals, rows, anchors, preserve, params.preserve_weight, params.ridge
        )
        gram = rows.T @ rows
        left = [acc + e @ gram for acc, e in zip(left, expert, strict=True)]
        right = right + gram
    factor = torch.linalg.cholesky(right)
    with torch.no_grad():
        for (_, layer), acc in zip(
            cross_attention_projections(edited.unet, params.edit_keys, params.edit_values),
            left,
            strict=True,
        ):
            fused = torch.cholesky_solve(acc.T.contiguous(), factor).T
            layer.weight.copy_(fused.to(layer.weight.dtype))
    return edited
