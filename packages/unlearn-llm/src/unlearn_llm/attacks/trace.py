"""Trace detection: can a classifier tell the unlearned model from the original?

Chen et al., "Unlearning Isn't Invisible: Detecting Unlearning Traces in LLMs from
Model Outputs" (arXiv:2506.14003): unlearning leaves fingerprints in a model's outputs
even on inputs that have nothing to do with the forget set, so a simple supervised
classifier on the output logits tells an unlearned model from the original. Here the
inputs are forget-irrelevant only: every phrasing of the general (arithmetic) facts and of the
retain sample. For each prompt, both models read the prompt and the true answer
(teacher forcing); the features of one model's output are, at each of the first
``positions`` answer positions, the ``top_k`` largest next-token log-probabilities
(sorted: the shape of the distribution, not which tokens) and its entropy, plus the
answer's mean token log-probability. A logistic regression (scikit-learn, standardised
features) learns "target or original" on a seeded half of the prompts and is scored on
the other half; ``knowledge`` is its held-out accuracy (0.5: the unlearning is
invisible; an identical copy of the original gives exactly 0.5, since both rows of a
prompt then carry the same features).

The outputs come from the target model itself; ``target.original`` is required.
torch is imported inside the functions, so importing this module (and its params)
stays light.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.attacks.recovery import AttackOutcome, AttackTarget

if TYPE_CHECKING:
    import numpy as np
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA


class TraceParams(MethodParams):
    """Features and the train/test split of the trace classifier."""

    top_k: int = Field(default=8, ge=1, le=1000, description="Sorted log-probs per position.")
    positions: int = Field(default=4, ge=1, le=64, description="Answer positions read.")
    test_fraction: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="Share of the prompts held out for scoring."
    )
    regularisation: float = Field(
        default=1.0, gt=0.0, description="Inverse L2 strength C of the logistic regression."
    )


def output_features(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    params: TraceParams,
) -> np.ndarray:
    """``[prompts, positions * (top_k + 1) + 1]``: one row per phrasing of each fact."""
    import numpy as np
    import torch

    from unlearn_llm.data import encode, next_token_logprobs, prompt_text

    prompts = [prompt_text(q) for qa in facts for q in (*qa.questions, qa.heldout_question)]
    answers = [qa.answer for qa in facts for _ in (*qa.questions, qa.heldout_question)]
    batch = encode(tokenizer, prompts, answers)
    rows: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(batch), 128):
            part = batch.subset(slice(start, start + 128)).trimmed()
            # the whole next-token distribution is kept, for its shape
            logp, targets, answer = next_token_logprobs(model, part)
            token_logp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            mean_logp = (token_logp * answer).sum(1) / answer.sum(1).clamp(min=1)
            entropy = -(logp.exp() * logp).sum(-1)
            top = logp.topk(min(params.top_k, logp.shape[-1]), dim=-1).values
            for row in range(len(part)):
                where = answer[row].nonzero().squeeze(-1)[: params.positions]
                # Answers shorter than ``positions`` repeat their last position.
                where = torch.cat([where, where[-1:].repeat(params.positions - len(where))])
                per_position = torch.cat([top[row, where], entropy[row, where, None]], dim=1)
                rows.append(
                    np.concatenate([per_position.flatten().numpy(), [float(mean_logp[row])]])
                )
    return np.stack(rows)


def trace_detection(target: AttackTarget, params: TraceParams | None = None) -> AttackOutcome:
    """Held-out accuracy of a logistic regression telling ``target.model`` from the original.

    Metrics: ``trace_auc`` (ROC AUC of the held-out scores), ``train_accuracy``,
    ``test_prompts``.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = params or TraceParams()
    if target.original is None:
        raise ValueError(
            "trace detection compares the target with the original model: give "
            "AttackTarget(original=...)"
        )
    facts = [*target.general, *target.retain]
    if len(facts) < 2:
        raise ValueError(
            f"trace detection needs at least 2 forget-irrelevant facts (general + retain); "
            f"got {len(facts)}"
        )
    start = time.perf_counter()
    unlearned = output_features(target.model, target.tokenizer, facts, params)
    original = output_features(target.original, target.tokenizer, facts, params)
    order = list(range(len(unlearned)))
    random.Random(target.seed).shuffle(order)
    n_test = min(len(order) - 1, max(1, round(params.test_fraction * len(order))))
    test, train = order[:n_test], order[n_test:]

    def rows(index: list[int]) -> tuple[np.ndarray, np.ndarray]:
        features = np.concatenate([unlearned[index], original[index]])
        labels = np.concatenate([np.ones(len(index)), np.zeros(len(index))])
        return features, labels

    x_train, y_train = rows(train)
    x_test, y_test = rows(test)
    classifier = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=params.regularisation, max_iter=2000, random_state=target.seed),
    )
    classifier.fit(x_train, y_train)
    scores = classifier.predict_proba(x_test)[:, 1]
    accuracy = float(np.mean((scores > 0.5) == (y_test == 1)))
    return AttackOutcome(
        attack="trace-detection",
        knowledge=accuracy,
        knowledge_name="trace_detection_accuracy",
        truth_ratios=None,
        metrics={
            "trace_auc": float(roc_auc_score(y_test, scores)),
            "train_accuracy": float(classifier.score(x_train, y_train)),
            "test_prompts": float(len(test)),
        },
        wall_time_s=time.perf_counter() - start,
    )


__all__ = ["TraceParams", "output_features", "trace_detection"]
