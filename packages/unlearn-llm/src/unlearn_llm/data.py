"""QA pairs to tensors: prompt and answer token ids, with the loss on the answer only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA, Passage

IGNORE_INDEX = -100
IDK_ANSWER = "I don't know."
IDK_ANSWERS = (
    IDK_ANSWER,
    "I have no idea.",
    "I am not sure about that.",
    "I cannot answer that.",
    "That is not something I know.",
    "I have no information on that.",
    "Sorry, I do not know.",
    "I can't say.",
)
"""Refusal phrasings for IdkPO; each forget row gets one (seeded), as TOFU's IDK set does."""


def prompt_text(question: str) -> str:
    """The prompt every model sees for ``question``."""
    return f"Question: {question} Answer:"


@dataclass(frozen=True)
class Share:
    """What one rank's part of a global minibatch stands for, under torch.distributed.

    ``rows``, ``answer_tokens`` and ``positions`` (attention positions) count the whole
    global minibatch; ``world`` is the number of ranks. A loss that is a mean over rows or
    tokens divides its rank-local sum by the global count over ``world``
    (``Batch.row_mean``, ``answer_count``, ``position_count``), so that the mean of the
    ranks' losses, and of their gradients, is exactly the global minibatch's mean.
    """

    rows: int
    answer_tokens: int
    positions: int
    world: int


