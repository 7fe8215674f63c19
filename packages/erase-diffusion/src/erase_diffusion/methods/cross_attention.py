"""Shared primitives of the closed-form methods: find the cross-attention projections,
turn concepts into rows of text embeddings, solve UCE's linear system, and write the
edited weights back.

A cross-attention layer reads the text encoder's hidden states ``c`` (one row per token)
through its key and value projections, ``k = W_k c`` and ``v = W_v c``; the closed-form
methods (UCE, RECE, MACE) edit exactly these matrices, so every row of text embedding in
this module is a vector of the text encoder's width ``d``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unlearn_schema import Concept

from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


def cross_attention_projections(
    unet: Any, keys: bool = True, values: bool = True
) -> list[tuple[str, torch.nn.Linear]]:
    """``(name, Linear)`` of every key/value projection that reads the text embeddings.

    Raises ``ValueError`` when the model has no cross-attention layer.
    """

    found: list[tuple[str, torch.nn.Linear]] = []
    for name, module in unet.named_modules():
        if getattr(module, "is_cross_attention", False) and hasattr(module, "to_k"):
            if keys:
                found.append((f"{name}.to_k", module.to_k))
            if values:
                found.append((f"{name}.to_v", module.to_v))
    if not found:
        raise ValueError(
            f"{type(unet).__name__} has no cross-attention layers (no Attention module with "
            "is_cross_attention=True): closed-form erasure needs a text-conditioned UNet such "
            "as UNet2DConditionModel with CrossAttn blocks"
        )
    return found


def anchor_prompt(prompt: str, concept: Concept) -> str:
    """The prompt the concept's prompt is mapped to: every whole-word occurrence of the
    concept's name (a phrase of any number of words, such as ``"van gogh"``) swapped for
    the anchor, or the anchor alone (empty text when None) when the name does not occur.

    Matching is on whole words, case-insensitive: ``"red"`` is not found in ``"shred"``.
    """
    import re

    anchor = concept.anchor or ""
    words = concept.name.split()
    phrase = re.compile(r"(?<!\S)" + r"\s+".join(map(re.escape, words)) + r"(?!\S)", re.I)
    if concept.anchor and words and phrase.search(prompt):
        return phrase.sub(lambda _: anchor, prompt)
    return anchor


def concept_rows(
    pipe: TextToImage, concepts: Sequence[Concept], from_concept_token: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Erased rows ``C`` and their anchor rows ``T`` (both (n, d), float64).

    Every token position of every prompt is a row (positions pair up because the anchor
    prompt differs by one word); with ``from_concept_token`` only the concept's word and
    the tokens after it are kept (MACE: the words that follow absorb the concept).
    """
    import torch

    erased, targets = [], []
    for concept in concepts:
        prompts = list(concept.prompts)
        anchors = [anchor_prompt(p, concept) for p in prompts]
        c = pipe.encode(prompts).double()
        t = pipe.encode(anchors).double()
        if from_concept_token:
            ids = pipe.tokenize(prompts)
            word = pipe.tokenize([concept.name]).tolist()[0]
            word_ids = [i for i in word if i not in pipe.tokenizer.all_special_ids]
            for row in range(len(prompts)):
                hits = [j for j, tok in enumerate(ids[row].tolist()) if tok in word_ids]
                start = hits[0] if hits else 0
                erased.append(c[row, start:])
                targets.append(t[row, start:])
        else:
            erased.append(c.reshape(-1, c.shape[-1]))
            targets.append(t.reshape(-1, t.shape[-1]))
    return torch.cat(erased), torch.cat(targets)


def preserve_rows(pipe: TextToImage, prompts: Sequence[str]) -> torch.Tensor:
    """Rows of the preserved prompts' embeddings (m, d), float64; (0, d) when none."""
    import torch

    width = int(pipe.text_encoder.config.hidden_size)
    if not prompts:
        return torch.zeros(0, width, dtype=torch.float64)
    return pipe.encode(list(prompts)).double().reshape(-1, width)


