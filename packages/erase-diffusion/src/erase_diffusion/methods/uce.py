r"""UCE: Unified Concept Editing in diffusion models (Gandikota et al., arXiv:2308.14761).

Closed-form edit of every cross-attention key and value projection $W$ (``to_k``,
``to_v``). With erased text-embedding rows $c_i$ (every token of every prompt of the
erased concepts), their anchor rows $c^*_i$ (the same prompts with the anchor word) and
preserved rows $p_j$, the edited $W'$ minimises

$$\sum_i \|W' c_i - W c^*_i\|^2 + \lambda \sum_j \|W' p_j - W p_j\|^2 + \gamma \|W' - W\|_F^2,$$

whose minimiser is

$$W' = \Big(\sum_i W c^*_i c_i^\top + \lambda \sum_j W p_j p_j^\top + \gamma W\Big)
\Big(\sum_i c_i c_i^\top + \lambda \sum_j p_j p_j^\top + \gamma I\Big)^{-1}.$$

The second factor $M$ does not depend on $W$: it is solved once for all projections, and
the update $W' - W = W (T - C)^\top C M^{-1}$ has rank at most the number of erased rows
(see `erase_diffusion.methods.cross_attention.closed_form_update`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods.cross_attention import (
    closed_form_update,
    concept_rows,
    cross_attention_projections,
    preserve_rows,
    reference_update,
    working_copy,
    write_projections,
)
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class UCEParams(MethodParams):
    """Parameters of UCE."""

    preserve_weight: float = Field(
        default=1.0, gt=0.0, le=1e6, description="λ: weight of the preserved concepts."
    )
    ridge: float = Field(
        default=0.1, gt=0.0, le=1e6, description="γ: pull towards the original weights."
    )
    edit_keys: bool = True
    edit_values: bool = True
    implementation: Literal["fast", "reference"] = Field(
        default="fast", description="'reference' inverts per projection (the oracle)."
    )


def edit_projections(
    pipe: TextToImage,
    erased: torch.Tensor,
    targets: torch.Tensor,
    preserve: torch.Tensor,
    params: UCEParams,
    originals: Sequence[torch.Tensor] | None = None,
) -> None:
    """Write UCE's minimiser into ``pipe``'s projections (``originals`` = the W of the
    objective, default the current weights)."""
    layers = cross_attention_projections(pipe.unet, params.edit_keys, params.edit_values)
    olds = [layer.weight.detach() for _, layer in layers] if originals is None else originals
    if params.implementation == "fast":
        news = closed_form_update(
            olds, erased, targets, preserve, params.preserve_weight, params.ridge
        )
    else:
        news = [
            reference_update(w, erased, targets, preserve, params.preserve_weight, params.ridge)
            for w in olds
        ]
    write_projections(pipe.unet, news, params.edit_keys, params.edit_values)


def erase_uce(
    pipe: TextToImage,
    request: EraseRequest,
    params: UCEParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` (each mapped to its anchor) while preserving
    ``request.preserve_prompts``.

    Returns the edited pipeline: a copy unless ``in_place`` is True.
    """
    params = method_params(UCEParams, params, "uce")
    cross_attention_projections(pipe.unet, params.edit_keys, params.edit_values)
    edited = working_copy(pipe, in_place)
    erased, targets = concept_rows(edited, request.concepts)
    preserve = preserve_rows(edited, request.preserve_prompts)
    edit_projections(edited, erased, targets, preserve, params)
    return edited
