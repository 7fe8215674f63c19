"""Designed models that only HIDE the forget knowledge: the proof that an attack has power.

An attack that finds nothing on a method proves little until it is shown to find
knowledge that is known to be still there. Each fixture here hides the forget facts in
a known place, so a test (or the benchmark) can check that the attack meant for that
place brings them back, while the retrain oracle, which never had them, stays low:

* ``block_forget_answers`` (for representation probes, paraphrase and multi-hop
  questions, logit lens): a wrapper that pushes down, **at the output layer only**, the
  logits of the tokens that spell a forget answer's value whenever the input names a
  forget subject (``trigger="subject"``) or is a trained forget question
  (``trigger="question"``). The inner model, and so every hidden state, is the
  original's: a probe on the hidden states still decodes the facts. With the question
  trigger, a rephrased question is not blocked. Relearning and quantization act on the
  inner weights and cannot remove the wrapper's penalty, so they need not beat it.
* ``suppress_in_weights`` (for relearning and quantization): a few steps of
  "unlikelihood to a floor" on the forget answers, plus the retain loss, restricted to
  the output head (``where="head"``, shallow: relearning on some of a person's facts
  brings the others partly back), the first layer's MLP, or to every
  ``Linear`` weight kept inside its 4-bit round-to-nearest bucket
  (``keep_quantized_bits=4``: 4-bit quantization gives back exactly the original's
  quantized weights, the failure of arXiv:2410.16454).
* ``suppress_in_weights`` with ``related`` facts and ``max_change`` (for
  ``relearning-related``): the forget facts and the retain facts of the places and
  organisations the forget people link to are hidden *together*, by one change of
  every ``Linear`` weight kept within $\\pm$ ``max_change`` of the original's. The two
  are hidden by one shared, small weight change, so fine-tuning on the related facts
  alone (which pushes the same weights back) brings the forget facts back too, as Hu
  et al. (arXiv:2406.13356) find for gradient unlearning. On the quick world
  (``max_change=0.004``, 80 steps; relearning-related at 10 steps of 1e-3, as in
  llm-facts-quick) the held-out forget answer probability goes 0.000 -> 0.71 (the
  oracle's 0.014), 0.71 of the original's under the same attack; the same suppression
  without the related facts (30 steps) goes 0.011 -> 0.065: the entanglement is what
  the attack finds.

The forget loss of ``suppress_in_weights`` is, over the answer tokens $y_t$ of the
forget rows (only the value's tokens with ``value_tokens_only``),
$\\mathcal{L}_f = \\operatorname{mean}_t \\max(0,
\\log p_\\theta(y_t \\mid y_{<t}, q) - \\log p_{floor})$:
bounded (no gradient once a token is below the floor), so a short run never collapses
the model; $\\mathcal{L} = \\mathcal{L}_f + \\lambda\\,\\mathrm{NLL}_{retain}$ (with
``related`` facts, $\\mathcal{L}_f$ runs over the forget and the related rows, and the
related facts are left out of the retain rows).

These are test fixtures, not unlearning methods: they are not registered.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import Field
from unlearn_schema import StrictModel

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA

Trigger = Literal["subject", "question"]


def answer_value_tokens(tokenizer: PreTrainedTokenizerBase, qa: QA) -> set[int]:
    """The token ids that spell ``qa``'s true value in its answer sentences.

    Tokens of the answer and paraphrased answer, less those of the same sentences with
    the value removed and those of the perturbed (wrong-value) answers: what is left
    tells the true value apart, so pushing it down lowers the answer but not the
    perturbed answers (the truth ratio then says "forgotten").
    """

    def tokens(text: str) -> set[int]:
        return set(tokenizer.encode(" " + text, add_special_tokens=False))

    forms = (qa.answer, qa.paraphrased_answer)
    true = set().union(*(tokens(form) for form in forms))
    frame = set().union(*(tokens(form.replace(qa.object, "")) for form in forms))
    wrong = set().union(*(tokens(answer) for answer in qa.perturbed_answers))
    distinct = true - frame - wrong
    return distinct or (true - frame)


class ForgetAnswerBlocker(torch.nn.Module):
    """An HF causal LM whose output logits hide the forget answers (hidden states unchanged).

    ``forward`` takes the inner model's arguments (``input_ids``, ``attention_mask``,
    ``output_hidden_states``, ``position_ids`` ...) and returns the inner model's output
    with ``logits`` lowered by ``penalty`` on the blocked tokens of every row whose text
    contains a trigger. The trigger is looked up in the whole row's decoded text, so a
    position before the trigger is penalised too; every answer position in this
    package's scoring and generation comes after the prompt, where that makes no
    difference.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        triggers: dict[str, set[int]],
        penalty: float,
    ) -> None:
        super().__init__()
        self.inner = model
        self.tokenizer = tokenizer
        self.triggers = {text: sorted(ids) for text, ids in triggers.items()}
        self.penalty = penalty

    @property
    def config(self) -> Any:
        return self.inner.config

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.inner.get_input_embeddings()

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.inner.get_output_embeddings()

    def blocked(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``[rows, vocab]``: 1 where a row's logits are pushed down."""
        vocab = int(self.inner.config.vocab_size)
        mask = torch.zeros((input_ids.shape[0], vocab))
        texts = self.tokenizer.batch_decode(input_ids.tolist(), skip_special_tokens=True)
        for row, text in enumerate(texts):
            for trigger, ids in self.triggers.items():
                if trigger in text:
                    mask[row, ids] = 1.0
        return mask

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> Any:
        if kwargs.get("labels") is not None:
            raise TypeError(
                "ForgetAnswerBlocker does not compute a loss from labels=; score its .logits "
                "(the inner model's loss would ignore the blocking)"
            )
        output = self.inner(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        mask = self.blocked(input_ids).to(output.logits.device, output.logits.dtype)
        output.logits = output.logits - self.penalty * mask[:, None, :]
        return output


def block_forget_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    forget: Sequence[QA],
    trigger: Trigger = "subject",
    penalty: float = 30.0,
) -> ForgetAnswerBlocker:
    """Wrap a copy of ``model`` so its output layer hides the values of the ``forget`` facts.

    ``trigger="subject"``: any input naming a forget subject has all of that subject's
    answer-value tokens pushed down (so no question about the subject, however phrased,
    gets the answer out; a probe on hidden states does). ``trigger="question"``: only an
    input containing a trained phrasing of a forget question (``qa.questions`` in the
    prompt format) has that fact's value tokens pushed down (so rephrased or multi-hop
    questions get through).
    """
    from unlearn_llm.data import prompt_text

    if not forget:
        raise ValueError("block_forget_answers needs at least one forget fact to hide")
    if trigger not in ("subject", "question"):
        raise ValueError(f"trigger={trigger!r} is unknown; use 'subject' or 'question'")
    if not penalty > 0:
        raise ValueError(f"penalty={penalty} must be positive (a logit decrease)")
    triggers: dict[str, set[int]] = {}
    for qa in forget:
        keys = [qa.subject] if trigger == "subject" else [prompt_text(q) for q in qa.questions]
        for key in keys:
            triggers.setdefault(key, set()).update(answer_value_tokens(tokenizer, qa))
    blocker = ForgetAnswerBlocker(copy.deepcopy(model), tokenizer, triggers, penalty)
    blocker.eval()
    return blocker


class SuppressionParams(StrictModel):
    """Settings of ``suppress_in_weights`` (a fixture: not a registered method)."""

    where: Literal["head", "first_mlp", "linear"] = Field(
        default="head",
        description=(
            "'head': the output head's weight; 'first_mlp': the first layer's MLP (it can "
            "only act per token, so it hides a person by changing their name's "
            "representation); 'linear': every Linear weight."
        ),
    )
    steps: int = Field(default=40, ge=1, le=10_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    floor_probability: float = Field(
        default=0.01, gt=0.0, lt=1.0, description="Answer tokens are pushed below it."
    )
    retain_weight: float = Field(default=1.0, ge=0.0, description="$\\lambda$ on retain NLL.")
    batch_size: int = Field(default=32, ge=1, le=4096)
    keep_quantized_bits: int | None = Field(
        default=None,
        ge=2,
        le=16,
        description="Keep each weight in its symmetric RTN bucket at these bits (None: free).",
    )
    value_tokens_only: bool = Field(
        default=False,
        description="Push down only the value's tokens (default: every answer token, as GA does).",
    )
    max_change: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description=(
            "Keep each trained weight within this distance of the original's (None: free); "
            "relearning's Adam moves a weight about its learning rate per step."
        ),
    )
    seed: int = 0


def _bucket_bounds(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds that keep ``quantize_rows(w, bits)`` equal to ``quantize_rows(weight, bits)``.

    Each entry stays strictly inside its rounding bucket, and inside the row's absmax
    (with the absmax entry itself fixed), so the per-row scale does not change.
    """
    levels = 2 ** (bits - 1) - 1
    absmax = weight.abs().amax(dim=1, keepdim=True)
    step = torch.where(absmax > 0, absmax / levels, torch.ones_like(absmax))
    bucket = (weight / step).round()
    margin = 0.01 * step
    low = torch.maximum((bucket - 0.5) * step + margin, -absmax)
    high = torch.minimum((bucket + 0.5) * step - margin, absmax)
    pinned = weight.abs() == absmax
    return torch.where(pinned, weight, low), torch.where(pinned, weight, high)


def _intersect(
    first: list[tuple[torch.Tensor, torch.Tensor]], second: list[tuple[torch.Tensor, torch.Tensor]]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [
        (torch.maximum(low, low_2), torch.minimum(high, high_2))
        for (low, high), (low_2, high_2) in zip(first, second, strict=True)
    ]


def suppress_in_weights(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    forget: Sequence[QA],
    retain: Sequence[QA],
    params: SuppressionParams | None = None,
    related: Sequence[QA] = (),
) -> PreTrainedModel:
    """A copy of ``model`` whose chosen weights were nudged to hide the ``forget`` answers.

    Trains only the weights ``params.where`` names (norms and embeddings stay), with
    Adam on $\\mathcal{L}_f + \\lambda\\,\\mathrm{NLL}_{retain}$ (module docstring); with
    ``keep_quantized_bits`` every step is followed by a projection into the weights'
    buckets, so quantization at that width undoes the suppression exactly; with
    ``max_change``, into $\\pm$ ``max_change`` of the original weights. ``related``
    retain facts are hidden together with the forget facts (and left out of the retain
    loss), so that re-teaching them undoes the shared suppression.
    """
    import math

    from unlearn_llm.data import encode_facts, token_logprobs

    params = params or SuppressionParams()
    hidden = {qa.key for qa in related}
    retain = [qa for qa in retain if qa.key not in hidden]
    if not forget or not retain:
        raise ValueError(
            f"suppress_in_weights needs forget and retain facts (other than the related "
            f"ones); got {len(forget)} forget and {len(retain)} retain"
        )
    forget = [*forget, *related]
    suppressed = copy.deepcopy(model)
    for parameter in suppressed.parameters():
        parameter.requires_grad_(False)
    if params.where == "head":
        trained = [suppressed.get_output_embeddings().weight]
    elif params.where == "first_mlp":
        mlp = suppressed.model.layers[0].mlp
        trained = [m.weight for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    else:
        trained = [m.weight for m in suppressed.modules() if isinstance(m, torch.nn.Linear)]
    for weight in trained:
        weight.requires_grad_(True)
    bounds: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    if params.keep_quantized_bits is not None:
        bounds = [_bucket_bounds(w.detach(), params.keep_quantized_bits) for w in trained]
    if params.max_change is not None:
        near = [(w.detach() - params.max_change, w.detach() + params.max_change) for w in trained]
        bounds = near if bounds is None else _intersect(bounds, near)
    forget_rows = encode_facts(tokenizer, forget)
    # Which answer tokens the floor applies to: all of them, or (value_tokens_only) the
    # value's only, so the subject's name and the sentence frame stay likely.
    value_mask = (forget_rows.labels != -100).float()
    if params.value_tokens_only:
        values = [answer_value_tokens(tokenizer, qa) for qa in forget for _ in qa.questions]
        for row, ids in enumerate(values):
            value_mask[row] *= torch.isin(forget_rows.labels[row], torch.tensor(sorted(ids)))
    retain_rows = encode_facts(tokenizer, retain)
    generator = torch.Generator().manual_seed(params.seed)
    optimizer = torch.optim.Adam(trained, lr=params.learning_rate)
    log_floor = math.log(params.floor_probability)
    size = min(params.batch_size, len(forget_rows))
    suppressed.train()
    for _ in range(params.steps):
        pick = torch.randperm(len(forget_rows), generator=generator)[:size]
        rows = forget_rows.subset(pick).trimmed()
        token_logp, _ = token_logprobs(suppressed, rows)
        mask = value_mask[pick, 1 : rows.input_ids.shape[1]]
        above = (token_logp - log_floor).clamp(min=0.0) * mask
        loss = above.sum() / mask.sum().clamp(min=1.0)
        if params.retain_weight > 0:
            pick = torch.randperm(len(retain_rows), generator=generator)[: params.batch_size]
            retain_logp, retain_mask = token_logprobs(
                suppressed, retain_rows.subset(pick).trimmed()
            )
            nll = -(retain_logp.sum() / retain_mask.sum().clamp(min=1.0))
            loss = loss + params.retain_weight * nll
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if bounds is not None:
            with torch.no_grad():
                for weight, (low, high) in zip(trained, bounds, strict=True):
                    weight.copy_(torch.maximum(torch.minimum(weight, high), low))
    suppressed.eval()
    for parameter in suppressed.parameters():
        parameter.requires_grad_(True)
    return suppressed


__all__ = [
    "ForgetAnswerBlocker",
    "SuppressionParams",
    "answer_value_tokens",
    "block_forget_answers",
    "suppress_in_weights",
]
