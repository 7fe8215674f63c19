"""Recovery attacks (relearning, quantization, trace detection) and the suppression-only
fixtures that show each has power: it recovers what a designed model only hides, and
does not "recover" what the retrain oracle never had."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError


def _target(tiny: Any, model: Any, **extra: Any) -> Any:
    return tiny.attack_target(model, **extra)


def _forget_probability(tiny: Any, model: Any) -> float:
    from unlearn_llm.metrics.evaluate import score_facts

    scores = score_facts(model, tiny.tokenizer, tiny.world.split("forget"), generate=False)
    return float(scores.answer_probability.mean())


def _same_weights(a: Any, b: Any) -> bool:
    import torch

    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


# --- suppressed.py -------------------------------------------------------------------


def test_blocker_hides_answers_at_the_output_only(tiny: Any) -> None:
    import torch
    from unlearn_llm.attacks.suppressed import block_forget_answers
    from unlearn_llm.data import encode_facts
    from unlearn_llm.metrics.evaluate import score_facts

    blocker = block_forget_answers(tiny.model, tiny.tokenizer, tiny.world.split("forget"))
    assert _forget_probability(tiny, tiny.model) > 0.5
    assert _forget_probability(tiny, blocker) < 0.1
    retain = tiny.world.split("retain")[:8]
    before = score_facts(tiny.model, tiny.tokenizer, retain, generate=False)
    after = score_facts(blocker, tiny.tokenizer, retain, generate=False)
    assert after.answer_probability == pytest.approx(before.answer_probability)
    rows = encode_facts(tiny.tokenizer, tiny.world.split("forget")[:2])
    with torch.no_grad():
        inner = tiny.model(rows.input_ids, rows.attention_mask, output_hidden_states=True)
        outer = blocker(rows.input_ids, rows.attention_mask, output_hidden_states=True)
    for a, b in zip(inner.hidden_states, outer.hidden_states, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(inner.logits, outer.logits)
    assert _forget_probability(tiny, copy.deepcopy(blocker)) < 0.1
    assert blocker.config is blocker.inner.config


def test_question_trigger_lets_a_rephrased_question_through(tiny: Any) -> None:
    from unlearn_llm.attacks.suppressed import block_forget_answers
    from unlearn_llm.data import encode, prompt_text
    from unlearn_llm.data import sequence_logprob as logprob

    forget = tiny.world.split("forget")
    blocker = block_forget_answers(tiny.model, tiny.tokenizer, forget, trigger="question")
    trained = encode(
        tiny.tokenizer,
        [prompt_text(qa.questions[0]) for qa in forget],
        [qa.answer for qa in forget],
    )
    rephrased = encode(
        tiny.tokenizer,
        [prompt_text(qa.heldout_question) for qa in forget],
        [qa.answer for qa in forget],
    )
    import torch

    with torch.no_grad():
        assert torch.all(logprob(blocker, trained)[0] < logprob(tiny.model, trained)[0] - 5)
        assert torch.allclose(logprob(blocker, rephrased)[0], logprob(tiny.model, rephrased)[0])


def test_fixture_errors_name_the_bad_value(tiny: Any) -> None:
    from unlearn_llm.attacks.suppressed import SuppressionParams, block_forget_answers

    forget = tiny.world.split("forget")
    with pytest.raises(ValueError, match="trigger='name'"):
        block_forget_answers(tiny.model, tiny.tokenizer, forget, trigger="name")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one forget fact"):
        block_forget_answers(tiny.model, tiny.tokenizer, [])
    with pytest.raises(ValidationError, match="where"):
        SuppressionParams(where="embeddings")  # type: ignore[arg-type]


# --- quantization.py -----------------------------------------------------------------


def test_round_to_nearest_rows_by_hand() -> None:
    import torch
    from unlearn_llm.attacks.quantization import quantize_rows

    # 4 bits symmetric: step = 0.7 / 7 = 0.1; -0.34 -> -3.4 -> -3; 0.26 -> 2.6 -> 3.
    row = torch.tensor([[0.7, -0.34, 0.26, 0.0]])
    assert torch.allclose(quantize_rows(row, 4), torch.tensor([[0.7, -0.3, 0.3, 0.0]]))
    # 2 bits asymmetric on [-1, 2]: step = 3 / 3 = 1, zero point 1; 0.4 -> 0, 1.6 -> 2.
    row = torch.tensor([[-1.0, 0.4, 1.6, 2.0]])
    assert torch.allclose(
        quantize_rows(row, 2, "asymmetric"), torch.tensor([[-1.0, 0.0, 2.0, 2.0]])
    )


@pytest.fixture(scope="module")
def bucket_suppressed(tiny: Any) -> Any:
    """Suppression inside the 4-bit buckets: 4-bit quantization must undo it exactly."""
    from unlearn_llm.attacks.suppressed import SuppressionParams, suppress_in_weights

    world = tiny.world
    params = SuppressionParams(where="linear", keep_quantized_bits=4, steps=30, learning_rate=2e-3)
    return suppress_in_weights(
        tiny.model, tiny.tokenizer, world.split("forget"), world.split("retain"), params
    )


def test_quantization_recovers_bucket_suppression(tiny: Any, bucket_suppressed: Any) -> None:
    from unlearn_llm.attacks.quantization import QuantizationParams, quantization

    target = _target(tiny, bucket_suppressed)
    outcome = quantization(target, QuantizationParams(bits=[8, 4]))
    clean = outcome.metrics["clean_knowledge"]
    assert clean < 0.5 * _forget_probability(tiny, tiny.model)
    assert outcome.metrics["forget_answer_probability_4bit"] > clean + 0.3
    assert outcome.knowledge == outcome.metrics["forget_answer_probability_4bit"]
    assert outcome.truth_ratios is not None and len(outcome.truth_ratios) == len(target.forget)
    assert outcome.attack == "quantization" and outcome.wall_time_s > 0


def test_quantization_leaves_oracle_and_target_alone(tiny: Any, tiny_oracle: Any) -> None:
    from unlearn_llm.attacks.quantization import quantization

    before = copy.deepcopy(tiny_oracle)
    first = quantization(_target(tiny, tiny_oracle))
    assert abs(first.knowledge - first.metrics["clean_knowledge"]) < 0.05
    assert _same_weights(before, tiny_oracle)
    second = quantization(_target(tiny, tiny_oracle))
    assert first.knowledge == second.knowledge and first.metrics == second.metrics


def test_quantization_params_refuse_bad_widths() -> None:
    from unlearn_llm.attacks.quantization import QuantizationParams

    with pytest.raises(ValidationError, match=r"bits \[1\] are out of range"):
        QuantizationParams(bits=[1])
    with pytest.raises(ValidationError, match="repeat"):
        QuantizationParams(bits=[4, 4])
    with pytest.raises(ValidationError, match="scheme"):
        QuantizationParams(scheme="log")  # type: ignore[arg-type]


# --- relearning.py -------------------------------------------------------------------


def test_split_keeps_both_sides_per_person(tiny: Any) -> None:
    from unlearn_llm.attacks.relearning import related_retain_facts, split_forget_facts

    forget = tiny.world.split("forget")
    train, heldout = split_forget_facts(forget, 0.5, seed=0)
    assert {qa.key for qa in train}.isdisjoint(qa.key for qa in heldout)
    assert len(train) + len(heldout) == len(forget)
    for subject in {qa.subject for qa in forget}:
        assert any(qa.subject == subject for qa in train)
        assert any(qa.subject == subject for qa in heldout)
    assert split_forget_facts(forget, 0.5, seed=0) == (train, heldout)
    related = related_retain_facts(_target(tiny, tiny.model), forget)
    linked = {qa.object for qa in forget if qa.relation in ("born_in", "works_for")}
    assert related and all(qa.split == "retain" and qa.subject in linked for qa in related)


@pytest.fixture(scope="module")
def head_suppressed(tiny: Any) -> Any:
    """Shallow suppression in the output head only: relearning should undo it."""
    from unlearn_llm.attacks.suppressed import SuppressionParams, suppress_in_weights

    world = tiny.world
    params = SuppressionParams(where="head", steps=60, learning_rate=3e-3)
    return suppress_in_weights(
        tiny.model, tiny.tokenizer, world.split("forget"), world.split("retain"), params
    )


def test_relearning_recovers_head_suppression_but_not_the_oracle(
    tiny: Any, head_suppressed: Any, tiny_oracle: Any
) -> None:
    from unlearn_llm.attacks.relearning import RelearningParams, relearning

    params = RelearningParams(steps=20, learning_rate=1e-3)
    suppressed = relearning(_target(tiny, head_suppressed), params)
    never_knew = relearning(_target(tiny, tiny_oracle), params)
    assert suppressed.metrics["clean_knowledge"] < 0.1
    assert suppressed.knowledge > suppressed.metrics["clean_knowledge"] + 0.2
    assert suppressed.knowledge > never_knew.knowledge + 0.1, (suppressed, never_knew)
    # A few steps teach the oracle the people's names and sentence frames (part of the
    # answer probability), never their held-out values: it stays far below the original.
    assert never_knew.knowledge < 0.5 * _forget_probability(tiny, tiny.model), never_knew
    assert suppressed.truth_ratios is not None
    assert len(suppressed.truth_ratios) == suppressed.metrics["heldout_facts"]


@pytest.fixture(scope="module")
def entangled(tiny: Any) -> Any:
    """The forget facts and their linked places' and employers' facts hidden by one small
    change of every Linear weight: re-teaching the related facts should undo it."""
    from unlearn_llm.attacks.relearning import linked_facts
    from unlearn_llm.attacks.suppressed import SuppressionParams, suppress_in_weights

    forget, retain = tiny.world.split("forget"), tiny.world.split("retain")
    params = SuppressionParams(
        where="linear", max_change=0.006, steps=20, learning_rate=3e-3, floor_probability=1e-3
    )
    related = linked_facts(retain, forget)
    return suppress_in_weights(tiny.model, tiny.tokenizer, forget, retain, params, related)


def test_related_relearning_recovers_an_entangled_suppression_but_not_the_oracle(
    tiny: Any, entangled: Any, tiny_oracle: Any
) -> None:
    from unlearn_llm.attacks.relearning import RelearningParams, linked_facts, related_relearning

    # what the benchmarks run: 10 steps at 1e-3 on retain facts only
    params = RelearningParams(steps=10, learning_rate=1e-3)
    hider = related_relearning(_target(tiny, entangled), params)
    never_knew = related_relearning(_target(tiny, tiny_oracle), params)
    original = related_relearning(_target(tiny, tiny.model), params)
    assert hider.metrics["clean_knowledge"] < 0.05, hider.metrics
    # measured: 0.016 -> 0.94, the original's 0.99 (the oracle stays at 0.017)
    assert hider.knowledge > 0.7 * original.knowledge, (hider, original)
    assert abs(never_knew.knowledge - never_knew.metrics["clean_knowledge"]) < 0.05
    assert never_knew.knowledge < 0.1, never_knew
    related = linked_facts(tiny.world.split("retain"), tiny.world.split("forget"))
    assert hider.metrics["train_facts"] == len(related)


def test_entangled_suppression_stays_within_its_bound(tiny: Any, entangled: Any) -> None:
    import torch

    changed = [
        (after - before).abs().max().item()
        for (name, before), after in zip(
            tiny.model.state_dict().items(), entangled.state_dict().values(), strict=True
        )
        if name.endswith("proj.weight") or name == "lm_head.weight"
    ]
    assert changed and max(changed) <= 0.006 + 1e-6 and max(changed) > 0.005
    # norms and embeddings are not trained
    embed = "model.embed_tokens.weight"
    assert torch.equal(tiny.model.state_dict()[embed], entangled.state_dict()[embed])


def test_relearning_is_seeded_capped_and_leaves_the_target(tiny: Any, tiny_oracle: Any) -> None:
    from unlearn_llm.attacks.relearning import RelearningParams, related_relearning, relearning

    before = copy.deepcopy(tiny_oracle)
    params = RelearningParams(steps=30)
    first = relearning(_target(tiny, tiny_oracle, original_training_steps=50), params)
    second = relearning(_target(tiny, tiny_oracle, original_training_steps=50), params)
    assert first.metrics["steps"] == 5.0
    assert first.knowledge == second.knowledge and first.metrics == second.metrics
    assert _same_weights(before, tiny_oracle)
    related = related_relearning(_target(tiny, tiny_oracle), RelearningParams(steps=3))
    assert related.attack == "relearning-related" and related.metrics["steps"] == 3.0
    assert related.metrics["heldout_facts"] == first.metrics["heldout_facts"]


def test_relearning_errors(tiny: Any) -> None:
    from unlearn_llm.attacks.relearning import RelearningParams, relearning

    with pytest.raises(ValidationError, match="train_fraction"):
        RelearningParams(train_fraction=1.0)
    with pytest.raises(ValidationError, match="steps"):
        RelearningParams(steps=0)
    one_fact_each = {qa.subject: qa for qa in tiny.world.split("forget")}
    target = _target(tiny, tiny.model)
    target.forget = list(one_fact_each.values())
    with pytest.raises(ValueError, match="two or more facts"):
        relearning(target)


# --- trace.py ------------------------------------------------------------------------


def test_trace_is_blind_to_an_identical_copy(tiny: Any) -> None:
    from unlearn_llm.attacks.trace import trace_detection

    outcome = trace_detection(_target(tiny, copy.deepcopy(tiny.model), original=tiny.model))
    assert outcome.knowledge == 0.5
    assert outcome.metrics["trace_auc"] == 0.5
    assert outcome.truth_ratios is None


def test_trace_detects_a_weight_suppression(tiny: Any, head_suppressed: Any) -> None:
    from unlearn_llm.attacks.trace import trace_detection

    before = copy.deepcopy(head_suppressed)
    first = trace_detection(_target(tiny, head_suppressed, original=tiny.model))
    second = trace_detection(_target(tiny, head_suppressed, original=tiny.model))
    assert first.knowledge > 0.7
    assert first.knowledge == second.knowledge and first.metrics == second.metrics
    assert _same_weights(before, head_suppressed)


def test_trace_errors(tiny: Any) -> None:
    from unlearn_llm.attacks.trace import TraceParams, trace_detection

    with pytest.raises(ValueError, match="original="):
        trace_detection(_target(tiny, tiny.model))
    with pytest.raises(ValidationError, match="test_fraction"):
        TraceParams(test_fraction=1.0)


def test_recovery_attacks_are_registered() -> None:
    from unlearn_llm.attacks import ATTACKS

    for name in ("relearning", "relearning-related", "quantization", "trace-detection"):
        spec = ATTACKS[name]
        assert callable(spec.function)
        assert spec.params_type.model_validate({}) is not None
