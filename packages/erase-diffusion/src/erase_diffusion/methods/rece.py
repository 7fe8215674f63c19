r"""RECE: Reliable and Efficient Concept Erasure of text-to-image diffusion models
(Gong et al., ECCV 2024, arXiv:2407.12383).

UCE erases the concept's own embeddings, but other embeddings can still make the edited
model draw it. RECE finds such an embedding in closed form: for an erased row $c$ and
the edited projections $W'_l$ (original $W_l$), the derived embedding is

$$e' = \arg\min_e \sum_l \|W'_l e - W_l c\|^2 + \rho \|e\|^2 + \mu \sum_j (p_j^\top e)^2
= \Big(\sum_l W_l'^\top W'_l + \rho I + \mu P^\top P\Big)^{-1} \sum_l W_l'^\top W_l c$$

($\rho$ and $\mu$ are given relative to the mean eigenvalue of $\sum_l W_l'^\top W'_l$, and
$\mu$ also relative to that of $P^\top P$, so the defaults fit any model's scale),

i.e. the input whose keys and values in the edited model are closest to the concept's in
the original. The term $\mu \sum_j (p_j^\top e)^2$ is the regularisation that protects
unrelated concepts: it keeps $e'$ away from the preserved embeddings, so erasing it next
moves them little (our reading of the paper's regulariser; the authors weight a similar
term).

``rece`` runs the rounds as the authors' code does: round $k$ derives $E'_k$ from the
*current* weights and edits the current weights with $E'_k$ alone, mapped to the
concept's anchor rows $T$ (UCE's targets $W^{(k-1)} t$ read through the current weights):

$$W^{(0)} = \mathrm{UCE}(W,\ C \to T,\ P), \qquad
W^{(k)} = \mathrm{UCE}\big(W^{(k-1)},\ E'_k \to T,\ P\big).$$

``rece-cumulative`` (our earlier variant, kept under its own name) instead reruns UCE
from the original weights each round with the erase set grown by every derived row:

$$W^{(k)} = \mathrm{UCE}\big(W,\ \text{erase } [C; E'_1; \dots; E'_k] \to [T; T; \dots; T],\
\text{preserve } P\big).$$

After two rounds the two differ by more than one round's update (checked in the tests).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from erase_diffusion.methods.uce import UCEParams, edit_projections
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class RECEParams(UCEParams):
    """Parameters of RECE (UCE's, plus the derivation's)."""

    rounds: int = Field(default=2, ge=1, le=20, description="Derive-and-erase rounds.")
    derive_ridge: float = Field(
        default=1e-3, gt=0.0, le=1e6, description="ρ (relative): ridge of the derivation."
    )
    regularization: float = Field(
        default=1e-4, ge=0.0, le=1e6, description="μ (relative): keep off preserved rows."
    )


@dataclass
class RECETrace:
    """What each round derived: ``derived[k]`` are the rows found after round k's edit."""

    derived: list[torch.Tensor] = field(default_factory=list)


def _solve_derived(
    gram: torch.Tensor,
    cross: torch.Tensor,
    erased: torch.Tensor,
    preserve: torch.Tensor,
    derive_ridge: float,
    regularization: float,
    preserve_gram: torch.Tensor | None = None,
) -> torch.Tensor:
    """``E' = (gram + ρ s I + μ s' PᵀP)⁻¹ cross Cᵀ``, transposed to rows (n, d).

    ``preserve_gram`` is PᵀP when the caller already has it (float64).
    """
    import torch

    d = erased.shape[1]
    # ρ and μ are relative to the scale of Σ W'ᵀW', so one default fits any model.
    scale = float(torch.trace(gram)) / d
    system = gram.clone()
    system.diagonal().add_(derive_ridge * scale)
    if preserve.shape[0] and regularization > 0:
        prior = symmetric_gram([preserve.double()]) if preserve_gram is None else preserve_gram
        system.add_(prior, alpha=regularization * scale * d / float(torch.trace(prior)))
    rhs = cross @ erased.double().T
    # The system is symmetric positive definite (a Gram matrix plus a ridge): Cholesky,
    # half the work of an LU solve; LU only if rounding made the factorisation fail.
    factor, info = torch.linalg.cholesky_ex(system)
    if int(info) == 0:
        return torch.cholesky_solve(rhs, factor).T
    return torch.linalg.solve(system, rhs).T


