"""KIF: find the forget subjects' activation signatures, suppress them, bake that into LoRA.

Paper: Mahmood, Bhuiyan, Zaman, Khondaker, Sakib, Wadith, Tasnim, Sadeque,
"Representation-Aware Unlearning via Activation Signatures: From Suppression to
Knowledge-Signature Erasure" (the Knowledge Immunization Framework, arXiv:2601.10566).
The paper's three stages, as built here for a decoder whose layer outputs are
$h^{(\\ell)}_t(x)$ (what decoder layer $\\ell$ returns at position $t$):

*1. Signatures.* The subject tokens are the tokens of the forget questions that occur in
no retain row (in the facts world: the pieces of the forget people's names). With
$\\mu^{(\\ell)}$ the retain baseline, the mean of $h^{(\\ell)}$ over every non-padding
position of the retain rows after the start token, the signature of subject token $v$ is

$$
s^{(\\ell)}_v = \\frac{1}{|T_v|} \\sum_{(x,t) \\in T_v} h^{(\\ell)}_t(x) - \\mu^{(\\ell)}
$$

over $T_v$, the question positions of forget rows that hold $v$. The signature subspace
$U^{(\\ell)} \\in \\mathbb{R}^{d \\times k}$ is spanned by the top $k \\le$ ``max_rank``
right-singular vectors of the stacked $s_v$ (those above $10^{-6}$ of the largest).

*2. Dynamic suppression.* A signature is present at a position when most of its
deviation from the baseline lies in the subspace. With $\\delta_t = h_t - \\mu$,

$$
c_t = \\frac{\\|U^\\top \\delta_t\\|^2}{\\|\\delta_t\\|^2}, \\qquad
g_t = \\mathbb{1}[c_t > \\tau], \\qquad
S(h_t) = h_t - \\gamma\\, g_t\\, U U^\\top \\delta_t
$$

with presence threshold $\\tau$ (``presence_threshold``) and damping $\\gamma$
(``damping``; 1 projects the signature out entirely). Applied at every signature layer in
turn, on a frozen copy of the model, it gives the suppressed activations
$\\tilde h^{(\\ell)}$ that the adapter learns.

*3. Durable erasure with a LoRA adapter* (peft, on the attention and MLP projections of
layers $0 \\dots \\max \\ell$). With $\\theta_0$ the model before unlearning, per hidden unit
and over every attention position (as RMU's loss is averaged),

$$
\\mathcal{L} = \\sum_\\ell \\mathbb{E}_{x \\in D_f} \\big\\| h^{(\\ell)}_\\theta(x)
    - \\tilde h^{(\\ell)}_{\\theta_0}(x) \\big\\|_2^2
    + \\alpha \\sum_\\ell \\mathbb{E}_{x \\in D_r}
      \\big\\| h^{(\\ell)}_\\theta(x) - h^{(\\ell)}_{\\theta_0}(x) \\big\\|_2^2
$$

so the model's own activations on forget inputs lose the signature (and keep everything
else), while those on retain inputs stay where they were. The adapter is then merged
into the weights: the result is a plain model with no hook and no adapter, so every
attack sees the weights that carry (or no longer carry) the knowledge. On a model that
is already LoRA-wrapped, its own trainable adapter is trained instead and left unmerged.

Where this departs from the paper: the paper mines signatures from entity prompts
gathered from Wikipedia and keeps an optional runtime sentinel that suppresses at
inference; here the signatures come from the world's forget questions, the suppression
is the adapter's teacher only (the runtime stage on its own, as inference hooks with a
calibrated gate, is the method ``kif-runtime``, ``methods/kif_runtime.py``), and the
adapter's loss is the distillation above, written out here because the abstract does
not give it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.methods._common import (
    PlainStep,
    StepLoss,
    cycle,
    cycle_indices,
    decoder_layers,
    frozen_copy,
    train_steps,
    typed,
)
from unlearn_llm.ranks import local_part

if TYPE_CHECKING:
    import torch
    from torch.nn import Module

    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog

LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The projections of layers 0..max(layers) that get a LoRA adapter."""