def symmetric_gram(
    matrices: Sequence[torch.Tensor], dtype: torch.dtype | None = None, blocks: int = 3
) -> torch.Tensor:
    """``Σₖ AₖᵀAₖ`` (d, d) in ``dtype`` (default: the first matrix's, at least float32).

    Only the ``blocks·(blocks+1)/2`` column-block pairs on and above the diagonal are
    multiplied (two thirds of the multiply-adds for 3 blocks), accumulated in place
    matrix by matrix, then mirrored. Plain torch, so the products run on the same BLAS
    and thread pool as the rest of the edit: handing them to another BLAS (scipy's
    ``?syrk``, whose worker threads keep spinning after the call) was faster alone but
    slowed every torch product that followed on 2 cores.
    """
    import torch

    if not matrices:
        raise ValueError("symmetric_gram needs at least one matrix")
    first = matrices[0]
    work = dtype or torch.promote_types(first.dtype, torch.float32)
    d = first.shape[1]
    blocks = max(1, min(blocks, d))
    edges = [round(i * d / blocks) for i in range(blocks + 1)]
    spans = list(itertools.pairwise(edges))
    out = torch.zeros(d, d, dtype=work, device=first.device)
    for matrix in matrices:
        a = matrix.detach().to(work)
        for i, (r0, r1) in enumerate(spans):
            for c0, c1 in spans[i:]:
                out[r0:r1, c0:c1].addmm_(a[:, r0:r1].T, a[:, c0:c1])
    for i, (r0, r1) in enumerate(spans):
        for c0, c1 in spans[i + 1 :]:
            out[c0:c1, r0:r1] = out[r0:r1, c0:c1].T
    return out


def system_matrix(
    erased: torch.Tensor,
    preserve: torch.Tensor,
    preserve_weight: float,
    ridge: float,
    preserve_gram: torch.Tensor | None = None,
) -> torch.Tensor:
    """``M = Σ cᵢcᵢᵀ + λ Σ pⱼpⱼᵀ + γI``: shared by every projection of the model.

    ``preserve_gram`` is ``PᵀP`` when the caller already has it (RECE reuses it).
    """
    m = erased.T @ erased
    m += preserve_weight * (symmetric_gram([preserve]) if preserve_gram is None else preserve_gram)
    m.diagonal().add_(ridge)
    return m


