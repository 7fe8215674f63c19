"""TOFU metrics (Maini et al., "TOFU: A Task of Fictitious Unlearning", arXiv:2401.06121).

For a question $q$ with answer $a$, paraphrased answer $\\tilde a$ and
perturbed (wrong) answers $\\hat a_1, \\dots, \\hat a_m$, with the length-normalised
probability $P(y\\mid q) = \\pi(y\\mid q)^{1/|y|}$ (the answer tokens and the
end-of-sequence token, as TOFU's labels):

* answer probability: $P(a\\mid q)$ on the retain (and forget) set; on the general
  set, as TOFU does on its real-authors and world-facts sets, normalised over the
  options, $P(\\tilde a\\mid q) / (P(\\tilde a\\mid q) + \\sum_i P(\\hat a_i\\mid q))$
  (``option_probability``; the true option is the paraphrased answer because our
  perturbed answers are written in the paraphrase's sentence, so all options differ
  only in the value);
* ROUGE-L recall of the greedy answer against $a$ (``rouge-score`` with the Porter
  stemmer, ``use_stemmer=True`` as TOFU's evaluation);
* truth ratio: the geometric mean of the perturbed answers' normalised probabilities
  over the paraphrased answer's,
  $R = \\big(\\prod_i P(\\hat a_i\\mid q)\\big)^{1/m} / P(\\tilde a\\mid q)
  = \\exp\\big(\\frac{1}{m}\\sum_i \\log P(\\hat a_i\\mid q) - \\log P(\\tilde a\\mid q)\\big)$
  (TOFU's definition and its forget-quality code, which works with the mean of the
  per-answer average losses); summarised on non-forget sets as
  $\\max(0, 1 - R)$ (``truth_ratio_score``, the utility term) and on the forget set as
  $\\min(R, 1/R)$ (``forget_truth_ratio``, TOFU's "Forget Truth Ratio");
* forget quality: the two-sample Kolmogorov-Smirnov p-value between the truth ratios
  of the unlearned model and of the retrain oracle on the forget set (high = the two
  are indistinguishable). TOFU's code tests $1/R$ (paraphrased over perturbed); the
  KS statistic depends on ranks only, so $R$ and $1/R$ give the same p-value;
* model utility: the harmonic mean of answer probability, ROUGE-L recall and
  $\\max(0, 1-R)$ on the retain and general sets (six numbers here; TOFU has nine,
  with two general sets).

One difference from TOFU's released ``get_model_utility``: that function averages
the perturbed probabilities arithmetically for the utility term while its forget
quality uses the geometric mean; we use the paper's geometric mean in both places, as
OpenUnlearning does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_TINY = 1e-300
"""Floor under probabilities before a logarithm or a division (never reached in practice:
a normalised probability is the exponential of an average log-likelihood)."""


def answer_probability(answer_log_prob: np.ndarray, answer_tokens: np.ndarray) -> np.ndarray:
    """$P(a\\mid q) = \\exp(\\log\\pi(a\\mid q)/|a|)$ per item."""
    return np.exp(np.asarray(answer_log_prob) / np.maximum(np.asarray(answer_tokens), 1))


def option_probability(
    true_probability: np.ndarray, perturbed_probability: np.ndarray
) -> np.ndarray:
    """TOFU's probability on multiple-choice style sets: $P(a)/(P(a) + \\sum_i P(\\hat a_i))$.

    ``true_probability`` is ``[items]``, ``perturbed_probability`` ``[items, m]``, both
    length-normalised probabilities.
    """
    true = np.asarray(true_probability, dtype=np.float64)
    perturbed = np.asarray(perturbed_probability, dtype=np.float64)
    return true / np.maximum(true + perturbed.sum(axis=1), _TINY)


def truth_ratio(
    perturbed_probability: np.ndarray, paraphrased_probability: np.ndarray
) -> np.ndarray:
    """$R$ per item: geometric mean of the perturbed over the paraphrased probability.

    ``perturbed_probability`` is ``[items, m]`` and ``paraphrased_probability``
    ``[items]``, both length-normalised probabilities.
    """
    perturbed = np.log(np.maximum(np.asarray(perturbed_probability, dtype=np.float64), _TINY))
    paraphrased = np.log(np.maximum(np.asarray(paraphrased_probability, dtype=np.float64), _TINY))
    return np.exp(perturbed.mean(axis=1) - paraphrased)


def truth_ratio_score(ratios: np.ndarray) -> float:
    """Utility form of the truth ratio (retain and general sets): mean of $\\max(0, 1 - R)$."""
    return float(np.mean(np.maximum(0.0, 1.0 - np.asarray(ratios))))


def forget_truth_ratio(ratios: np.ndarray) -> float:
    """TOFU's forget-set summary of the truth ratio: mean of $\\min(R, 1/R)$ (1: the
    model cannot tell the paraphrased answer from the perturbed ones)."""
    array = np.maximum(np.asarray(ratios, dtype=np.float64), _TINY)
    return float(np.mean(np.minimum(array, 1.0 / array)))


def rouge_l_recall(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """ROUGE-L recall of each prediction against its reference answer (Porter stemmer)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return np.array(
        [
            scorer.score(ref, pred)["rougeL"].recall
            for pred, ref in zip(predictions, references, strict=True)
        ]
    )


def forget_quality(unlearned_ratios: np.ndarray, oracle_ratios: np.ndarray) -> float:
    """KS-test p-value between the two truth-ratio samples on the forget set."""
    from scipy.stats import ks_2samp

    if len(unlearned_ratios) == 0 or len(oracle_ratios) == 0:
        raise ValueError("forget quality needs truth ratios of at least one forget item")
    return float(ks_2samp(unlearned_ratios, oracle_ratios).pvalue)


def model_utility(values: Sequence[float]) -> float:
    """Harmonic mean of the utility components (0 if any of them is 0)."""
    from scipy.stats import hmean

    array = np.asarray(values, dtype=np.float64)
    if np.any(array <= 0):
        return 0.0
    return float(hmean(array))