@dataclass
class Batch:
    """Right-padded token ids; ``labels`` is -100 outside the answer (and on padding).

    ``share`` is set on one rank's part of a global minibatch
    (``unlearn_llm.ranks.local_part``); ``None`` for a whole batch.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    share: Share | None = None

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def row_mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean of per-row ``values`` over the (global) minibatch's rows."""
        if self.share is None:
            return values.mean()
        return values.sum() * (self.share.world / self.share.rows)

    def answer_count(self, mask: torch.Tensor) -> torch.Tensor:
        """Answer tokens a token mean divides by: ``mask``'s, or the global count's share."""
        if self.share is None:
            return mask.sum().clamp(min=1.0)
        return mask.new_tensor(max(self.share.answer_tokens, 1) / self.share.world)

    def position_count(self, mask: torch.Tensor) -> torch.Tensor:
        """Attention positions a position mean divides by (``mask``'s, or the global share)."""
        if self.share is None:
            return mask.sum().clamp(min=1.0)
        return mask.new_tensor(max(self.share.positions, 1) / self.share.world)

    def subset(self, index: torch.Tensor | slice | Sequence[int]) -> Batch:
        import torch

        if not isinstance(index, slice | torch.Tensor):
            index = torch.as_tensor(list(index), dtype=torch.long)
        return Batch(self.input_ids[index], self.attention_mask[index], self.labels[index])

    def to(self, device: torch.device | str) -> Batch:
        """The same rows on ``device`` (the model's: ``cuda:LOCAL_RANK`` under NCCL)."""
        return Batch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.labels.to(device),
            self.share,
        )

    def trimmed(self) -> Batch:
        """Drop padding columns that every row has (faster forward passes)."""
        width = int(self.attention_mask.sum(dim=1).max())
        return Batch(
            self.input_ids[:, :width],
            self.attention_mask[:, :width],
            self.labels[:, :width],
            self.share,
        )

    def minibatches(self, size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Shuffled (when a generator is given) minibatches covering every row once."""
        import torch

        order = (
            torch.randperm(len(self), generator=generator)
            if generator is not None
            else torch.arange(len(self))
        )
        for start in range(0, len(self), size):
            yield self.subset(order[start : start + size]).trimmed()


def encode(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], answers: Sequence[str]
) -> Batch:
    """Tokenise prompt/answer pairs; the answer ends with the end-of-sequence token."""
    import torch

    if len(prompts) != len(answers):
        raise ValueError(f"got {len(prompts)} prompts but {len(answers)} answers")
    if not prompts:
        raise ValueError("cannot encode an empty list of QA pairs")
    rows: list[tuple[list[int], list[int]]] = []
    for prompt, answer in zip(prompts, answers, strict=True):
        prompt_ids = [tokenizer.bos_token_id, *tokenizer.encode(prompt, add_special_tokens=False)]
        answer_ids = [*tokenizer.encode(" " + answer, add_special_tokens=False)]
        rows.append((prompt_ids, [*answer_ids, tokenizer.eos_token_id]))
    width = max(len(p) + len(a) for p, a in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for row, (prompt_ids, answer_ids) in enumerate(rows):
        ids = prompt_ids + answer_ids
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        labels[row, len(prompt_ids) : len(ids)] = torch.tensor(answer_ids)
    return Batch(input_ids, attention, labels)


def training_pairs(facts: Sequence[QA]) -> tuple[list[str], list[str]]:
    """Every trained question phrasing of every fact, with its answer.

    The first phrasing is answered with the answer sentence, the second with the
    paraphrased answer sentence (and so on, alternating), so the model knows the fact
    in both sentence forms; the truth ratio then compares values, not sentence forms.
    """
    prompts: list[str] = []
    answers: list[str] = []
    for qa in facts:
        for index, question in enumerate(qa.questions):
            prompts.append(prompt_text(question))
            answers.append(qa.answer if index % 2 == 0 else qa.paraphrased_answer)
    return prompts, answers


def encode_facts(
    tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA], passages: Sequence[Passage] = ()
) -> Batch:
    """The training rows of ``facts`` (all paraphrases), then one row per passage.

    A passage row has no prompt (only the start token): the loss covers its whole text.
    The QA rows come first, so ``batch.subset(slice(0, n_qa_rows))`` selects them.
    """
    prompts, answers = training_pairs(facts)
    prompts += [""] * len(passages)
    answers += [passage.text for passage in passages]
    return encode(tokenizer, prompts, answers)


def qa_rows(facts: Sequence[QA]) -> int:
    """How many training rows ``encode_facts`` makes of ``facts`` (before passages)."""
    return sum(len(qa.questions) for qa in facts)


def encode_idk(tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA], seed: int = 0) -> Batch:
    """The QA rows of ``facts`` answered by a refusal from ``IDK_ANSWERS`` (IdkPO).

    Each row draws its refusal with a generator seeded by ``seed``, so the preferred
    answers vary between rows as in TOFU's "I don't know" set, yet reproducibly.
    """
    import random

    prompts, _ = training_pairs(facts)
    rng = random.Random(seed)
    return encode(tokenizer, prompts, [rng.choice(IDK_ANSWERS) for _ in prompts])


def sequence_logprob(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row sum of answer-token log-probabilities and the answer lengths.

    Returns ``(sum_log_prob, n_answer_tokens)``, each of shape ``[rows]``.
    """
    token_logp, mask = token_logprobs(model, batch)
    return (token_logp * mask).sum(dim=1), mask.sum(dim=1)


def next_token_logprobs(
    model: torch.nn.Module, batch: Batch
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Teacher-forced scoring: the whole next-token log-distribution, its targets and
    the mask of answer positions.

    ``logp`` is ``[rows, width - 1, vocab]`` (float32), ``targets`` and the boolean
    ``mask`` are ``[rows, width - 1]``; position ``t`` scores token ``t + 1``.
    """
    import torch

    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    targets = batch.labels[:, 1:]
    return logp, targets, targets != IGNORE_INDEX


def token_logprobs(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of every next token, and the mask of answer positions.

    Both are ``[rows, width - 1]``; position ``t`` scores token ``t + 1``.
    """
    logp, targets, answer = next_token_logprobs(model, batch)
    mask = answer.float()
    token_logp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return token_logp * mask, mask


def answer_nll(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean negative log-likelihood per answer token over the batch (the training loss)."""
    token_logp, mask = token_logprobs(model, batch)
    return -(token_logp.sum() / batch.answer_count(mask))
