"""Attacks used to audit unlearning."""

from unlearn_graph.attacks.membership import (
    MembershipAttack,
    attack_features,
    fit_membership_attack,
    member_probability_ratio,
    membership_auc,
)

__all__ = [
    "MembershipAttack",
    "attack_features",
    "fit_membership_attack",
    "member_probability_ratio",
    "membership_auc",
]
