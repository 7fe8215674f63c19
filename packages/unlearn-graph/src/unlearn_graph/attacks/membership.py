"""Membership inference against the unlearned model (the GNNDelete/D2DGN protocol).

An attack model (logistic regression) is fitted on the *original* model's outputs to tell
training members from held-out non-members (training vs test nodes, or training vs test
edges: both real, so the attack detects membership, not edge existence). It is then
applied to the deleted elements:

* attack AUC: how well it separates the deleted elements (label 1) from as many held-out
  non-members (label 0) under the unlearned model; the oracle's value is the target;
* member-probability ratio: mean member probability of the deleted elements before
  unlearning divided by after; above 1 means the deleted elements look less like members.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams


def attack_features(probabilities: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Features of each element's prediction: for class probabilities ``(K, C)`` the top-3
    sorted probabilities, the probability of the label and the entropy; for link
    probabilities ``(K,)`` the probability and its two log-terms."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    if p.ndim == 1:
        return np.stack([p, np.log(p), np.log(1 - p)], 1)
    top = -np.sort(-p, axis=1)[:, :3]
    entropy = -(p * np.log(p)).sum(1, keepdims=True)
    columns = [top, entropy]
    if labels is not None:
        columns.append(p[np.arange(p.shape[0]), np.asarray(labels)][:, None])
    return np.concatenate(columns, 1)


class MembershipAttack:
    """A fitted membership classifier on `attack_features`."""

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier

    def member_probability(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.classifier.predict_proba(features)[:, 1])


def fit_membership_attack(
    member_features: np.ndarray, nonmember_features: np.ndarray, *, seed: int = 0
) -> MembershipAttack:
    """Fit on equal numbers of members and non-members (the larger set is subsampled)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    size = min(len(member_features), len(nonmember_features))
    if size == 0:
        raise ValueError("the attack needs at least one member and one non-member")
    members = member_features[rng.choice(len(member_features), size, replace=False)]
    others = nonmember_features[rng.choice(len(nonmember_features), size, replace=False)]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    classifier.fit(np.r_[members, others], np.r_[np.ones(size), np.zeros(size)])
    return MembershipAttack(classifier)


class MembershipAUCParams(MethodParams):
    """Options of `membership_auc` (its keyword arguments besides ``seed``)."""

    resamples: int = Field(default=10, ge=1, le=10_000)


def membership_auc(
    attack: MembershipAttack,
    deleted_features: np.ndarray,
    nonmember_features: np.ndarray,
    *,
    resamples: int = 10,
    seed: int = 0,
) -> float:
    """AUC of the attack separating deleted elements from as many non-members."""
    from sklearn.metrics import roc_auc_score

    if len(deleted_features) == 0 or len(nonmember_features) == 0:
        raise ValueError("need deleted elements and non-members")
    rng = np.random.default_rng(seed)
    deleted = attack.member_probability(deleted_features)
    others = attack.member_probability(nonmember_features)
    size = deleted.size
    labels = np.r_[np.ones(size), np.zeros(size)]
    values = [
        roc_auc_score(labels, np.r_[deleted, rng.choice(others, size, replace=others.size < size)])
        for _ in range(resamples)
    ]
    return float(np.mean(values))


PROBABILITY_FLOOR = 0.01
"""Member probabilities are clipped to [floor, 1 - floor] before the ratio is taken."""


CLIPPED_SHARE = 0.25
"""A ratio is flagged ``clipped`` when more than this share of either side's
probabilities sat outside [floor, 1 - floor] and were clipped."""


def clipped_share(before: np.ndarray, after: np.ndarray) -> float:
    """The larger share of member probabilities clipped on either side of the ratio."""
    low, high = PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR

    def share(values: np.ndarray) -> float:
        values = np.asarray(values, dtype=np.float64)
        return float(np.mean((values < low) | (values > high))) if values.size else 0.0

    return max(share(before), share(after))


def member_probability_ratio(before: np.ndarray, after: np.ndarray) -> float:
    """Mean member probability of the deleted elements before / after unlearning.

    A logistic attack extrapolates: on elements whose outputs moved far from anything it
    was fitted on, it returns member probabilities of 1e-6 and below, and the plain ratio
    of means then reaches 10^5 or more and says nothing. Each probability is therefore
    clipped to [0.01, 0.99] first, which bounds the ratio by 99 and leaves moderate
    values unchanged.
    """
    low, high = PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR
    before_mean = float(np.mean(np.clip(before, low, high)))
    after_mean = float(np.mean(np.clip(after, low, high)))
    return before_mean / after_mean
