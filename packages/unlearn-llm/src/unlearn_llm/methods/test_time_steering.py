"""Test-time unlearning by activation steering, gated by the input (text-only MLLMEraser).

Paper: Ding, Wu, Sheng, Zhang, Yuan, Wang, He, "MLLMEraser: Achieving Test-Time
Unlearning in Multimodal Large Language Models through Activation Steering"
(arXiv:2510.04217). Only the text part is built here (our world has no images, so the
adversarially perturbed images of the paper's recall inputs have no counterpart).

No parameter changes: the method installs forward hooks on decoder layers and returns.
``remove_steering(model)`` takes them off again, after which the model computes exactly
what it computed before (reversible by construction).

*Erasure direction.* With $h^{(\\ell)}_t(x)$ the output of decoder layer $\\ell$ at
position $t$, $\\mathcal{R}$ the knowledge-recall rows (a forget question answered with
its answer) and $\\mathcal{E}$ the knowledge-erasure rows (the same question answered
with an "I don't know"-style refusal, ``UnlearnData.forget_idk``), the direction is the
difference of mean activations over the positions that predict answer tokens:

$$
r^{(\\ell)} = \\frac{1}{|\\mathcal{E}|}\\sum_{(x,t)\\in\\mathcal{E}} h^{(\\ell)}_t(x)
    - \\frac{1}{|\\mathcal{R}|}\\sum_{(x,t)\\in\\mathcal{R}} h^{(\\ell)}_t(x)
$$

*Steering.* At every steered layer, $h^{(\\ell)}_t \\leftarrow h^{(\\ell)}_t + \\alpha\\,
g_t(x)\\, r^{(\\ell)}$, with strength $\\alpha$ (``strength``) and the gate $g_t \\in \\{0, 1\\}$.

*Input-aware gate* (the paper decides from the input when to steer; ours checks the
input's activations against the forget set's signature). At the gate layer $\\ell_g$, the
signature is the Fisher discriminant of the question tokens of forget rows against the
tokens of retain rows: with $\\mu_f, \\mu_r$ their mean activations and $\\Sigma$ the pooled
within-class covariance (ridge $\\lambda$ times its mean eigenvalue added),

$$
w = (\\Sigma + \\lambda I)^{-1} (\\mu_f - \\mu_r), \\qquad
z_t(x) = w^\\top \\big(h^{(\\ell_g)}_t(x) - \\tfrac{1}{2}(\\mu_f + \\mu_r)\\big), \\qquad
g_t(x) = \\mathbb{1}\\big[\\max_{t' \\le t} z_{t'}(x) > \\tau\\big]
$$

so a position is steered once a token at or before it looked like the forget set (a forget
subject's name; the question template is shared by both sets and scores low). It is
causal, so teacher-forced scoring and greedy generation agree. The threshold $\\tau$
(``threshold``; ``None``: chosen on data) maximises TPR - FPR over the training rows, a
forget row counting as fired when the gate is open at its last question token, a retain
row when it opens anywhere in it; it sits halfway between the two scores it separates.
The discriminant's negatives are every token of the retain rows (questions, answers,
passages), since steering a retain answer anywhere costs utility. ``gate="always"``
steers every position (the ungated ablation).

Where this departs from the paper: MLLMEraser makes the steering input-aware through a
map of the input's activation, projected onto the null space of retained-knowledge
activations so that those are left alone. Here an explicit on/off gate plays that
role. It is simpler to audit (its firing rate per split is reported) and keeps the
paper's mean-difference direction.

What this is not: the knowledge stays in the weights. An attack that reads activations
before the steered layer, or fine-tunes the model around the fixed offset, sees it.
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


class TestTimeSteeringParams(MethodParams):
    """Steered layers, strength $\\alpha$, the gate's layer and threshold $\\tau$."""

    __test__ = False  # not a pytest test class despite its name

    layers: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Decoder layers whose output is steered; None: the last layer.",
    )
    strength: float = Field(default=8.0, gt=0.0, le=1e3, description="Steering strength alpha.")
    gate: Literal["signature", "always"] = Field(
        default="signature",
        description="'signature': steer inputs similar to the forget set; 'always': every input.",
    )
    gate_layer: int = Field(
        default=0, ge=0, le=200, description="Decoder layer whose output the gate reads."
    )
    threshold: float | None = Field(
        default=None,
        ge=-1e6,
        le=1e6,
        description="Gate threshold tau on z; None: chosen on the forget/retain rows.",
    )
    ridge: float = Field(
        default=1e-2, gt=0.0, le=1e3, description="Ridge lambda of the gate's discriminant."
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="Rows per forward pass.")


