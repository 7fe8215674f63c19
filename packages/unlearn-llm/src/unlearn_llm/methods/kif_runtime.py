"""KIF's runtime stage: suppress the forget subjects' activation signatures at inference.

Paper: Mahmood, Bhuiyan, Zaman, Khondaker, Sakib, Wadith, Tasnim, Sadeque,
"Representation-Aware Unlearning via Activation Signatures: From Suppression to
Knowledge-Signature Erasure" (the Knowledge Immunization Framework, arXiv:2601.10566).
KIF finds subject-specific activation signatures, "suppresses them dynamically", and
makes that durable with an adapter. ``kif`` (``methods/kif.py``) builds the durable
part; this module is the dynamic part on its own: forward hooks and no weight change.

*Signatures* are ``kif``'s (``find_signatures``): at each signature layer $\\ell$ the
retain baseline $\\mu^{(\\ell)}$ and the orthonormal subspace $U^{(\\ell)}$ of the subject
tokens' mean deviations from it.

*Suppression* is ``kif``'s $S$, now applied to the deployed model itself. A forward hook
on decoder layer $\\ell$ replaces its output $h_t$, with $\\delta_t = h_t - \\mu$, by

$$
c_t = \\frac{\\|U^\\top \\delta_t\\|^2}{\\|\\delta_t\\|^2}, \\qquad
g_t = \\mathbb{1}[c_t > \\tau^{(\\ell)}], \\qquad
S(h_t) = h_t - \\gamma\\, g_t\\, U U^\\top \\delta_t
$$

so at a gated position the deviation's component in the signature subspace is removed
($U^\\top(S(h_t) - \\mu) = (1 - \\gamma) U^\\top \\delta_t$, zero for $\\gamma = 1$) and an
ungated position is left exactly as it was. The hook computes $g_t$ as
$\\|U^\\top\\delta_t\\|^2 > \\tau \\|\\delta_t\\|^2$ (the same test without a division).

*Calibrated gate.* With ``presence_threshold`` ``None``, $\\tau^{(\\ell)}$ is chosen per layer
on the data, at the level of inputs: an input fires when the gate opens at any of its
positions, so its score is $\\max_t c_t$, over the prompt of a forget row (start token and
question) and over every position of a retain row (start token, question, answer,
passage: the hook acts on all of them, so the gate must stay shut on all of them).
$\\tau$ maximises TPR - FPR of ``score > tau`` over those rows, halfway between the two
scores it separates (``test_time_steering.best_threshold``'s rule).

``remove_kif_runtime(model)`` takes the hooks off; the model then computes bit for bit
what it computed before.

Where this departs from the paper: the paper's runtime sentinel is described only in
words; here its gate is ``kif``'s presence test with a threshold calibrated on forget
against retain inputs, which the abstract does not specify. What this is not: deletion.
Every weight is the original's, so whoever holds the weights without the hook holds the
original model; an attack on the hooked model (fine-tuning around the hook, reading the
residual stream before the signature layer) may also get the knowledge back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.methods._common import UnlearnLog, decoder_layers, question_batch, typed
from unlearn_llm.methods._hooks import owned_hooks, remove_owned_hooks

if TYPE_CHECKING:
    import torch
    from torch.nn import Module
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import OnStep, UnlearnData
    from unlearn_llm.worlds.facts import QA


class KIFRuntimeParams(MethodParams):
    """Signature layers, subspace rank, the gate's threshold $\\tau$ and damping $\\gamma$."""

    layers: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Decoder layers whose output is hooked; None: layer 0 (as kif).",
    )
    max_rank: int = Field(
        default=32, ge=1, le=4096, description="Most signature directions kept per layer (k)."
    )
    presence_threshold: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="tau for every layer; None: calibrated per layer on forget vs retain rows.",
    )
    damping: float = Field(
        default=1.0, gt=0.0, le=1.0, description="gamma: share of the signature removed."
    )


@dataclass
class RuntimeGateFit:
    """The gate's threshold per layer and its in-sample firing rates on the rows it saw
    (a forget row fires somewhere in its prompt, a retain row anywhere)."""

    thresholds: dict[int, float]
    forget_rows: int
    retain_rows: int
    forget_firing_rate: float
    retain_firing_rate: float


