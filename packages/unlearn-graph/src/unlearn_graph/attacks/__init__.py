"""Attacks used to audit unlearning, registered as ``ATTACKS``.

A record's params fields are the attack function's keyword options (``seed`` is a
keyword-only extra); the params classes sit next to the torch-free functions in
`unlearn_graph.attacks.membership`, `unlearn_graph.attacks.link_stealing` and
`unlearn_graph.attacks.relearning`. The functions are also importable from here; they
load on first use, so reading the registry imports only the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearn_schema import AttackSpec, Registry

from unlearn_graph._lazy import lazy_attributes

if TYPE_CHECKING:
    from unlearn_graph.attacks.link_stealing import (
        anchored_non_edges,
        link_stealing_auc,
        node_posteriors,
        posterior_distance,
    )
    from unlearn_graph.attacks.membership import (
        MembershipAttack,
        attack_features,
        fit_membership_attack,
        member_probability_ratio,
        membership_auc,
    )
    from unlearn_graph.attacks.relearning import forget_accuracy, relearn

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
        AttackSpec(
            name="link-stealing-auc",
            params="unlearn_graph.attacks.link_stealing:LinkStealingParams",
            entry="unlearn_graph.attacks.link_stealing:link_stealing_auc",
            summary="Posterior-similarity link stealing: AUC of deleted edges vs non-edges.",
            paper="arXiv:2005.02131",
        ),
        AttackSpec(
            name="relearning",
            params="unlearn_graph.attacks.relearning:RelearningParams",
            entry="unlearn_graph.attacks.relearning:relearn",
            summary="A few fine-tuning steps on the retained graph only (do deletions return?).",
            paper=None,
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
    )
    | dict.fromkeys(
        ["anchored_non_edges", "link_stealing_auc", "node_posteriors", "posterior_distance"],
        "link_stealing",
    )
    | dict.fromkeys(["forget_accuracy", "relearn"], "relearning"),
)


__all__ = [
    "ATTACKS",
    "MembershipAttack",
    "anchored_non_edges",
    "attack_features",
    "fit_membership_attack",
    "forget_accuracy",
    "link_stealing_auc",
    "member_probability_ratio",
    "membership_auc",
    "node_posteriors",
    "posterior_distance",
    "relearn",
]