@dataclass
class GateFit:
    """How the gate's threshold was chosen: in-sample firing rates on the rows it saw
    (a forget row fires at its last question token, a retain row anywhere in it)."""

    threshold: float
    forget_rows: int
    retain_rows: int
    forget_firing_rate: float
    retain_firing_rate: float


class Steering:
    """The installed hooks' state: directions $r^{(\\ell)}$, the gate's $w$, $b$ and $\\tau$.

    Its bound methods are the forward hooks, so ``copy.deepcopy(model)`` copies it with
    the model (a copied model is steered by its own copy). ``fired`` holds the last
    forward pass's gate per row and position (``[rows, width, 1]``, 1.0 where it
    fired). ``gate_layer`` ``None`` steers every position.
    """

    def __init__(
        self,
        directions: dict[int, torch.Tensor],
        strength: float,
        gate_layer: int | None,
        gate_weight: torch.Tensor | None = None,
        gate_bias: float = 0.0,
        threshold: float = 0.0,
    ) -> None:
        self.directions = directions
        self.strength = strength
        self.offsets = {layer: strength * direction for layer, direction in directions.items()}
        self.gate_layer = gate_layer
        self.gate_weight = gate_weight
        self.gate_bias = gate_bias
        self.threshold = threshold
        self.fit: GateFit | None = None
        self.fired: torch.Tensor | None = None
        self.attention_mask: torch.Tensor | None = None

    def remember_mask(self, _module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Pre-hook on the whole model: keep the attention mask of this forward pass."""
        mask = kwargs.get("attention_mask")
        if mask is None and len(args) > 1:
            mask = args[1]
        self.attention_mask = mask

    def gate_scores(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """$\\max_{t' \\le t} z_{t'}$ for every row and position of ``hidden``
        (``[rows, width, hidden]``; ``mask`` the attention mask: padding never fires)."""
        if self.gate_weight is None:
            raise ValueError("this steering has no gate (gate='always')")
        scores = hidden @ self.gate_weight + self.gate_bias
        scores = scores.masked_fill(mask == 0, float("-inf"))
        return scores.cummax(dim=1).values

    def gate_hook(self, _module: Module, _inputs: object, output: Any) -> None:
        """Forward hook on the gate layer: decide, per row and position, where to steer.

        Every op here and in ``steer_hook`` runs on every forward pass, so they are kept
        few (the latency target is 10 %): one mat-vec, the mask, a running max, a compare.
        """
        hidden = (output[0] if isinstance(output, tuple) else output).detach()
        mask = self.attention_mask
        if mask is None or mask.shape != hidden.shape[:2]:
            mask = hidden.new_ones(hidden.shape[:2])
        scores = self.gate_scores(hidden, mask)
        self.fired = (scores > self.threshold).unsqueeze(-1).to(hidden.dtype)

    def steer_hook(self, module: Module, _inputs: object, output: Any) -> Any:
        """Forward hook on a steered layer: add $\\alpha g_t r^{(\\ell)}$ to its output."""
        import torch

        hidden = output[0] if isinstance(output, tuple) else output
        offset = self.offsets[module.steered_layer_index]  # type: ignore[index]
        if self.gate_layer is None:
            steered = hidden + offset
        else:
            fired = self.fired
            if fired is None or fired.shape[:2] != hidden.shape[:2]:
                raise RuntimeError("the gate did not run before a steered layer")
            steered = torch.addcmul(hidden, fired, offset)
        if isinstance(output, tuple):
            return (steered, *output[1:])
        return steered


def _inner(model: Module) -> Any:
    unwrap = getattr(model, "get_base_model", None)
    return unwrap() if callable(unwrap) else model


def layer_outputs(
    model: Module, batch: Batch, layers: Sequence[int], chunk: int = 64
) -> dict[int, torch.Tensor]:
    """What each decoder layer of ``layers`` returns on every row of ``batch`` (no grad)."""
    import torch

    blocks = decoder_layers(model)
    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}

    def keeper(layer: int) -> Any:
        def keep(_module: Module, _inputs: object, output: Any) -> None:
            parts[layer].append((output[0] if isinstance(output, tuple) else output).detach())

        return keep

    handles = [blocks[layer].register_forward_hook(keeper(layer)) for layer in layers]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(batch), chunk):
                rows = batch.subset(slice(start, start + chunk))
                model(input_ids=rows.input_ids, attention_mask=rows.attention_mask)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {layer: torch.cat(parts[layer]) for layer in layers}


def answer_positions(batch: Batch) -> torch.Tensor:
    """``[rows, width]`` bool: the positions whose next token is an answer token."""
    import torch

    from unlearn_llm.data import IGNORE_INDEX

    predicts = torch.zeros_like(batch.labels, dtype=torch.bool)
    predicts[:, :-1] = batch.labels[:, 1:] != IGNORE_INDEX
    return predicts


def prompt_lengths(batch: Batch) -> torch.Tensor:
    """Tokens before each row's answer (the start token and the question)."""
    from unlearn_llm.data import IGNORE_INDEX

    return (batch.labels == IGNORE_INDEX).long().cumprod(dim=1).sum(dim=1)


def erasure_direction(
    recall: torch.Tensor,
    recall_mask: torch.Tensor,
    erasure: torch.Tensor,
    erasure_mask: torch.Tensor,
) -> torch.Tensor:
    """$r = \\mathrm{mean}_{\\mathcal{E}} h - \\mathrm{mean}_{\\mathcal{R}} h$ over the masked
    positions (``[rows, width, hidden]`` activations, ``[rows, width]`` bool masks)."""
    return erasure[erasure_mask].mean(dim=0) - recall[recall_mask].mean(dim=0)


def question_mask(batch: Batch) -> torch.Tensor:
    """``[rows, width]`` bool: each row's prompt tokens after the start token."""
    import torch

    positions = torch.arange(batch.input_ids.shape[1], device=batch.input_ids.device).unsqueeze(0)
    return (positions >= 1) & (positions < prompt_lengths(batch).unsqueeze(1))


def gate_signature(
    forget: torch.Tensor, retain: torch.Tensor, ridge: float
) -> tuple[torch.Tensor, float]:
    """$w = (\\Sigma + \\lambda \\bar\\sigma^2 I)^{-1}(\\mu_f - \\mu_r)$ and the bias
    $b = -w^\\top(\\mu_f + \\mu_r)/2$ from ``[tokens, hidden]`` activations of each set
    ($\\bar\\sigma^2$ the mean eigenvalue of the pooled covariance $\\Sigma$)."""
    import torch

    mean_f, mean_r = forget.double().mean(dim=0), retain.double().mean(dim=0)
    centred = torch.cat([forget.double() - mean_f, retain.double() - mean_r])
    covariance = centred.T @ centred / max(len(centred) - 2, 1)
    scale = float(covariance.diagonal().mean())
    eye = torch.eye(len(covariance), dtype=covariance.dtype, device=covariance.device)
    weight = torch.linalg.solve(covariance + ridge * scale * eye, mean_f - mean_r)
    bias = -float(weight @ (mean_f + mean_r)) / 2
    return weight.to(forget.dtype), bias


def best_threshold(forget: torch.Tensor, retain: torch.Tensor) -> float:
    """The $\\tau$ that maximises TPR - FPR of ``score > tau`` (forget positive), halfway
    between the two neighbouring scores it falls between; ties: the widest such gap."""
    import torch

    scores = torch.cat([forget, retain]).double()
    ordered = torch.unique(scores)  # sorted
    candidates = torch.cat(
        [ordered[:1] - 1e-3, (ordered[1:] + ordered[:-1]) / 2, ordered[-1:] + 1e-3]
    )
    tpr = (forget.double().unsqueeze(0) > candidates.unsqueeze(1)).double().mean(dim=1)
    fpr = (retain.double().unsqueeze(0) > candidates.unsqueeze(1)).double().mean(dim=1)
    gain = tpr - fpr
    best = gain.max()
    gaps = torch.cat([ordered[:1] - ordered[:1], ordered[1:] - ordered[:-1], ordered[:1] * 0])
    gaps = torch.where(gain == best, gaps, torch.full_like(gaps, -1.0))
    return float(candidates[int(gaps.argmax())])


def install_steering(model: Module, steering: Steering, layers: Sequence[int]) -> None:
    """Hook ``steering`` into ``model`` (gate layer first, then the steered layers)."""
    blocks = decoder_layers(model)
    if installed_steering(model) is not None:
        raise ValueError(
            "this model is already steered; call remove_steering(model) before steering again"
        )
    _inner(model).register_forward_pre_hook(steering.remember_mask, with_kwargs=True)
    if steering.gate_layer is not None:
        blocks[steering.gate_layer].register_forward_hook(steering.gate_hook)
    for layer in layers:
        blocks[layer].steered_layer_index = layer
        blocks[layer].register_forward_hook(steering.steer_hook)


def installed_steering(model: Module) -> Steering | None:
    """The ``Steering`` hooked into ``model`` (also in a deep copy of it), or ``None``."""
    found = owned_hooks(model, Steering)
    return found[0][2] if found else None


def remove_steering(model: Module) -> bool:
    """Remove every steering hook from ``model``; ``True`` if there were any.

    Afterwards the model computes what it did before ``test_time_steering`` (no
    parameter was touched). Works on a deep copy of a steered model as well: hooks are
    found by their owner, not by handles that would point to the original.
    """
    return remove_owned_hooks(model, Steering, "steered_layer_index")


def gate_firing_rate(
    model: Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    question: int | Literal["heldout"] = 0,
) -> float:
    """Share of ``facts`` whose prompt fires the installed gate at its last token, the one
    that predicts the answer's first token (1.0 for ``gate='always'``).

    ``question`` picks the phrasing: an index into ``qa.questions`` (the trained ones) or
    ``"heldout"`` (the phrasing no model trained on).
    """
    import torch

    steering = installed_steering(model)
    if steering is None:
        raise ValueError("the model is not steered: run test_time_steering on it first")
    if steering.gate_layer is None:
        return 1.0
    if not facts:
        raise ValueError("gate_firing_rate needs at least one fact")
    batch = question_batch(tokenizer, facts, question)
    last = prompt_lengths(batch) - 1
    with torch.no_grad():
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    assert steering.fired is not None
    return float(steering.fired[torch.arange(len(batch)), last, 0].mean())


def gate_firing_rates(
    model: Module,
    tokenizer: PreTrainedTokenizerBase,
    splits: Mapping[str, Sequence[QA]],
) -> dict[str, float]:
    """``gate_firing_rate`` per split (trained phrasing), plus ``<split>_heldout_phrasing``
    for each; empty when ``model`` is not steered (any other method's model)."""
    if installed_steering(model) is None:
        return {}
    rates: dict[str, float] = {}
    for name, facts in splits.items():
        rates[name] = gate_firing_rate(model, tokenizer, facts)
        rates[f"{name}_heldout_phrasing"] = gate_firing_rate(model, tokenizer, facts, "heldout")
    return rates


def test_time_steering(
    model: Module,
    data: UnlearnData,
    params: TestTimeSteeringParams | None = None,
    *,
    on_step: OnStep = None,
) -> UnlearnLog:
    """Hook an erasure direction, gated by the forget signature, into ``model``.

    Changes no parameter; ``remove_steering(model)`` undoes it. ``on_step`` is never
    called (there are no steps).
    """
    del on_step
    start = time.perf_counter()
    config = typed(TestTimeSteeringParams, params)
    count = len(decoder_layers(model))
    layers = sorted(set(config.layers if config.layers is not None else [count - 1]))
    wrong = [layer for layer in [*layers, config.gate_layer] if layer >= count]
    if wrong:
        raise ValueError(
            f"test-time-steering: layer(s) {wrong} do not exist; the model has {count} "
            f"decoder layers (accepted 0..{count - 1})"
        )
    gated = config.gate == "signature"
    if gated and config.gate_layer > layers[0]:
        raise ValueError(
            f"test-time-steering: gate_layer={config.gate_layer} comes after the first steered "
            f"layer {layers[0]}; the gate must read unsteered activations (accepted: "
            f"gate_layer <= {layers[0]})"
        )
    if data.forget_idk is None:
        raise ValueError(
            "test-time-steering needs data.forget_idk (the forget questions answered with a "
            "refusal); make_unlearn_data builds it"
        )
    recall_rows = data.forget.subset(slice(0, len(data.forget_idk)))
    read = sorted(set(layers) | ({config.gate_layer} if gated else set()))
    recall = layer_outputs(model, recall_rows, read, config.batch_size)
    erasure = layer_outputs(model, data.forget_idk, layers, config.batch_size)
    directions = {
        layer: erasure_direction(
            recall[layer],
            answer_positions(recall_rows),
            erasure[layer],
            answer_positions(data.forget_idk),
        )
        for layer in layers
    }
    if not gated:
        steering = Steering(directions, config.strength, gate_layer=None)
    else:
        retain = data.retain
        retain_hidden = layer_outputs(model, retain, [config.gate_layer], config.batch_size)
        retain_tokens = retain.attention_mask.bool()
        retain_tokens[:, 0] = False  # the start token is the same in every row
        forget_hidden = recall[config.gate_layer]
        # Negatives are every token of the retain rows (answers and passages too): the
        # gate must stay shut on all of them, not only on their questions.
        weight, bias = gate_signature(
            forget_hidden[question_mask(recall_rows)],
            retain_hidden[config.gate_layer][retain_tokens],
            config.ridge,
        )
        steering = Steering(directions, config.strength, config.gate_layer, weight, bias)
        forget_scores = _row_scores(steering, forget_hidden, recall_rows)
        # a retain row counts as fired if the gate opens anywhere in it
        retain_scores = steering.gate_scores(
            retain_hidden[config.gate_layer], retain.attention_mask
        )[:, -1]
        threshold = config.threshold
        if threshold is None:
            threshold = best_threshold(forget_scores, retain_scores)
        steering.threshold = threshold
        steering.fit = GateFit(
            threshold=threshold,
            forget_rows=len(forget_scores),
            retain_rows=len(retain_scores),
            forget_firing_rate=float((forget_scores > threshold).float().mean()),
            retain_firing_rate=float((retain_scores > threshold).float().mean()),
        )
    install_steering(model, steering, layers)
    model.eval()
    return UnlearnLog(method="test-time-steering", wall_time_s=time.perf_counter() - start)


def _row_scores(steering: Steering, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Each row's gate score at its last prompt token (the one predicting the answer)."""
    import torch

    scores = steering.gate_scores(hidden, batch.attention_mask)
    return scores[torch.arange(len(batch), device=scores.device), prompt_lengths(batch) - 1]
