from __future__ import annotations

import numpy as np
import pytest
from unlearn_llm.attacks.membership import TokenStatistics, membership_scores, mia_auc
from unlearn_llm.metrics import (
    exact_memorisation,
    extraction_strength,
    forget_quality,
    model_utility,
    privleak,
    rouge_l_recall,
    truth_ratio,
    validity_gate,
)


def test_forget_quality_separates_different_truth_ratio_samples() -> None:
    rng = np.random.default_rng(0)
    oracle = rng.uniform(0.6, 1.4, 40)
    assert forget_quality(rng.uniform(0.6, 1.4, 40), oracle) > 0.1
    assert forget_quality(rng.uniform(0.0, 0.3, 40), oracle) < 0.01


def test_truth_ratio_is_mean_perturbed_over_paraphrased() -> None:
    ratios = truth_ratio(np.array([[0.1, 0.3], [0.5, 0.5]]), np.array([0.4, 0.25]))
    assert np.allclose(ratios, [0.5, 2.0])


def test_extraction_strength_and_exact_memorisation() -> None:
    matches = [
        np.array([1, 1, 1, 1], bool),
        np.array([0, 1, 1, 1], bool),
        np.array([1, 0, 1, 0], bool),
    ]
    assert np.allclose(extraction_strength(matches), [1.0, 0.75, 0.0])
    assert np.allclose(exact_memorisation(matches), [1.0, 0.75, 0.5])


def test_model_utility_is_a_harmonic_mean_that_a_zero_sinks() -> None:
    assert model_utility([0.5, 0.5]) == pytest.approx(0.5)
    assert model_utility([1.0, 0.25]) == pytest.approx(0.4)
    assert model_utility([1.0, 0.0]) == 0.0


def test_rouge_l_recall_counts_reference_words_found() -> None:
    recall = rouge_l_recall(
        ["Ana was born in Kerk.", "nothing"], ["Ana was born in Kerk.", "Ana works"]
    )
    assert recall[0] == pytest.approx(1.0) and recall[1] == pytest.approx(0.0)


def test_privleak_is_relative_to_the_oracle_auc() -> None:
    assert privleak(0.75, 0.5) == pytest.approx(50.0)
    assert privleak(0.5, 0.5) == 0.0
    with pytest.raises(ValueError, match="oracle AUC"):
        privleak(0.5, 0.0)


def test_membership_attacks_rank_lower_loss_texts_as_members() -> None:
    members = TokenStatistics(
        log_probs=[np.array([-0.1, -0.2, -0.1])] * 3, normalised=[np.array([1.0, 0.5, 1.2])] * 3
    )
    others = TokenStatistics(
        log_probs=[np.array([-3.0, -2.0, -4.0])] * 3, normalised=[np.array([-1.0, -2.0, 0.1])] * 3
    )
    texts = ["a b c"] * 3
    member = membership_scores(members, texts, reference=others)
    other = membership_scores(others, texts, reference=members)
    for attack in ("loss", "zlib", "min_k", "min_k_plus_plus", "reference"):
        assert mia_auc(member[attack], other[attack]) == 1.0


def test_validity_gate_names_what_failed() -> None:
    assert validity_gate(1e-5, 0.5).passed
    gate = validity_gate(0.2, 0.05)
    assert not gate.passed
    assert "original model passes" in gate.explain() and "another seed fails" in gate.explain()
