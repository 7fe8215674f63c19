"""Test-time steering: the direction, the gate and the threshold on hand-worked cases,
and on the tiny model: no parameter changes, exact restore, steering hides forget facts."""

from __future__ import annotations

import copy
from typing import Any

import pytest


def _batch(labels: list[list[int]]) -> Any:
    import torch
    from unlearn_llm.data import Batch

    tensor = torch.tensor(labels)
    ids = torch.arange(tensor.numel()).reshape(tensor.shape)
    return Batch(ids, torch.ones_like(tensor), tensor)


def test_answer_positions_and_prompt_lengths_on_a_handmade_batch() -> None:
    from unlearn_llm.methods.test_time_steering import (
        answer_positions,
        prompt_lengths,
        question_mask,
    )

    # row 0: start + 2 question tokens, answer of 2 tokens; row 1: start + 1, answer of 3
    batch = _batch([[-100, -100, -100, 7, 8], [-100, -100, 5, 6, 9]])
    assert prompt_lengths(batch).tolist() == [3, 2]
    # position t predicts token t + 1: the last question token and the answer but its last
    assert answer_positions(batch).tolist() == [
        [False, False, True, True, False],
        [False, True, True, True, False],
    ]
    assert question_mask(batch).tolist() == [
        [False, True, True, False, False],
        [False, True, False, False, False],
    ]


def test_erasure_direction_is_the_difference_of_masked_means() -> None:
    import torch
    from unlearn_llm.methods.test_time_steering import erasure_direction

    recall = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]])
    recall_mask = torch.tensor([[True, True, False]])  # mean of the first two: (2, 1)
    erasure = torch.tensor([[[0.0, 4.0], [50.0, 50.0]], [[0.0, 6.0], [2.0, 2.0]]])
    erasure_mask = torch.tensor([[True, False], [True, True]])  # mean (2/3, 4)
    direction = erasure_direction(recall, recall_mask, erasure, erasure_mask)
    assert torch.allclose(direction, torch.tensor([2.0 / 3.0 - 2.0, 4.0 - 1.0]))


def test_gate_signature_is_the_fisher_discriminant_worked_by_hand() -> None:
    import torch
    from unlearn_llm.methods.test_time_steering import gate_signature

    # mu_f = (2, 0), mu_r = (-2, 0); centred tokens (+-1, 0) in both sets, so the pooled
    # covariance is [[4, 0], [0, 0]] / (4 - 2) = [[2, 0], [0, 0]], mean eigenvalue 1;
    # ridge 1: w = [[3, 0], [0, 1]]^-1 (4, 0) = (4/3, 0), b = -w.(mu_f + mu_r)/2 = 0
    forget = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    retain = torch.tensor([[-1.0, 0.0], [-3.0, 0.0]])
    weight, bias = gate_signature(forget, retain, ridge=1.0)
    assert torch.allclose(weight, torch.tensor([4.0 / 3.0, 0.0]))
    assert bias == pytest.approx(0.0)
    # shifted sets: the bias puts the boundary halfway between the means (x = 10)
    weight, bias = gate_signature(forget + 10.0, retain + 10.0, ridge=1.0)
    assert float(weight @ torch.tensor([10.0, 0.0])) + bias == pytest.approx(0.0, abs=1e-5)


def test_gate_fires_from_the_first_forget_like_token_on_and_never_on_padding() -> None:
    import torch
    from unlearn_llm.methods.test_time_steering import Steering

    steering = Steering(
        {0: torch.zeros(2)}, 1.0, gate_layer=0, gate_weight=torch.tensor([1.0, 0.0]), threshold=0.5
    )
    # row 0: a planted forget token at position 2; row 1: left padding at 0 (x = 9 there
    # must not count), nothing forget-like after it
    hidden = torch.tensor(
        [
            [[0.0, 5.0], [0.2, 0.0], [0.9, 0.0], [0.1, 0.0]],
            [[9.0, 0.0], [0.1, 0.0], [0.4, 0.0], [0.3, 0.0]],
        ]
    )
    mask = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1]])
    fired = steering.gate_scores(hidden, mask) > steering.threshold
    assert fired.tolist() == [[False, False, True, True], [False, False, False, False]]


def test_best_threshold_maximises_tpr_minus_fpr_halfway_between_scores() -> None:
    import torch
    from unlearn_llm.methods.test_time_steering import best_threshold

    # tau in (0.3, 0.8): TPR 1, FPR 1/3 (gain 2/3); tau in (0.85, 0.9): 1/2 - 0; so 0.55
    forget = torch.tensor([0.9, 0.8])
    retain = torch.tensor([0.1, 0.3, 0.85])
    assert best_threshold(forget, retain) == pytest.approx(0.55)
    # separable: the widest gap's middle
    assert best_threshold(torch.tensor([0.9]), torch.tensor([0.1])) == pytest.approx(0.5)


