"""Direct logit attribution, head ablation, the OV copy-suppression score, self-repair.

Paper: McDougall, Conmy, Rushing, McGrath, Nanda, "Copy Suppression: Comprehensively
Understanding an Attention Head" (arXiv:2310.04625). All quantities are per head
$(l, h)$ of an ``AttentionOnlyTransformer`` at chosen (sequence, position, target)
triples: the target is the token a naive copier would predict next there.

**Direct logit attribution.** With $\\bar W_U = W_U - \\frac1V W_U \\mathbf 1 \\mathbf 1^\\top$ (the
unembedding centred over the vocabulary, since a constant added to every logit changes
nothing), head $(l,h)$'s direct effect on target $t$ at a position is
$\\mathrm{DLA}_{l,h} = o_{l,h} \\cdot \\bar W_U[:, t]$. Without LayerNorm or MLPs the
centred logit of $t$ is exactly $\\mathrm{DLA}_{emb} + \\sum_{l,h} \\mathrm{DLA}_{l,h}$.

**Ablation.** Mean ablation replaces the head's output at every position by its mean over
all positions of the batch; zero ablation by 0. The ablation effect is the mean change
of $\\log p(t)$; a **negative head** is one whose ablation *raises* the probability of the
naively copied token by more than a threshold (it was suppressing the copy) and, when
its direct effect is given, whose own direct effect on $t$ is negative (it writes
against $t$ itself: a damaged model also predicts the naive token more, so ablating a
head that merely helps elsewhere can raise it too).

**OV copy-suppression score** (the paper's weights-based evidence, Section 4.1: for
84.70 % of GPT-2's tokens the token itself is among the 10 most suppressed outputs of
L10H7's OV circuit). With tokens as row vectors,
$M^{l,h} = W_E\\, W_V^{l,h} W_O^{l,h}\\, W_U \\in \\mathbb R^{V \\times V}$, row $t$ being how
attending to token $t$ moves every output logit (the paper's $W_U^\\top W_{OV} W_E$ in
column convention; we use $W_E$ itself as the effective embedding, the paper uses
GPT-2's MLP0 output). The rank of the diagonal in its row counts the other outputs that
are suppressed at least as much (ties count against the head):
$r_t = \\#\\{t' \\ne t : M_{t t'} \\le M_{t t}\\}$, and

$$\\mathrm{CS}_k(l,h) = \\frac1V \\sum_{t=1}^{V} \\mathbf 1[r_t < k],$$

the share of tokens whose own logit is among the $k$ most suppressed when the head
attends to them (chance level for a random matrix: $k/V$). The copying score is the same
with the ranks from the top.

**Self-repair** (the paper's Section 5). Ablate a copier $c$ and recompute every head.
Its direct effect is $DE_c = \\mathrm{DLA}_c - \\mathrm{DLA}_c^{abl}$ (the ablated value's own
attribution), the total effect the drop of the centred target logit
$TE = \\ell - \\ell^{abl}$, and a downstream head $h$ compensates by
$\\Delta_h = \\mathrm{DLA}^{abl}_h - \\mathrm{DLA}_h$. Self-repair is $DE_c - TE$, which here equals
$\\sum_h \\Delta_h$ over the heads after $c$'s layer exactly; the share of the direct
effect repaired is $(DE_c - TE) / DE_c$, and the share of the repair a head gives is
$\\Delta_h / (DE_c - TE)$ (the paper: copy suppression explains 39 % of self-repair on IOI).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from unlearn_llm.circuits.model import AttentionOnlyTransformer, Forward, Head
from unlearn_llm.circuits.params import Ablation, TargetKind
from unlearn_llm.circuits.world import CopyBatch


@dataclass(frozen=True)
class Targets:
    """Positions ``(row, position)`` of a batch and the target token at each."""

    tokens: torch.Tensor  # (batch, length)
    rows: torch.Tensor  # (n,)
    positions: torch.Tensor  # (n,)
    target: torch.Tensor  # (n,)

    def __len__(self) -> int:
        return int(self.target.numel())


def targets_of(batch: CopyBatch, kind: TargetKind) -> Targets:
    """Where a naive copier predicts a token: ``copy`` (the copy half) or ``walk`` (the
    walk's favourite successor already in context)."""
    labels = {"copy": batch.copy_target, "walk": batch.walk_target}.get(kind)
    if labels is None:
        raise ValueError(f"unknown target kind {kind!r}; accepted: 'copy', 'walk'")
    rows, positions = (labels >= 0).nonzero(as_tuple=True)
    return Targets(batch.tokens, rows, positions, labels[rows, positions])


def centred_unembedding(model: AttentionOnlyTransformer) -> torch.Tensor:
    """$W_U$ minus its mean over the vocabulary, ``(d_model, vocab)``."""
    return model.W_U - model.W_U.mean(dim=1, keepdim=True)


def centred_target_logit(
    model: AttentionOnlyTransformer, forward: Forward, at: Targets
) -> torch.Tensor:
    """The target's logit minus the mean logit at each target position, ``(n,)``."""
    logits = forward.logits[at.rows, at.positions]
    return logits.gather(1, at.target[:, None])[:, 0] - logits.mean(dim=1)


def direct_logit_attribution(
    model: AttentionOnlyTransformer, forward: Forward, at: Targets
) -> torch.Tensor:
    """$\\mathrm{DLA}_{l,h}$ of every head at every target, ``(layers, heads, n)``."""
    directions = centred_unembedding(model)[:, at.target]  # (d_model, n)
    per_layer = [
        torch.einsum("nhd,dn->hn", out[at.rows, at.positions], directions)
        for out in forward.head_outputs
    ]
    return torch.stack(per_layer)


def embedding_attribution(
    model: AttentionOnlyTransformer, forward: Forward, at: Targets
) -> torch.Tensor:
    """The token + positional embedding's direct effect on each target, ``(n,)``."""
    directions = centred_unembedding(model)[:, at.target]
    return torch.einsum("nd,dn->n", forward.embedding[at.rows, at.positions], directions)


def ablation_value(forward: Forward, head: Head, kind: Ablation) -> torch.Tensor:
    """What an ablated head writes: its mean output over the batch's positions, or 0."""
    layer, index = head
    out = forward.head_outputs[layer][:, :, index]
    if kind == "mean":
        return out.mean(dim=(0, 1))
    if kind == "zero":
        return torch.zeros_like(out[0, 0])
    raise ValueError(f"unknown ablation {kind!r}; accepted: 'mean', 'zero'")


def all_heads(model: AttentionOnlyTransformer) -> list[Head]:
    return [(layer, head) for layer in range(model.layer_count) for head in range(model.head_count)]


@dataclass(frozen=True)
class AblationEffects:
    """Per head ``(layers, heads)``: the mean change of $\\log p(t)$ and of the centred
    target logit when the head alone is ablated."""

    logprob: torch.Tensor
    logit: torch.Tensor


@torch.no_grad()
def ablation_effects(
    model: AttentionOnlyTransformer, at: Targets, kind: Ablation = "mean"
) -> AblationEffects:
    """Ablate each head in turn and measure how the targets' probability changes."""
    clean = model.run(at.tokens)
    clean_logprob = _target_logprob(clean, at)
    clean_logit = centred_target_logit(model, clean, at)
    logprob = torch.zeros(model.layer_count, model.head_count)
    logit = torch.zeros_like(logprob)
    for head in all_heads(model):
        ablated = model.run(at.tokens, {head: ablation_value(clean, head, kind)})
        logprob[head] = (_target_logprob(ablated, at) - clean_logprob).mean()
        logit[head] = (centred_target_logit(model, ablated, at) - clean_logit).mean()
    return AblationEffects(logprob, logit)


def _target_logprob(forward: Forward, at: Targets) -> torch.Tensor:
    logits = forward.logits[at.rows, at.positions]
    return logits.log_softmax(dim=-1).gather(1, at.target[:, None])[:, 0]


def negative_heads(
    effects: torch.Tensor, threshold: float, direct: torch.Tensor | None = None
) -> list[Head]:
    """Heads whose ablation raises the copied token's log-probability by more than
    ``threshold`` (nats) and, given ``direct`` (``(layers, heads)`` mean DLA), whose direct
    effect on it is negative; strongest first."""
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0 (nats), got {threshold}")
    chosen = effects > threshold
    if direct is not None:
        chosen &= direct < 0
    found = [(int(layer), int(head)) for layer, head in chosen.nonzero().tolist()]
    return sorted(found, key=lambda head: -float(effects[head]))


def ov_token_matrix(
    W_E: torch.Tensor, W_V: torch.Tensor, W_O: torch.Tensor, W_U: torch.Tensor
) -> torch.Tensor:
    """$M = W_E W_V W_O W_U$, ``(vocab, vocab)``: row $t$ is what attending to $t$ writes
    into every output logit."""
    return W_E @ W_V @ W_O @ W_U


def _diagonal_ranks(matrix: torch.Tensor, lowest: bool) -> torch.Tensor:
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"expected a square (vocab, vocab) matrix, got shape {tuple(matrix.shape)}"
        )
    diagonal = matrix.diagonal()[:, None]
    beats = matrix <= diagonal if lowest else matrix >= diagonal
    return beats.sum(dim=1) - 1  # the diagonal itself always ties with itself


