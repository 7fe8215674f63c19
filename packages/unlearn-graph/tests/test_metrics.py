from __future__ import annotations

import numpy as np
import pytest
from unlearn_graph import attacks, metrics


def test_deleted_edge_auc_separates_forgotten_from_remembered() -> None:
    rng = np.random.default_rng(0)
    retained = rng.uniform(0.6, 1.0, 500)
    forgotten = rng.uniform(0.0, 0.4, 50)
    auroc, aupr = metrics.deleted_edge_auc(forgotten, retained, resamples=5)
    assert auroc == 1.0 and aupr == 1.0
    remembered = rng.uniform(0.6, 1.0, 50)
    auroc, _ = metrics.deleted_edge_auc(remembered, retained, resamples=20)
    assert 0.4 < auroc < 0.6
    with pytest.raises(ValueError, match="at least one deleted"):
        metrics.deleted_edge_auc(np.array([]), retained)


def test_utility_metrics() -> None:
    assert metrics.accuracy(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0])) == 0.5
    assert metrics.link_auroc(np.array([0.9, 0.8]), np.array([0.1, 0.85])) == 0.75
    assert metrics.edit_success(np.array([1, 2, 3]), np.array([1, 2, 0])) == pytest.approx(2 / 3)
    assert metrics.accuracy_drop(0.9, 0.85) == pytest.approx(0.05)


def test_kl_to_oracle_is_zero_only_for_equal_predictions() -> None:
    p = np.array([[0.7, 0.3], [0.5, 0.5]])
    assert metrics.kl_to_oracle(p, p) == pytest.approx(0.0, abs=1e-9)
    assert metrics.kl_to_oracle(p, p[:, ::-1]) > 0.1
    assert metrics.kl_to_oracle(np.array([0.9]), np.array([0.9])) == pytest.approx(0.0, abs=1e-9)
    assert metrics.kl_to_oracle(np.array([0.9]), np.array([0.1])) > 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.kl_to_oracle(p, np.array([0.5]))


def test_membership_attack_spots_overconfident_members() -> None:
    rng = np.random.default_rng(0)
    members = attacks.attack_features(rng.uniform(0.9, 1.0, 400))
    others = attacks.attack_features(rng.uniform(0.3, 0.8, 400))
    attack = attacks.fit_membership_attack(members, others)
    assert attacks.membership_auc(attack, members[:50], others) > 0.95
    assert attacks.membership_auc(attack, others[:50], others[50:]) < 0.7
    before = attack.member_probability(members[:50])
    after = attack.member_probability(others[:50])
    assert attacks.member_probability_ratio(before, after) > 2.0
    # A saturated attack (member probability ~0 after unlearning) cannot blow the ratio up.
    saturated = attacks.member_probability_ratio(np.full(5, 0.9), np.full(5, 1e-9))
    assert saturated == pytest.approx(0.9 / 0.01)


def test_measure_cost_sees_time_and_memory() -> None:
    def allocate() -> int:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        return int(block.size)

    result, cost = metrics.measure_cost(allocate)
    assert result == 8 * 2**20
    assert cost.wall_s > 0
    assert cost.peak_mib > 32