def _logits(model: Any, batch: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits


def test_steering_changes_no_parameter_and_removing_it_restores_exact_logits(tiny: Any) -> None:
    import torch
    from unlearn_llm.methods import METHODS
    from unlearn_llm.methods.test_time_steering import installed_steering, remove_steering

    model = tiny.fresh_model().eval()
    before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    rows = tiny.data.forget.subset(slice(0, 8))
    original = _logits(model, rows)
    METHODS["test-time-steering"].function(model, tiny.data, None)
    assert installed_steering(model) is not None
    steered = _logits(model, rows)
    assert not torch.equal(steered, original)  # the forget rows are steered
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)
    # a deep copy is steered by its own copy; removing it there leaves the model steered
    duplicate = copy.deepcopy(model)
    assert installed_steering(duplicate) is not installed_steering(model)
    assert torch.equal(_logits(duplicate, rows), steered)
    assert remove_steering(duplicate)
    assert torch.equal(_logits(duplicate, rows), original)
    assert torch.equal(_logits(model, rows), steered)
    assert remove_steering(model) and not remove_steering(model)
    assert torch.equal(_logits(model, rows), original)


def test_steering_hides_forget_answers_and_the_gate_spares_retain(tiny: Any) -> None:
    from unlearn_llm.methods.test_time_steering import (
        TestTimeSteeringParams,
        gate_firing_rate,
        installed_steering,
        test_time_steering,
    )
    from unlearn_llm.metrics.evaluate import score_facts

    forget, retain = tiny.world.split("forget"), tiny.world.split("retain")

    def probability(model: Any, facts: Any) -> float:
        scores = score_facts(model, tiny.tokenizer, facts, generate=False)
        return float(scores.answer_probability.mean())

    model = tiny.fresh_model().eval()
    forget_before, retain_before = probability(model, forget), probability(model, retain)
    test_time_steering(model, tiny.data, TestTimeSteeringParams())
    fit = installed_steering(model).fit  # type: ignore[union-attr]
    assert fit is not None and fit.forget_firing_rate > fit.retain_firing_rate
    assert gate_firing_rate(model, tiny.tokenizer, forget) >= 0.9
    assert gate_firing_rate(model, tiny.tokenizer, retain) <= 0.1
    assert probability(model, forget) < 0.5 * forget_before
    assert probability(model, retain) > 0.85 * retain_before
    # ungated, the same direction also hits retain answers
    ungated = tiny.fresh_model().eval()
    test_time_steering(ungated, tiny.data, TestTimeSteeringParams(gate="always"))
    assert gate_firing_rate(ungated, tiny.tokenizer, retain) == 1.0
    assert probability(ungated, retain) < probability(model, retain)


def test_bad_layers_name_the_accepted_ones(tiny: Any) -> None:
    from unlearn_llm.methods.test_time_steering import TestTimeSteeringParams, test_time_steering

    with pytest.raises(ValueError, match=r"layer\(s\) \[5\].*accepted 0\.\.1"):
        test_time_steering(tiny.fresh_model(), tiny.data, TestTimeSteeringParams(layers=[5]))
    with pytest.raises(ValueError, match=r"gate_layer=1 comes after.*gate_layer <= 0"):
        test_time_steering(
            tiny.fresh_model(), tiny.data, TestTimeSteeringParams(layers=[0], gate_layer=1)
        )
    model = tiny.fresh_model()
    test_time_steering(model, tiny.data, None)
    with pytest.raises(ValueError, match="already steered"):
        test_time_steering(model, tiny.data, None)


def test_the_steering_speed_benchmark_times_every_config_against_the_plain_model(
    tmp_path: Any,
) -> None:
    from unlearn_llm.benchmarks.steering_speed import CONFIGS, LLM_STEERING_SPEED, TARGET
    from unlearn_llm.models import tiny_model_params
    from unlearn_llm.worlds.facts import tiny_world_params
    from unlearn_schema import ModelSpec, NullProgress, WorldSpec

    spec = LLM_STEERING_SPEED.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="fictitious-facts", params=tiny_world_params().model_dump()),
            "model": ModelSpec(name="llama-tiny", params=tiny_model_params().model_dump()),
            "params": {"batch_sizes": [1, 4], "repeats": 2, "rounds": 1},
        }
    )
    result = LLM_STEERING_SPEED.run(LLM_STEERING_SPEED.parse(spec), NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} == LLM_STEERING_SPEED.metric_names
    ratios = [m for m in result.metrics if m.name == "latency_ratio"]
    assert {(m.labels["config"], m.labels["batch_size"]) for m in ratios} == {
        (config, size) for config in CONFIGS for size in ("1", "4")
    }
    assert all(m.value > 0 and m.reference == TARGET for m in ratios)
    met = {
        (m.labels["config"], m.labels["batch_size"]): m.value
        for m in result.metrics
        if m.name == "latency_target_met"
    }
    assert all(
        met[(m.labels["config"], m.labels["batch_size"])] == float(m.value <= TARGET)
        for m in ratios
    )
    (curve,) = result.curves
    assert [s.label for s in curve.series] == list(CONFIGS) and curve.hlines == {
        "target 1.1": TARGET
    }
    assert any("machine load" in note for note in result.notes)


def test_the_steering_modules_import_no_torch() -> None:
    from unlearn_schema.testing import heavy_modules_after

    code = "import unlearn_llm.methods.test_time_steering, unlearn_llm.benchmarks.steering_speed"
    assert heavy_modules_after(code, ("torch", "transformers", "numpy")) == []