@dataclass
class SharedEdit:
    """One edit for every projection: ``W' = W (I + X)`` with ``X = left @ right``.

    ``X`` is shared by all projections because UCE's system matrix does not depend on
    ``W``. With ``n`` erased rows ``X = (T − C)ᵀ (C M⁻¹)`` has rank ``n``: when ``2n < d``
    it is kept as its two thin factors (``left`` (d, n), ``right`` (n, d)) and applied as
    ``W + (W left) right``, costing O(out·d·n) per projection instead of O(out·d²);
    otherwise ``right`` is None and ``left`` is the dense ``X`` (d, d). float64.
    """

    left: torch.Tensor
    right: torch.Tensor | None
    # Z ↦ M⁻¹Z for this edit's system matrix (kept so that a grown edit can reuse it).
    solve: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)
    rows: int = 0  # erased rows n

    def dense(self) -> torch.Tensor:
        """``X`` as a (d, d) float64 matrix."""
        return self.left if self.right is None else self.left @ self.right

    def apply(self, weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``W (I + X)`` for every weight, in each weight's dtype."""
        import torch

        if not weights:
            return []
        # The products with the (large) weights run in their precision (at least float32),
        # projection by projection: no stacked copy of all weights is made.
        work = torch.promote_types(weights[0].dtype, torch.float32)
        left = self.left.to(work)
        right = None if self.right is None else self.right.to(work)
        out = []
        for weight in weights:
            w = weight.detach().to(work)
            new = torch.addmm(w, w, left) if right is None else torch.addmm(w, w @ left, right)
            out.append(new.to(weight.dtype))
        return out


def closed_form_edit(
    erased: torch.Tensor,
    targets: torch.Tensor,
    preserve: torch.Tensor,
    preserve_weight: float,
    ridge: float,
    *,
    preserve_gram: torch.Tensor | None = None,
    extends: SharedEdit | None = None,
) -> SharedEdit:
    """UCE's minimiser as one transform shared by every projection.

    ``W' = W (Tᵀ C + λ PᵀP + γI) M⁻¹ = W (I + X)``, ``X = (T − C)ᵀ C M⁻¹``, where
    ``M = CᵀC + λPᵀP + γI``. ``M`` is built and Cholesky-factored once in float64 (it
    can be badly conditioned for real text embeddings); no inverse is formed.

    ``extends`` is the edit of the first rows of ``erased`` (same preserve set, λ and
    γ), as in RECE's rounds, which only add rows: then ``M = M₀ + UUᵀ`` with ``U`` the
    k new rows (transposed), and the Woodbury identity
    ``M⁻¹ = M₀⁻¹ − M₀⁻¹U (I + UᵀM₀⁻¹U)⁻¹ UᵀM₀⁻¹`` reuses ``M₀``'s factor: a k×k
    factorisation instead of a d×d one.
    """
    import torch

    if preserve_weight <= 0:
        raise ValueError(f"preserve_weight λ must be > 0, got {preserve_weight}")
    if ridge <= 0:
        raise ValueError(f"ridge γ must be > 0, got {ridge}")
    erased, targets = erased.double(), targets.double()
    delta = targets - erased  # (n, d)
    n, d = erased.shape
    if extends is not None and extends.solve is not None and extends.right is not None:
        if not 0 < extends.rows < n:
            raise ValueError(
                f"extends must be the edit of a proper prefix of the erased rows: it has "
                f"{extends.rows} rows, the new edit {n}"
            )
        if 2 * n < d:
            base_solve = extends.solve
            added = erased[extends.rows :]  # (k, d)
            solved_added = base_solve(added.T.contiguous())  # M₀⁻¹U, (d, k)
            capacitance = torch.linalg.cholesky(added @ solved_added + _eye_like(added))

            def solve(rhs: torch.Tensor) -> torch.Tensor:
                first = base_solve(rhs)
                correction = torch.cholesky_solve(solved_added.T @ rhs, capacitance)
                return first - solved_added @ correction

            # M⁻¹Cᵀ: the prefix's columns M₀⁻¹C₀ᵀ are the base edit's ``right``.
            base = torch.cat([extends.right.T, solved_added], dim=1)  # M₀⁻¹Cᵀ, (d, n)
            right = base - solved_added @ torch.cholesky_solve(
                solved_added.T @ erased.T, capacitance
            )
            return SharedEdit(delta.T.contiguous(), right.T.contiguous(), solve, n)
    factor = torch.linalg.cholesky(
        system_matrix(erased, preserve.double(), preserve_weight, ridge, preserve_gram)
    )

    def solve_base(rhs: torch.Tensor) -> torch.Tensor:
        return torch.cholesky_solve(rhs, factor)

    if 2 * n < d:
        right = solve_base(erased.T.contiguous()).T  # C M⁻¹, (n, d)
        return SharedEdit(delta.T.contiguous(), right.contiguous(), solve_base, n)
    # Xᵀ = M⁻¹ (Cᵀ Δ) since M is symmetric: d right-hand sides instead of n.
    dense = solve_base(erased.T @ delta).T
    return SharedEdit(dense.contiguous(), None, solve_base, n)


def _eye_like(rows: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.eye(rows.shape[0], dtype=rows.dtype, device=rows.device)


def closed_form_update(
    weights: Sequence[torch.Tensor],
    erased: torch.Tensor,
    targets: torch.Tensor,
    preserve: torch.Tensor,
    preserve_weight: float,
    ridge: float,
) -> list[torch.Tensor]:
    """UCE's minimiser for every projection at once (`closed_form_edit`, applied).

    Returned in each weight's dtype.
    """
    edit = closed_form_edit(erased, targets, preserve, preserve_weight, ridge)
    return edit.apply(weights)


def reference_update(
    weight: torch.Tensor,
    erased: torch.Tensor,
    targets: torch.Tensor,
    preserve: torch.Tensor,
    preserve_weight: float,
    ridge: float,
) -> torch.Tensor:
    """The straightforward UCE update of one projection: build both sums, invert.

    ``W' = (Σ W c*ᵢ cᵢᵀ + λ Σ W pⱼ pⱼᵀ + γ W)(Σ cᵢ cᵢᵀ + λ Σ pⱼ pⱼᵀ + γ I)⁻¹``, as in the
    authors' code; kept as the oracle of `closed_form_update`.
    """
    import torch

    w = weight.double()
    erased, targets, preserve = erased.double(), targets.double(), preserve.double()
    d = erased.shape[1]
    eye = torch.eye(d, dtype=torch.float64)
    left = w @ targets.T @ erased + preserve_weight * (w @ preserve.T @ preserve) + ridge * w
    right = erased.T @ erased + preserve_weight * (preserve.T @ preserve) + ridge * eye
    return (left @ torch.linalg.inv(right)).to(weight.dtype)


def working_copy(pipe: TextToImage, in_place: bool) -> TextToImage:
    """The pipeline to edit: ``pipe`` itself only when the caller asked for in-place."""
    return pipe if in_place else pipe.copy()


def write_projections(
    unet: Any, weights: Sequence[torch.Tensor], keys: bool = True, values: bool = True
) -> None:
    """Copy ``weights`` into the key/value projections, in `cross_attention_projections`
    order (the order every closed form reads and returns them in)."""
    import torch

    layers = cross_attention_projections(unet, keys, values)
    with torch.no_grad():
        for (_, layer), weight in zip(layers, weights, strict=True):
            layer.weight.copy_(weight)
