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

Each expert is a shared UCE transform of the original weights, ``Wᵢ = W (I + Xᵢ)``, so the
fusion is one as well and no expert is materialised:

    W* = W (I + (Σᵢ Xᵢ EᵢᵀEᵢ) R⁻¹),   R = Σᵢ EᵢᵀEᵢ + λ PᵀP + γI.

Not included: MACE's LoRA training with the attention-map loss and its segmentation
masks; here each per-concept expert is the closed-form refinement of stage 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field
from unlearn_schema import Concept, validate_or_raise

from erase_diffusion.methods.cross_attention import (
    SharedEdit,
    check_concepts,
    closed_form_edit,
    concept_rows,
    cross_attention_projections,
    preserve_rows,
    symmetric_gram,
    working_copy,
)
from erase_diffusion.methods.uce import UCEParams
from erase_diffusion.pipeline import TextToImage


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
    originals = [layer.weight.detach() for _, layer in layers]
    edited = working_copy(pipe, in_place)
    preserve = preserve_rows(edited, preserve_prompts)
    d = preserve.shape[1]
    # Every expert is Wᵢ = W (I + Xᵢ) (a shared UCE transform), so the fusion is one too:
    # W* = W (R + Σᵢ Xᵢ EᵢᵀEᵢ) R⁻¹ = W (I + (Σᵢ Xᵢ EᵢᵀEᵢ) R⁻¹) with
    # R = Σᵢ EᵢᵀEᵢ + λ PᵀP + γI; no expert's weights are ever materialised.
    prior = symmetric_gram([preserve.double()])  # PᵀP, shared by every solve below
    system = params.ridge * torch.eye(d, dtype=torch.float64)
    if preserve.shape[0]:
        system += params.fusion_preserve_weight * prior
    pulled = torch.zeros(d, d, dtype=torch.float64)  # Σᵢ EᵢᵀEᵢ Xᵢᵀ
    for concept in checked:
        rows, anchors = concept_rows(edited, [concept], from_concept_token=True)
        expert = closed_form_edit(
            rows, anchors, preserve, params.preserve_weight, params.ridge, preserve_gram=prior
        )
        gram = rows.T @ rows
        pulled += gram @ expert.dense().T
        system += gram
    fused = torch.cholesky_solve(pulled, torch.linalg.cholesky(system)).T
    with torch.no_grad():
        for (_, layer), new in zip(
            cross_attention_projections(edited.unet, params.edit_keys, params.edit_values),
            SharedEdit(left=fused.contiguous(), right=None).apply(originals),
            strict=True,
        ):
            layer.weight.copy_(new)
    return edited