def copy_suppression_score(matrix: torch.Tensor, bottom_k: int = 1) -> float:
    """$\\mathrm{CS}_k$: the share of tokens $t$ whose own logit is among the ``bottom_k``
    most suppressed outputs of row $t$ of the OV token matrix (ties count against)."""
    if bottom_k < 1 or bottom_k > matrix.shape[-1]:
        raise ValueError(
            f"bottom_k must be in 1..{matrix.shape[-1]} (the vocabulary), got {bottom_k}"
        )
    return float((_diagonal_ranks(matrix, lowest=True) < bottom_k).float().mean())


def copying_score(matrix: torch.Tensor, top_k: int = 1) -> float:
    """The share of tokens whose own logit is among the ``top_k`` most raised outputs."""
    if top_k < 1 or top_k > matrix.shape[-1]:
        raise ValueError(f"top_k must be in 1..{matrix.shape[-1]} (the vocabulary), got {top_k}")
    return float((_diagonal_ranks(matrix, lowest=False) < top_k).float().mean())


def head_ov_matrix(model: AttentionOnlyTransformer, head: Head) -> torch.Tensor:
    layer, index = head
    block = model.layer(layer)
    return ov_token_matrix(model.W_E, block.W_V[index], block.W_O[index], model.W_U)


@torch.no_grad()
def ov_scores(model: AttentionOnlyTransformer, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy-suppression and copying scores of every head, each ``(layers, heads)``."""
    suppression = torch.zeros(model.layer_count, model.head_count)
    copying = torch.zeros_like(suppression)
    for head in all_heads(model):
        matrix = head_ov_matrix(model, head)
        suppression[head] = copy_suppression_score(matrix, k)
        copying[head] = copying_score(matrix, k)
    return suppression, copying


@dataclass(frozen=True)
class SelfRepair:
    """What happens downstream when ``copier`` is ablated (all means over the targets).

    ``compensation[l, h]`` is $\\Delta_h$ (0 for the copier and every head at or before
    its layer, whose inputs do not change).
    """

    copier: Head
    direct_effect: float
    total_effect: float
    compensation: torch.Tensor

    @property
    def self_repair(self) -> float:
        """$DE_c - TE$."""
        return self.direct_effect - self.total_effect

    @property
    def repaired_share(self) -> float:
        """$(DE_c - TE) / DE_c$; 0 when the copier has no direct effect."""
        return self.self_repair / self.direct_effect if abs(self.direct_effect) > 1e-9 else 0.0

    def share_of_repair(self, heads: Iterable[Head]) -> float:
        """$\\sum_{h} \\Delta_h / (DE_c - TE)$ over ``heads``; 0 when nothing is repaired."""
        if abs(self.self_repair) <= 1e-9:
            return 0.0
        return float(sum(float(self.compensation[head]) for head in heads)) / self.self_repair


@torch.no_grad()
def self_repair(
    model: AttentionOnlyTransformer, at: Targets, copier: Head, kind: Ablation = "mean"
) -> SelfRepair:
    """Ablate ``copier`` and measure every later head's change of direct effect."""
    clean = model.run(at.tokens)
    value = ablation_value(clean, copier, kind)
    ablated = model.run(at.tokens, {copier: value})
    before = direct_logit_attribution(model, clean, at)
    after = direct_logit_attribution(model, ablated, at)
    directions = centred_unembedding(model)[:, at.target]
    ablated_own = (value[:, None] * directions).sum(dim=0)  # DLA of the ablation value
    direct = float((before[copier] - ablated_own).mean())
    total = float(
        (centred_target_logit(model, clean, at) - centred_target_logit(model, ablated, at)).mean()
    )
    compensation = (after - before).mean(dim=2)
    compensation[copier] = 0.0
    return SelfRepair(copier, direct, total, compensation)
