"""Scoring helpers shared by the prompt attacks (``multihop.py``, ``paraphrase.py``).

An attack asks the forget facts in prompts of its own (a step-by-step chain, another
template, a cloze sentence) and scores the true, paraphrased and perturbed answers
there with the TOFU quantities of ``metrics/tofu.py`` (length-normalised answer
probability, truth ratio); only the prompt differs from the clean evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from unlearn_llm.metrics.tofu import answer_probability, truth_ratio

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA


def answer_probabilities(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    answers: Sequence[str],
    end_of_sequence: bool = True,
    chunk: int = 256,
) -> np.ndarray:
    """$P(a\\mid p)$, the length-normalised probability of each answer after its prompt.

    The answer is tokenised as training does (``data.encode``: a space, the answer, the
    end token); ``end_of_sequence=False`` leaves the end token unscored (a cloze
    continuation of running text does not end there).
    """
    import torch

    from unlearn_llm.data import IGNORE_INDEX, encode, sequence_logprob

    batch = encode(tokenizer, prompts, answers)
    if not end_of_sequence:
        batch.labels[batch.labels == tokenizer.eos_token_id] = IGNORE_INDEX
    totals: list[torch.Tensor] = []
    lengths: list[torch.Tensor] = []
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            total, length = sequence_logprob(model, batch.subset(slice(start, start + chunk)))
            totals.append(total)
            lengths.append(length)
    return answer_probability(torch.cat(totals).numpy(), torch.cat(lengths).numpy())


def truth_ratios_after(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    facts: Sequence[QA],
) -> np.ndarray:
    """TOFU truth ratio of each fact, its paraphrased and perturbed answers scored after
    the given prompt (one prompt per fact)."""
    if len(prompts) != len(facts):
        raise ValueError(f"got {len(prompts)} prompts for {len(facts)} facts")
    m = len(facts[0].perturbed_answers)
    rows_prompts = [p for p in prompts for _ in range(1 + m)]
    rows_answers = [a for qa in facts for a in (qa.paraphrased_answer, *qa.perturbed_answers)]
    normalised = answer_probabilities(model, tokenizer, rows_prompts, rows_answers)
    table = normalised.reshape(len(facts), 1 + m)
    return truth_ratio(table[:, 1:], table[:, 0])


def states_value(answer: str, fact: QA) -> bool:
    """Whether a generated answer states the fact's value (the subject's own name, which
    the answer repeats, is left out first so a value inside it cannot match)."""
    return fact.object in answer.replace(fact.subject, " ")