class KIFParams(MethodParams):
    """Signature layers, subspace rank, presence threshold $\\tau$, damping $\\gamma$,
    the adapter and its training."""

    layers: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Decoder layers whose signatures are suppressed; None: layer 0.",
    )
    max_rank: int = Field(
        default=32, ge=1, le=4096, description="Most signature directions kept per layer (k)."
    )
    presence_threshold: float = Field(
        default=0.5,
        ge=0.0,
        lt=1.0,
        description="tau: a signature is present where this share of the deviation lies in it.",
    )
    damping: float = Field(
        default=1.0, gt=0.0, le=1.0, description="gamma: share of the signature removed."
    )
    lora_rank: int = Field(default=8, ge=1, le=1024)
    lora_alpha: int = Field(default=16, ge=1, le=10_000)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1e5, description="alpha.")
    steps: int = Field(default=30, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-2, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    eval_every: int = Field(default=5, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)


def subject_tokens(forget: Batch, retain: Batch) -> list[int]:
    """Token ids of the forget rows' questions that occur in no retain row (sorted)."""
    from unlearn_llm.methods.test_time_steering import question_mask

    seen = set(retain.input_ids[retain.attention_mask.bool()].tolist())
    asked = set(forget.input_ids[question_mask(forget) & forget.attention_mask.bool()].tolist())
    return sorted(asked - seen)


def retain_baseline(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """$\\mu$: the mean of ``hidden`` (``[rows, width, d]``) over ``mask``'s positions
    after the start token."""
    positions = mask.bool().clone()
    positions[:, 0] = False
    return hidden[positions].mean(dim=0)


def token_signatures(
    hidden: torch.Tensor,
    input_ids: torch.Tensor,
    positions: torch.Tensor,
    tokens: Sequence[int],
    baseline: torch.Tensor,
) -> torch.Tensor:
    """$s_v$ for each of ``tokens`` (``[len(tokens), d]``): the mean of ``hidden`` over
    ``positions`` holding $v$, minus ``baseline``."""
    import torch

    rows = []
    for token in tokens:
        where = positions & (input_ids == token)
        rows.append(hidden[where].mean(dim=0) - baseline)
    return torch.stack(rows)


def signature_basis(signatures: torch.Tensor, max_rank: int) -> torch.Tensor:
    """$U$ (``[d, k]``, orthonormal columns): the top right-singular vectors of
    ``signatures`` above $10^{-6}$ of the largest singular value, at most ``max_rank``."""
    import torch

    _, singular, vh = torch.linalg.svd(signatures.double(), full_matrices=False)
    keep = int((singular > 1e-6 * singular[0]).sum()) if len(singular) else 0
    keep = max(1, min(keep, max_rank))
    return vh[:keep].T.to(signatures.dtype)


def presence(hidden: torch.Tensor, basis: torch.Tensor, baseline: torch.Tensor) -> torch.Tensor:
    """$c_t = \\|U^\\top \\delta_t\\|^2 / \\|\\delta_t\\|^2$ at every position (0 where
    $\\delta_t = 0$)."""
    deviation = hidden - baseline
    inside = (deviation @ basis).pow(2).sum(dim=-1)
    total = deviation.pow(2).sum(dim=-1)
    return inside / total.clamp(min=1e-12)


def suppress(
    hidden: torch.Tensor,
    basis: torch.Tensor,
    baseline: torch.Tensor,
    threshold: float,
    damping: float,
) -> torch.Tensor:
    """$S(h_t) = h_t - \\gamma\\, g_t\\, U U^\\top (h_t - \\mu)$, $g_t = [c_t > \\tau]$."""
    deviation = hidden - baseline
    gate = (presence(hidden, basis, baseline) > threshold).unsqueeze(-1).to(hidden.dtype)
    return hidden - damping * gate * ((deviation @ basis) @ basis.T)


class Suppression:
    """Forward hooks that apply $S$ at each signature layer (on the frozen teacher).

    ``bases[layer]``, ``baselines[layer]``: $U^{(\\ell)}$ and $\\mu^{(\\ell)}$.
    """

    def __init__(
        self,
        bases: dict[int, torch.Tensor],
        baselines: dict[int, torch.Tensor],
        threshold: float,
        damping: float,
    ) -> None:
        self.bases = bases
        self.baselines = baselines
        self.threshold = threshold
        self.damping = damping

    def hook(self, layer: int) -> Any:
        def apply(_module: Module, _inputs: object, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            changed = suppress(
                hidden, self.bases[layer], self.baselines[layer], self.threshold, self.damping
            )
            return (changed, *output[1:]) if isinstance(output, tuple) else changed

        return apply


def hidden_states(model: Module, batch: Batch, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """What each decoder layer of ``layers`` returns on ``batch`` (with the graph, if any;
    hooks already on the layers, such as a ``Suppression``, act first)."""
    blocks = decoder_layers(model)
    captured: dict[int, torch.Tensor] = {}

    def keeper(layer: int) -> Any:
        def keep(_module: Module, _inputs: object, output: Any) -> None:
            captured[layer] = output[0] if isinstance(output, tuple) else output

        return keep

    handles = [blocks[layer].register_forward_hook(keeper(layer)) for layer in layers]
    try:
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _no_grad_states(
    model: Module, batch: Batch, layers: Sequence[int], chunk: int = 64
) -> dict[int, torch.Tensor]:
    """``hidden_states`` of every row of ``batch``, in chunks, without a graph."""
    import torch

    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            states = hidden_states(model, batch.subset(slice(start, start + chunk)), layers)
            for layer in layers:
                parts[layer].append(states[layer])
    return {layer: torch.cat(parts[layer]) for layer in layers}


def find_signatures(
    model: Module,
    data: UnlearnData,
    layers: Sequence[int],
    max_rank: int,
    states: tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]] | None = None,
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """$U^{(\\ell)}$ and $\\mu^{(\\ell)}$ for each layer, from the model as it is now.

    ``states``: the layers' outputs on every forget and every retain row, when the caller
    has them already (``kif-runtime`` reads them again to calibrate its gate).
    """
    from unlearn_llm.methods.test_time_steering import question_mask

    tokens = subject_tokens(data.forget, data.retain)
    if not tokens:
        raise ValueError(
            "kif: every token of the forget questions also occurs in the retain rows, so no "
            "subject-specific signature can be found; accepted: forget subjects whose names "
            "(some of their tokens) the retain set does not share"
        )
    if states is not None:
        forget, retain = states
    else:
        was_training = model.training
        model.eval()
        try:
            forget = _no_grad_states(model, data.forget, layers)
            retain = _no_grad_states(model, data.retain, layers)
        finally:
            model.train(was_training)
    asked = question_mask(data.forget) & data.forget.attention_mask.bool()
    bases, baselines = {}, {}
    for layer in layers:
        baselines[layer] = retain_baseline(retain[layer], data.retain.attention_mask)
        signatures = token_signatures(
            forget[layer], data.forget.input_ids, asked, tokens, baselines[layer]
        )
        bases[layer] = signature_basis(signatures, max_rank)
    return bases, baselines


def signature_share(
    model: Module,
    batch: Batch,
    bases: dict[int, torch.Tensor],
    baselines: dict[int, torch.Tensor],
) -> dict[int, float]:
    """Mean presence $c_t$ over ``batch``'s positions after the start token, per layer:
    how much the model's own activations still carry the signature."""
    layers = sorted(bases)
    states = _no_grad_states(model, batch, layers)
    positions = batch.attention_mask.bool().clone()
    positions[:, 0] = False
    return {
        layer: float(presence(states[layer], bases[layer], baselines[layer])[positions].mean())
        for layer in layers
    }


def _attach_adapter(model: Module, config: KIFParams, top: int) -> tuple[Module, bool]:
    """``(model to train, whether kif added the adapter)``: a fresh seeded LoRA adapter
    on layers ``0..top``, or the model's own adapter when it is already wrapped."""
    import torch
    from peft import LoraConfig, get_peft_model

    if callable(getattr(model, "get_base_model", None)):
        return model, False
    torch.manual_seed(config.seed)  # the adapter's initial A matrices
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        target_modules=list(LORA_MODULES),
        layers_to_transform=list(range(top + 1)),
        layers_pattern="layers",
        lora_dropout=0.0,
    )
    return get_peft_model(model, lora), True


def kif(
    model: Module, data: UnlearnData, params: KIFParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Unlearn ``data.forget`` by signature suppression distilled into LoRA (in place)."""
    import torch

    start = time.perf_counter()
    config = typed(KIFParams, params)
    count = len(decoder_layers(model))
    layers = sorted(set(config.layers if config.layers is not None else [0]))
    wrong = [layer for layer in layers if layer >= count]
    if wrong:
        raise ValueError(
            f"kif: layer(s) {wrong} do not exist; the model has {count} decoder layers "
            f"(accepted 0..{count - 1})"
        )
    bases, baselines = find_signatures(model, data, layers, config.max_rank)
    frozen = frozen_copy(model)
    blocks = decoder_layers(frozen)
    suppression = Suppression(bases, baselines, config.presence_threshold, config.damping)
    handles = [blocks[layer].register_forward_hook(suppression.hook(layer)) for layer in layers]
    try:
        # the teacher never changes: its suppressed activations on every forget row, once
        targets = _no_grad_states(frozen, data.forget, layers)
    finally:
        for handle in handles:
            handle.remove()

    trainable_before = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    student, added = _attach_adapter(model, config, max(layers))
    chosen = [p for p in student.parameters() if p.requires_grad]
    if not chosen:
        raise ValueError(
            "kif: the LoRA-wrapped model has no trainable parameter; accepted: a plain model "
            "(kif adds its adapter) or one whose adapter is trainable"
        )
    generator = torch.Generator().manual_seed(config.seed)
    forget_rows = cycle_indices(len(data.forget), config.batch_size, generator)
    retain_batches = cycle(data.retain, config.batch_size, generator)
    hidden_size = int(bases[layers[0]].shape[0])

    def loss() -> StepLoss:
        index, forget = local_part(data.forget, next(forget_rows))
        retain = next(retain_batches)
        mask_f = forget.attention_mask.unsqueeze(-1).float()
        mask_r = retain.attention_mask.unsqueeze(-1).float()
        width = forget.input_ids.shape[1]
        own_f = hidden_states(student, forget, layers)
        own_r = hidden_states(student, retain, layers)
        with torch.no_grad():
            frozen_r = hidden_states(frozen, retain, layers)
        forget_loss = torch.stack(
            [
                (((own_f[layer] - targets[layer][index, :width]) ** 2) * mask_f).sum()
                for layer in layers
            ]
        ).sum() / (forget.position_count(mask_f) * hidden_size)
        retain_loss = torch.stack(
            [(((own_r[layer] - frozen_r[layer]) ** 2) * mask_r).sum() for layer in layers]
        ).sum() / (retain.position_count(mask_r) * hidden_size)
        return StepLoss(forget=forget_loss, retain=config.retain_weight * retain_loss)

    try:
        log = train_steps(
            student,
            loss,
            PlainStep(chosen, config.learning_rate),
            method="kif",
            steps=config.steps,
            eval_every=config.eval_every,
            on_step=on_step,
            start=start,
        )
        if added:
            # merged in place: ``model`` is again a plain model, now with W + BA
            student.merge_and_unload()  # type: ignore[operator]
    finally:
        for parameter, flag in trainable_before:
            parameter.requires_grad_(flag)
    model.eval()
    log.wall_time_s = time.perf_counter() - start
    return log
