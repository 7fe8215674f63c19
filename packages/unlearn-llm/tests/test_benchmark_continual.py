"""llm-continual-stream: F.D./R.U. by hand, specs parse and are checked, a tiny stream
runs every step (stream, FIT's memory, relearning, scalability) to a serialisable result."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks.continual import (
    LLM_CONTINUAL_STREAM,
    combined_score,
    symmetric_ratio,
)
from unlearn_schema import MethodConfig, NullProgress, SpecError


def test_forget_degree_is_symmetric_around_the_oracle() -> None:
    # The paper's compare rule: A/B below the oracle, 2 - A/B above it, 0 past twice it.
    assert symmetric_ratio(30.0, 30.0) == 1.0
    assert symmetric_ratio(15.0, 30.0) == pytest.approx(0.5)
    assert symmetric_ratio(45.0, 30.0) == pytest.approx(0.5)
    assert symmetric_ratio(60.0, 30.0) == 0.0
    assert symmetric_ratio(90.0, 30.0) == 0.0
    assert symmetric_ratio(0.0, 30.0) == 0.0
    assert symmetric_ratio(5.0, 0.0) is None


def test_combined_score_is_a_hundred_times_the_cube_root_of_the_product() -> None:
    parts = {"probability": 0.8, "rouge_l": 0.5, "token_accuracy": 0.4}
    # 0.8 * 0.5 * 0.4 = 0.16; 0.16 ** (1/3) = 0.5429
    assert combined_score(parts) == pytest.approx(100 * 0.16 ** (1 / 3))
    assert combined_score({**parts, "rouge_l": 0.0}) == 0.0


@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_parse(size: Any) -> None:
    parsed = LLM_CONTINUAL_STREAM.parse(LLM_CONTINUAL_STREAM.default_spec(size))
    assert parsed.params.stream.requests == (15 if size == "quick" else 110)
    assert "fit" in {m.name for m in parsed.methods}


def test_scalability_beyond_the_stream_is_refused() -> None:
    spec = LLM_CONTINUAL_STREAM.default_spec("quick")
    bad = spec.model_copy(update={"params": {**spec.params, "scalability_requests": [5, 16]}})
    with pytest.raises(SpecError, match=r"scalability_requests \[16\] outside 1\.\.15"):
        LLM_CONTINUAL_STREAM.parse(bad)


def test_methods_that_refuse_a_stream_are_left_out_and_refused() -> None:
    # test-time-steering and kif-runtime hook a model once; kif refuses some requests
    full = {m.name for m in LLM_CONTINUAL_STREAM.default_spec("full").methods}
    assert not full & {"test-time-steering", "kif-runtime", "kif"} and "fit" in full
    spec = LLM_CONTINUAL_STREAM.default_spec("quick")
    bad = spec.model_copy(update={"methods": [MethodConfig(name="test-time-steering")]})
    with pytest.raises(SpecError, match=r"leave out test-time-steering \(it hooks a model once"):
        LLM_CONTINUAL_STREAM.parse(bad)


def test_tiny_stream_runs_end_to_end() -> None:
    from unlearn_llm.models import tiny_model_params
    from unlearn_llm.worlds.facts import tiny_world_params

    spec = LLM_CONTINUAL_STREAM.default_spec("quick")
    stream = {
        "personal": 2,
        "copyright": 1,
        "harmful": 1,
        "redundant": 1,
        "retained_works": 3,
        "retained_agents": 1,
        "authors": 5,
        "reagents": 5,
    }
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(update={"params": tiny_world_params().model_dump()}),
            "model": spec.model.model_copy(update={"params": tiny_model_params().model_dump()}),
            "methods": [m for m in spec.methods if m.name in ("gradient-ascent", "fit")],
            "params": {
                **spec.params,
                "stream": stream,
                "eval_every": 2,
                "retain_eval_facts": 8,
                "scalability_requests": [2],
                "scalability_methods": None,
                "relearning": {"steps": 2},
            },
        }
    )
    result = LLM_CONTINUAL_STREAM.run(LLM_CONTINUAL_STREAM.parse(spec), NullProgress(), "")
    values = {(m.name, m.labels.get("method")): m.value for m in result.metrics}
    for method in ("gradient-ascent", "fit"):
        assert values[("requests_served", method)] == 5
        assert 0.0 <= values[("forget_degree", method)] <= 1.0
        assert 0.0 <= values[("retain_utility", method)] <= 1.0
        assert values[("per_request_cost_s", method)] > 0
        assert ("relearned_answer_probability", method) in values
        assert ("scalability_retain_utility", method) in values
    assert ("requests_filtered", "fit") in values
    curves = {c.name: c for c in result.curves}
    fd = curves["continual-forget-degree"]
    # scored after requests 2, 4 and the last (5)
    assert [s.x for s in fd.series if s.label == "fit"] == [[2.0, 4.0, 5.0]]
    assert "continual-scalability" in curves
    assert any("FIT claim" in note for note in result.notes)
    json.dumps(result.model_dump(mode="json"))