class RuntimeSuppression:
    """The installed hooks' state: $U^{(\\ell)}$, $\\mu^{(\\ell)}$, $\\tau^{(\\ell)}$, $\\gamma$.

    ``suppress_hook`` is a bound method, so ``copy.deepcopy(model)`` copies this object
    with the model and the copy is hooked by its own copy. ``fired[layer]`` holds the last
    forward pass's gate at that layer (``[rows, width]`` bool; padding included: mask it).
    """

    def __init__(
        self,
        bases: dict[int, torch.Tensor],
        baselines: dict[int, torch.Tensor],
        thresholds: dict[int, float],
        damping: float,
    ) -> None:
        self.bases = bases
        self.baselines = baselines
        self.thresholds = thresholds
        self.damping = damping
        self.fit: RuntimeGateFit | None = None
        self.fired: dict[int, torch.Tensor] = {}

    def suppress_hook(self, module: Module, _inputs: object, output: Any) -> Any:
        """Forward hook on a signature layer: $h_t - \\gamma g_t U U^\\top (h_t - \\mu)$.

        Runs on every forward pass, so it is two thin mat-muls, two squared norms and a
        compare; an ungated position gets $h_t - 0$, which is $h_t$ exactly.
        """
        layer: int = module.kif_runtime_layer  # type: ignore[assignment]
        hidden = output[0] if isinstance(output, tuple) else output
        basis = self.bases[layer]
        deviation = hidden - self.baselines[layer]
        coordinates = deviation @ basis
        inside = coordinates.square().sum(dim=-1)
        gate = inside > self.thresholds[layer] * deviation.square().sum(dim=-1)
        self.fired[layer] = gate.detach()
        weight = gate.unsqueeze(-1).to(hidden.dtype) * -self.damping
        changed = hidden + weight * (coordinates @ basis.T)
        return (changed, *output[1:]) if isinstance(output, tuple) else changed

    def fired_anywhere(self, mask: torch.Tensor) -> torch.Tensor:
        """``[rows]`` bool: the last forward pass opened the gate at some layer at one of
        ``mask``'s positions."""
        import torch

        fired = torch.zeros(mask.shape[0], dtype=torch.bool, device=mask.device)
        for gate in self.fired.values():
            fired |= (gate & mask.bool()).any(dim=1)
        return fired


