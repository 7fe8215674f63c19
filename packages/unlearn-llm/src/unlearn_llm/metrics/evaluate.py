"""Score one model on a world: every per-fact number the metrics are built from.

Imports flow one way: this module uses ``tofu``, ``muse``, ``memorisation``,
``generation`` and the membership attacks; none of them imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from unlearn_llm.attacks.membership import (
    TokenStatistics,
    membership_scores,
    mia_auc,
    muse_auc,
    token_statistics,
)
from unlearn_llm.metrics.generation import greedy_answers, greedy_continuations
from unlearn_llm.metrics.memorisation import exact_memorisation, extraction_strength
from unlearn_llm.metrics.muse import rouge_l_f1, verbatim_memorisation
from unlearn_llm.metrics.tofu import (
    answer_probability,
    model_utility,
    option_probability,
    rouge_l_recall,
    truth_ratio,
    truth_ratio_score,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA, Passage


@dataclass
class FactScores:
    """Per-fact arrays for one split (question = the first trained phrasing).

    ``option_probability`` is TOFU's probability normalised over the options (the
    paraphrased answer against the perturbed ones), used on the general set.
    """

    answer_probability: np.ndarray
    truth_ratio: np.ndarray
    option_probability: np.ndarray
    exact_match: np.ndarray
    exact_memorisation: np.ndarray
    extraction_strength: np.ndarray
    rouge_l_recall: np.ndarray | None = None
    knowledge_f1: np.ndarray | None = None


def score_facts(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    generate: bool = True,
) -> FactScores:
    """Probabilities, truth ratios, memorisation (and, with ``generate``, ROUGE) per fact."""
    import torch

    from unlearn_llm.data import encode, next_token_logprobs, prompt_text

    if not facts:
        raise ValueError("cannot score an empty list of facts")
    m = len(facts[0].perturbed_answers)
    prompts: list[str] = []
    answers: list[str] = []
    for qa in facts:
        prompt = prompt_text(qa.questions[0])
        prompts += [prompt] * (2 + m)
        answers += [qa.answer, qa.paraphrased_answer, *qa.perturbed_answers]
    batch = encode(tokenizer, prompts, answers)
    log_probs: list[torch.Tensor] = []
    lengths: list[torch.Tensor] = []
    matches: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(batch), 256):
            part = batch.subset(slice(start, start + 256)).trimmed()
            logp, targets, answer_mask = next_token_logprobs(model, part)
            token_logp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            log_probs.append((token_logp * answer_mask).sum(dim=1))
            lengths.append(answer_mask.sum(dim=1))
            hits = logp.argmax(dim=-1) == targets
            for row in range(len(part)):
                matches.append(hits[row][answer_mask[row]].numpy())
    total = torch.cat(log_probs).numpy().reshape(len(facts), 2 + m)
    count = torch.cat(lengths).numpy().reshape(len(facts), 2 + m)
    normalised = answer_probability(total, count)
    answer_matches = [matches[i * (2 + m)] for i in range(len(facts))]
    # exact memorisation and extraction strength leave the end-of-sequence token out, as
    # OpenUnlearning's token-wise scores do; exact-answer accuracy keeps it (the answer
    # must also stop)
    without_eos = [row[:-1] for row in answer_matches]
    scores = FactScores(
        answer_probability=normalised[:, 0],
        truth_ratio=truth_ratio(normalised[:, 2:], normalised[:, 1]),
        option_probability=option_probability(normalised[:, 1], normalised[:, 2:]),
        exact_match=np.array([bool(x.all()) for x in answer_matches]),
        exact_memorisation=exact_memorisation(without_eos),
        extraction_strength=extraction_strength(without_eos),
    )
    if generate:
        references = [qa.answer for qa in facts]
        trained = greedy_answers(model, tokenizer, [prompt_text(qa.questions[0]) for qa in facts])
        heldout = greedy_answers(
            model, tokenizer, [prompt_text(qa.heldout_question) for qa in facts]
        )
        scores.rouge_l_recall = rouge_l_recall(trained, references)
        scores.knowledge_f1 = rouge_l_f1(heldout, references)
    return scores


def membership_texts(facts: Sequence[QA]) -> list[str]:
    """The scored text of each fact for the MIA attacks: its answer (zlib compresses it)."""
    return [qa.answer for qa in facts]


def answer_token_statistics(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA]
) -> TokenStatistics:
    """Token statistics of each fact's answer given its first trained question phrasing
    (the answer tokens only, as trained; see ``attacks.membership``)."""
    from unlearn_llm.data import prompt_text

    prompts = [prompt_text(qa.questions[0]) for qa in facts]
    return token_statistics(model, tokenizer, membership_texts(facts), prompts)


@dataclass
class ModelEvaluation:
    """Everything measured on one model."""

    forget: FactScores
    retain: FactScores
    general: FactScores
    forget_stats: TokenStatistics
    holdout_stats: TokenStatistics
    mia: dict[str, float] = field(default_factory=dict)
    """ROC AUC per attack, forget texts positive (1 = every forget text outscores every
    holdout text, 0.5 = no signal)."""
    muse_auc: dict[str, float] = field(default_factory=dict)
    """The same in MUSE's orientation (holdout positive, $1 -$ ``mia``): PrivLeak's input."""
    forget_verbatim: np.ndarray | None = None
    """MUSE verbatim memorisation (ROUGE-L F1) per forget passage."""
    retain_verbatim: np.ndarray | None = None
    """The same on retain passages."""

    def utility_components(self) -> dict[str, float]:
        """TOFU's utility terms; the general set's probability is normalised over options."""
        parts: dict[str, float] = {}
        for name, scores in (("retain", self.retain), ("general", self.general)):
            probability = (
                scores.option_probability if name == "general" else scores.answer_probability
            )
            parts[f"{name}_probability"] = float(probability.mean())
            if scores.rouge_l_recall is not None:
                parts[f"{name}_rouge_l"] = float(scores.rouge_l_recall.mean())
            parts[f"{name}_truth_ratio"] = truth_ratio_score(scores.truth_ratio)
        return parts

    def model_utility(self) -> float:
        return model_utility(list(self.utility_components().values()))


def evaluate_model(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    forget: Sequence[QA],
    retain: Sequence[QA],
    general: Sequence[QA],
    holdout: Sequence[QA],
    reference: tuple[TokenStatistics, TokenStatistics] | None = None,
    mia_k: float = 0.2,
    forget_passages: Sequence[Passage] = (),
    retain_passages: Sequence[Passage] = (),
    prefix_tokens: int = 8,
) -> ModelEvaluation:
    """Score ``model`` on every split; membership AUCs compare forget with holdout.

    ``reference`` holds the reference model's token statistics on (forget, holdout)
    texts, for the reference attack (the retrain oracle of another seed). With
    passages, verbatim memorisation continues the first ``prefix_tokens`` tokens of each.
    """
    forget_texts = membership_texts(forget)
    holdout_texts = membership_texts(holdout)
    forget_stats = answer_token_statistics(model, tokenizer, forget)
    holdout_stats = answer_token_statistics(model, tokenizer, holdout)
    member = membership_scores(
        forget_stats, forget_texts, mia_k, reference[0] if reference else None
    )
    nonmember = membership_scores(
        holdout_stats, holdout_texts, mia_k, reference[1] if reference else None
    )
    evaluation = ModelEvaluation(
        forget=score_facts(model, tokenizer, forget),
        retain=score_facts(model, tokenizer, retain),
        general=score_facts(model, tokenizer, general),
        forget_stats=forget_stats,
        holdout_stats=holdout_stats,
    )
    evaluation.mia = {name: mia_auc(member[name], nonmember[name]) for name in member}
    evaluation.muse_auc = {name: muse_auc(member[name], nonmember[name]) for name in member}
    if forget_passages:
        texts = [p.text for p in forget_passages]
        evaluation.forget_verbatim = verbatim_memorisation(
            model, tokenizer, texts, prefix_tokens=prefix_tokens
        )
    if retain_passages:
        texts = [p.text for p in retain_passages]
        evaluation.retain_verbatim = verbatim_memorisation(
            model, tokenizer, texts, prefix_tokens=prefix_tokens
        )
    return evaluation


__all__ = [
    "FactScores",
    "ModelEvaluation",
    "answer_token_statistics",
    "evaluate_model",
    "greedy_answers",
    "greedy_continuations",
    "membership_texts",
    "score_facts",
]
