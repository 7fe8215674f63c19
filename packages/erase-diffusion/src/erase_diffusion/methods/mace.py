r"""MACE-style multi-concept erasure in closed form (after Lu et al., "MACE: Mass Concept
Erasure in Diffusion Models", arXiv:2403.06135).

Two closed-form stages, for many concepts at once:

1. *Refinement per concept* $i$: as in MACE's cross-attention refinement, only the
   concept's word and the tokens after it are edited (in a causal text encoder the later
   words absorb the concept), mapped to the anchor prompt's rows at the same positions:
   $W_i = \arg\min_{W'} \sum_{e \in E_i} \|W' e - W e^*\|^2 +
   \lambda \sum_j \|W' p_j - W p_j\|^2 + \gamma \|W' - W\|^2$.
2. *Fusion*: one projection that reproduces every expert on its own concept and the
   original on the preserved rows (MACE's closed-form fusion of per-concept modules):

$$W^* = \arg\min_{W'} \sum_i \sum_{e \in E_i} \|W' e - W_i e\|^2 +
\lambda \sum_j \|W' p_j - W p_j\|^2 + \gamma \|W' - W\|^2 =
\Big(\sum_i W_i E_i^\top E_i + \lambda W P^\top P + \gamma W\Big)
\Big(\sum_i E_i^\top E_i + \lambda P^\top P + \gamma I\Big)^{-1}.$$

Each expert is a shared UCE transform of the original weights, $W_i = W (I + X_i)$, so
the fusion is one as well and no expert is materialised:

$$W^* = W \Big(I + \Big(\sum_i X_i E_i^\top E_i\Big) R^{-1}\Big), \qquad
R = \sum_i E_i^\top E_i + \lambda P^\top P + \gamma I.$$

Not included: MACE's LoRA training with the attention-map loss and its segmentation
masks; here each per-concept expert is the closed-form refinement of stage 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from erase_diffusion.methods.cross_attention import (
    SharedEdit,
    closed_form_edit,
    concept_rows,
    cross_attention_projections,
    preserve_rows,
    symmetric_gram,
    working_copy,
    write_projections,
)
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.methods.uce import UCEParams
from erase_diffusion.pipeline import TextToImage


class MACEParams(UCEParams):
    """Parameters of the MACE-style closed form (UCE's, plus the fusion's weight)."""

    fusion_preserve_weight: float = Field(
        default=1.0, gt=0.0, le=1e6, description="λ of the fusion stage."
    )


def erase_mace(
    pipe: TextToImage,
    request: EraseRequest,
    params: MACEParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase many ``request.concepts`` at once; returns a copy unless ``in_place``."""
    import torch

    params = method_params(MACEParams, params, "mace")
    layers = cross_attention_projections(pipe.unet, params.edit_keys, params.edit_values)
    originals = [layer.weight.detach() for _, layer in layers]
    edited = working_copy(pipe, in_place)
    preserve = preserve_rows(edited, request.preserve_prompts)
    d = preserve.shape[1]
    # Every expert is Wᵢ = W (I + Xᵢ) (a shared UCE transform), so the fusion is one too:
    # W* = W (R + Σᵢ Xᵢ EᵢᵀEᵢ) R⁻¹ = W (I + (Σᵢ Xᵢ EᵢᵀEᵢ) R⁻¹) with
    # R = Σᵢ EᵢᵀEᵢ + λ PᵀP + γI; no expert's weights are ever materialised.
    prior = symmetric_gram([preserve.double()])  # PᵀP, shared by every solve below
    system = params.ridge * torch.eye(d, dtype=torch.float64)
    if preserve.shape[0]:
        system += params.fusion_preserve_weight * prior
    pulled = torch.zeros(d, d, dtype=torch.float64)  # Σᵢ EᵢᵀEᵢ Xᵢᵀ
    for concept in request.concepts:
        rows, anchors = concept_rows(edited, [concept], from_concept_token=True)
        expert = closed_form_edit(
            rows, anchors, preserve, params.preserve_weight, params.ridge, preserve_gram=prior
        )
        gram = rows.T @ rows
        pulled += gram @ expert.dense().T
        system += gram
    fused = torch.cholesky_solve(pulled, torch.linalg.cholesky(system)).T
    fusion = SharedEdit(left=fused.contiguous(), right=None)
    write_projections(edited.unet, fusion.apply(originals), params.edit_keys, params.edit_values)
    return edited