def derive_embeddings(
    originals: Sequence[torch.Tensor],
    edited: Sequence[torch.Tensor],
    erased: torch.Tensor,
    preserve: torch.Tensor,
    derive_ridge: float,
    regularization: float,
) -> torch.Tensor:
    """RECE's closed-form rows ``E'`` (n, d) that regenerate ``erased`` in the edited model
    (any edited weights: sums ``Σ W'ᵀW'`` and ``Σ W'ᵀW`` built per projection)."""
    import torch

    d = erased.shape[1]
    gram = torch.zeros(d, d, dtype=torch.float64)
    cross = torch.zeros(d, d, dtype=torch.float64)
    for w, w_new in zip(originals, edited, strict=True):
        w64, n64 = w.double(), w_new.double()
        gram += n64.T @ n64
        cross += n64.T @ w64
    return _solve_derived(gram, cross, erased, preserve, derive_ridge, regularization)


def weight_gram(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``G = Σₗ Wₗᵀ Wₗ`` (d, d), float64: all RECE needs to know of the weights.

    Accumulated block-symmetrically (`symmetric_gram`) projection by projection
    in the weights' own precision (at least float32), then widened. The result's
    rounding (relative 1e-7 for float32) is that of the weights themselves, and the
    derivation is insensitive to it (checked against the float64 per-projection sums in
    tests and in ``speed_bench``).
    """
    if not weights:
        raise ValueError("weight_gram needs at least one weight")
    return symmetric_gram(weights).double()


# (weak references to the weights, their data pointers and versions, G) of recent calls.
_GRAM_CACHE: list[tuple[list[weakref.ref[torch.Tensor]], list[tuple[int, int]], torch.Tensor]] = []
_GRAM_CACHE_SIZE = 2


def cached_weight_gram(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """`weight_gram` of these exact tensors, reused while none of them changed.

    ``G`` depends only on the base model, not on the concept, so erasing concept after
    concept from the same pipeline computes it once. A hit needs the same tensor
    objects with the same storage and version counter (any in-place write, such as an
    ``in_place=True`` edit, bumps it), so a changed model is never served a stale ``G``.
    The two most recent models are kept.
    """
    stamps = [(int(w.data_ptr()), int(w._version)) for w in weights]
    for refs, seen, gram in _GRAM_CACHE:
        same_objects = len(refs) == len(weights) and all(
            ref() is w for ref, w in zip(refs, weights, strict=True)
        )
        if same_objects and seen == stamps:
            return gram
    gram = weight_gram([w.detach() for w in weights])
    _GRAM_CACHE.insert(0, ([weakref.ref(w) for w in weights], stamps, gram))
    del _GRAM_CACHE[_GRAM_CACHE_SIZE:]
    return gram


def derive_embeddings_shared(
    gram: torch.Tensor,
    edit: SharedEdit,
    erased: torch.Tensor,
    preserve: torch.Tensor,
    derive_ridge: float,
    regularization: float,
    preserve_gram: torch.Tensor | None = None,
) -> torch.Tensor:
    """`derive_embeddings` when every edited projection is ``Wₗ (I + X)``.

    Then ``Σ W'ᵀW' = (I + X)ᵀ G (I + X)`` and ``Σ W'ᵀW = (I + X)ᵀ G`` with
    ``G = Σ WᵀW`` (`weight_gram`, computed once): each round costs a few d×d
    products (thin ones when ``X`` is low-rank) instead of a pass over every weight.
    """
    if edit.right is None:
        cross = gram + edit.left.T @ gram
        edited_gram = cross + cross @ edit.left
    else:
        left, right = edit.left, edit.right  # X = left @ right
        cross = gram + right.T @ (left.T @ gram)
        edited_gram = cross + (cross @ left) @ right
    return _solve_derived(
        edited_gram, cross, erased, preserve, derive_ridge, regularization, preserve_gram
    )


def erase_rece(
    pipe: TextToImage,
    request: EraseRequest,
    params: RECEParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
    trace: RECETrace | None = None,
) -> TextToImage:
    """Erase ``request.concepts`` with RECE as its authors run it; a copy unless ``in_place``.

    Each round derives embeddings from the current weights and edits the current weights
    with those alone. Pass a `RECETrace` to receive each round's derived rows. The fast
    path keeps the whole edit as one d×d transform ``W M`` of the original weights
    (every UCE step right-multiplies it by ``I + X``), so rounds cost d×d products and
    the weights are written once; ``implementation="reference"`` edits and re-reads
    every projection per round.
    """
    return _erase(pipe, request, params, in_place, trace, cumulative=False)


def erase_rece_cumulative(
    pipe: TextToImage,
    request: EraseRequest,
    params: RECEParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
    trace: RECETrace | None = None,
) -> TextToImage:
    """RECE's cumulative variant: every round reruns UCE from the original weights with
    the erase set grown by all rows derived so far (``rece-cumulative``)."""
    return _erase(pipe, request, params, in_place, trace, cumulative=True)


def _erase(
    pipe: TextToImage,
    request: EraseRequest,
    params: RECEParams | Mapping[str, Any] | None,
    in_place: bool,
    trace: RECETrace | None,
    cumulative: bool,
) -> TextToImage:
    import torch

    name = "rece-cumulative" if cumulative else "rece"
    params = method_params(RECEParams, params, name)
    layers = cross_attention_projections(pipe.unet, params.edit_keys, params.edit_values)
    originals = [layer.weight.detach().clone() for _, layer in layers]
    edited = working_copy(pipe, in_place)
    erased, targets = concept_rows(edited, request.concepts)
    preserve = preserve_rows(edited, request.preserve_prompts)
    erase_set, target_set = erased, targets
    rho, mu = params.derive_ridge, params.regularization
    if params.implementation == "reference":
        edit_projections(edited, erase_set, target_set, preserve, params, originals)
        for _ in range(params.rounds):
            current = [
                layer.weight.detach()
                for _, layer in cross_attention_projections(
                    edited.unet, params.edit_keys, params.edit_values
                )
            ]
            derived = derive_embeddings(originals, current, erased, preserve, rho, mu)
            if trace is not None:
                trace.derived.append(derived)
            if cumulative:
                erase_set = torch.cat([erase_set, derived])
                target_set = torch.cat([target_set, targets])
                edit_projections(edited, erase_set, target_set, preserve, params, originals)
            else:  # the current weights are UCE's W: edit them with the new rows only
                edit_projections(edited, derived, targets, preserve, params)
        return edited

    lam, ridge = params.preserve_weight, params.ridge
    gram = cached_weight_gram([layer.weight for _, layer in layers])
    prior = symmetric_gram([preserve.double()])  # PᵀP, shared by every solve below
    edit = closed_form_edit(erase_set, target_set, preserve, lam, ridge, preserve_gram=prior)
    if cumulative:
        for _ in range(params.rounds):
            derived = derive_embeddings_shared(
                gram, edit, erased, preserve, rho, mu, preserve_gram=prior
            )
            if trace is not None:
                trace.derived.append(derived)
            erase_set = torch.cat([erase_set, derived])
            target_set = torch.cat([target_set, targets])
            edit = closed_form_edit(
                erase_set, target_set, preserve, lam, ridge, preserve_gram=prior, extends=edit
            )
        write_projections(edited.unet, edit.apply(originals), params.edit_keys, params.edit_values)
        return edited
    # W^(k) = W M_k with M_0 = I + X_0 and M_k = M_(k-1) (I + X_k): UCE's transform does
    # not depend on the weights it is applied to, so each round only multiplies M.
    eye = torch.eye(gram.shape[0], dtype=torch.float64)
    transform = eye + edit.dense()
    for _ in range(params.rounds):
        cross = transform.T @ gram  # Σ W'ᵀW with W' = W M
        derived = _solve_derived(
            cross @ transform, cross, erased, preserve, rho, mu, preserve_gram=prior
        )
        if trace is not None:
            trace.derived.append(derived)
        step = closed_form_edit(derived, targets, preserve, lam, ridge, preserve_gram=prior)
        transform = transform + transform @ step.dense()
    write_projections(
        edited.unet,
        SharedEdit(transform - eye, None).apply(originals),
        params.edit_keys,
        params.edit_values,
    )
    return edited
