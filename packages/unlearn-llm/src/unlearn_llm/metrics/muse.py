"""MUSE metrics (Shi et al., "MUSE: Machine Unlearning Six-Way Evaluation", arXiv:2407.06460).

* verbatim memorisation: ROUGE-L F1 between the model's greedy continuation of a
  trained forget prompt and the true continuation;
* knowledge memorisation: ROUGE-L F1 of answers to questions phrased in a way never
  trained on (the held-out paraphrase), on the forget set and on the retain set;
* PrivLeak, against the oracle's own membership AUC (not a constant 0.5):
  :math:`\\mathrm{PrivLeak} = 100 \\cdot (\\mathrm{AUC}_{unl} - \\mathrm{AUC}_{oracle})
  / \\mathrm{AUC}_{oracle}`; near 0 is good, strongly positive means the forget set is
  still recognisably trained on (under-unlearning), strongly negative over-unlearning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rouge_l_f1(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """ROUGE-L F1 of each prediction against its reference."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return np.array(
        [
            scorer.score(ref, pred)["rougeL"].fmeasure
            for pred, ref in zip(predictions, references, strict=True)
        ]
    )


def privleak(unlearned_auc: float, oracle_auc: float) -> float:
    """Relative gap (in %) between the unlearned model's and the oracle's MIA AUC."""
    if not 0.0 < oracle_auc <= 1.0:
        raise ValueError(f"oracle AUC must lie in (0, 1], got {oracle_auc}")
    return 100.0 * (unlearned_auc - oracle_auc) / oracle_auc
