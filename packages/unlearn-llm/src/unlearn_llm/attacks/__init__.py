"""Attacks on unlearned models: membership inference."""

from unlearn_llm.attacks.membership import (
    ATTACKS,
    membership_scores,
    mia_auc,
    token_statistics,
)

__all__ = ["ATTACKS", "membership_scores", "mia_auc", "token_statistics"]
