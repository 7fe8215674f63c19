"""Attacks used to audit unlearning, registered as ``ATTACKS``.

A record's params fields are the attack function's keyword options (``seed`` is a
keyword-only extra); the params classes sit next to the torch-free functions in
`unlearn_graph.attacks.membership`. The functions are also importable from here; they
load on first use, so reading the registry imports only the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearn_schema import AttackSpec, Registry

from unlearn_graph._lazy import lazy_attributes

if TYPE_CHECKING:
    from unlearn_graph.attacks.membership import (
        MembershipAttack,
        attack_features,
        fit_membership_attack,
        member_probability_ratio,
        membership_auc,
    )

ATTACKS = Registry(
    "attack",
    [
        AttackSpec(
            name="membership-auc",
            params="unlearn_graph.attacks.membership:MembershipAUCParams",
            entry="unlearn_graph.attacks.membership:membership_auc",
            summary="Attack fitted on the original, AUC on deleted elements (reported as mi_auc).",
            paper="arXiv:2302.13406",
        ),
        AttackSpec(
            name="member-probability-ratio",
            params="unlearn_schema:NoParams",
            entry="unlearn_graph.attacks.membership:member_probability_ratio",
            summary="Member probability of deleted elements, before/after (as mi_member_ratio).",
            paper="arXiv:2302.13406",
        ),
    ],
)

__getattr__ = lazy_attributes(
    __name__,
    dict.fromkeys(
        [
            "MembershipAttack",
            "attack_features",
            "fit_membership_attack",
            "member_probability_ratio",
            "membership_auc",
        ],
        "membership",
    ),
)


__all__ = [
    "ATTACKS",
    "MembershipAttack",
    "attack_features",
    "fit_membership_attack",
    "member_probability_ratio",
    "membership_auc",
]