def max_presence(
    hidden: torch.Tensor, basis: torch.Tensor, baseline: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """$\\max_t c_t$ per row of ``hidden`` (``[rows, width, d]``) over ``mask``'s positions
    (``-inf`` for a row with none)."""
    from unlearn_llm.methods.kif import presence

    shares = presence(hidden, basis, baseline)
    return shares.masked_fill(~mask.bool(), float("-inf")).max(dim=1).values


def installed_kif_runtime(model: Module) -> RuntimeSuppression | None:
    """The ``RuntimeSuppression`` hooked into ``model`` (also in a deep copy), or ``None``."""
    found = owned_hooks(model, RuntimeSuppression)
    return found[0][2] if found else None


def install_kif_runtime(model: Module, suppression: RuntimeSuppression) -> None:
    """Hook ``suppression`` into each of its layers of ``model``."""
    if installed_kif_runtime(model) is not None:
        raise ValueError(
            "this model already has kif-runtime hooks; call remove_kif_runtime(model) first"
        )
    blocks = decoder_layers(model)
    for layer in sorted(suppression.bases):
        blocks[layer].kif_runtime_layer = layer
        blocks[layer].register_forward_hook(suppression.suppress_hook)


def remove_kif_runtime(model: Module) -> bool:
    """Remove every kif-runtime hook from ``model``; ``True`` if there were any.

    Afterwards the model computes what it did before ``kif_runtime`` (no parameter was
    touched). Hooks are found by their owner, so this works on a deep copy as well.
    """
    return remove_owned_hooks(model, RuntimeSuppression, "kif_runtime_layer")


def kif_runtime_firing_rate(
    model: Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    question: int | Literal["heldout"] = 0,
) -> float:
    """Share of ``facts`` whose prompt (start token and question) opens the installed
    gate at some position of some signature layer.

    ``question`` picks the phrasing: an index into ``qa.questions`` (the trained ones) or
    ``"heldout"`` (the phrasing no model trained on).
    """
    import torch

    suppression = installed_kif_runtime(model)
    if suppression is None:
        raise ValueError("the model has no kif-runtime hooks: run kif_runtime on it first")
    if not facts:
        raise ValueError("kif_runtime_firing_rate needs at least one fact")
    # Same prompts as test_time_steering.gate_firing_rate; only what counts as fired differs
    batch = question_batch(tokenizer, facts, question)
    with torch.no_grad():
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    return float(suppression.fired_anywhere(prompt_positions(batch)).float().mean())


def kif_runtime_firing_rates(
    model: Module,
    tokenizer: PreTrainedTokenizerBase,
    splits: Mapping[str, Sequence[QA]],
) -> dict[str, float]:
    """``kif_runtime_firing_rate`` per split (trained phrasing), plus
    ``<split>_heldout_phrasing``; empty when ``model`` has no kif-runtime hooks."""
    if installed_kif_runtime(model) is None:
        return {}
    rates: dict[str, float] = {}
    for name, facts in splits.items():
        rates[name] = kif_runtime_firing_rate(model, tokenizer, facts)
        rates[f"{name}_heldout_phrasing"] = kif_runtime_firing_rate(
            model, tokenizer, facts, "heldout"
        )
    return rates


def prompt_positions(batch: Batch) -> torch.Tensor:
    """``[rows, width]`` bool: each row's start token and question."""
    import torch

    from unlearn_llm.methods.test_time_steering import prompt_lengths

    positions = torch.arange(batch.input_ids.shape[1], device=batch.input_ids.device)
    before_answer = positions.unsqueeze(0) < prompt_lengths(batch).unsqueeze(1)
    return before_answer & batch.attention_mask.bool()


def kif_runtime(
    model: Module,
    data: UnlearnData,
    params: KIFRuntimeParams | None = None,
    *,
    on_step: OnStep = None,
) -> UnlearnLog:
    """Hook KIF's gated signature suppression into ``model``; no parameter changes.

    ``remove_kif_runtime(model)`` undoes it. ``on_step`` is never called (no steps).
    """
    import torch

    from unlearn_llm.methods.kif import find_signatures
    from unlearn_llm.methods.test_time_steering import (
        best_threshold,
        layer_outputs,
        question_mask,
    )

    del on_step
    start = time.perf_counter()
    config = typed(KIFRuntimeParams, params)
    # Same layer check and signatures as kif.py (kif's teacher is this suppression)
    count = len(decoder_layers(model))
    layers = sorted(set(config.layers if config.layers is not None else [0]))
    wrong = [layer for layer in layers if layer >= count]
    if wrong:
        raise ValueError(
            f"kif-runtime: layer(s) {wrong} do not exist; the model has {count} decoder "
            f"layers (accepted 0..{count - 1})"
        )
    # one pass over the rows serves the signatures and the gate; read from the model
    # without hooks (at a second signature layer the hooked model's activations differ
    # a little: the first layer suppressed)
    all_forget = layer_outputs(model, data.forget, layers)
    retain = data.retain
    retain_states = layer_outputs(model, retain, layers)
    bases, baselines = find_signatures(
        model, data, layers, config.max_rank, states=(all_forget, retain_states)
    )
    asked_rows = question_mask(data.forget).any(dim=1).nonzero().flatten()
    forget = data.forget.subset(asked_rows)  # passage rows have no question
    forget_states = {layer: all_forget[layer][asked_rows] for layer in layers}
    asked = prompt_positions(forget)
    retain_positions = retain.attention_mask.bool()
    thresholds: dict[int, float] = {}
    forget_fired = torch.zeros(len(forget), dtype=torch.bool, device=asked.device)
    retain_fired = torch.zeros(len(retain), dtype=torch.bool, device=asked.device)
    for layer in layers:
        forget_scores = max_presence(forget_states[layer], bases[layer], baselines[layer], asked)
        retain_scores = max_presence(
            retain_states[layer], bases[layer], baselines[layer], retain_positions
        )
        threshold = config.presence_threshold
        if threshold is None:
            threshold = best_threshold(forget_scores, retain_scores)
        thresholds[layer] = threshold
        forget_fired |= forget_scores > threshold
        retain_fired |= retain_scores > threshold
    suppression = RuntimeSuppression(bases, baselines, thresholds, config.damping)
    suppression.fit = RuntimeGateFit(
        thresholds=thresholds,
        forget_rows=len(forget),
        retain_rows=len(retain),
        forget_firing_rate=float(forget_fired.float().mean()),
        retain_firing_rate=float(retain_fired.float().mean()),
    )
    install_kif_runtime(model, suppression)
    model.eval()
    return UnlearnLog(method="kif-runtime", wall_time_s=time.perf_counter() - start)
