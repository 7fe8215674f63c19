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


def test_truth_ratio_is_geometric_mean_perturbed_over_paraphrased() -> None:
    ratios = truth_ratio(np.array([[0.1, 0.3], [0.5, 0.5]]), np.array([0.4, 0.25]))
    assert np.allclose(ratios, [np.sqrt(0.1 * 0.3) / 0.4, 2.0])


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
    with pytest.raises(ValueError, match="retrain AUC"):
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
    assert "original model passes" in gate.explain() and "other seeds fail" in gate.explain()
    # Several extra oracles: the median decides, the minimum is reported.
    several = validity_gate(1e-5, [0.05, 0.4, 0.7])
    assert several.passed and several.oracle_min_p == 0.05 and several.second_oracle_p == 0.4
    assert "min 0.05" in several.explain()
    assert not validity_gate(1e-5, [0.05, 0.08, 0.7]).passed


def test_verbatim_memorisation_is_high_on_trained_passages_only() -> None:
    import torch
    from unlearn_llm.data import encode_facts
    from unlearn_llm.metrics.muse import verbatim_memorisation
    from unlearn_llm.models import TinyLlamaParams, build_model, train_to_memorise
    from unlearn_llm.worlds.facts import FactsWorldParams, build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    torch.set_num_threads(1)
    world = build_world(FactsWorldParams(people=12, organisations=4, places=4, general=5), 0)
    tokenizer = train_tokenizer(world, vocab_size=384)
    passages = world.passage_split("retain")
    trained, unseen = passages[:4], passages[4:8]
    params = TinyLlamaParams(
        hidden_size=64, layers=2, heads=2, intermediate_size=128, vocab_size=384,
        learning_rate=5e-3, batch_size=4, max_epochs=80, target_accuracy=1.0,
    )  # fmt: skip
    model = build_model(params, 0)
    train_to_memorise(model, encode_facts(tokenizer, [], trained), params, 0)
    texts = [p.text for p in trained]
    assert verbatim_memorisation(model, tokenizer, texts).mean() > 0.9
    assert verbatim_memorisation(model, tokenizer, [p.text for p in unseen]).mean() < 0.6
    with pytest.raises(ValueError, match="prefix_tokens=200: nothing is left"):
        verbatim_memorisation(model, tokenizer, texts, prefix_tokens=200)
