from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks import LLM_FACTS_FULL, LLM_FACTS_QUICK, method_label
from unlearn_schema import MethodConfig, NullProgress, SpecError


@pytest.mark.parametrize("benchmark", [LLM_FACTS_QUICK, LLM_FACTS_FULL], ids=lambda b: b.name)
@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_are_valid(benchmark: Any, size: Any) -> None:
    spec = benchmark.default_spec(size)
    assert spec.benchmark == benchmark.name and spec.size == size
    benchmark.check(spec)
    labels = {method_label(m) for m in spec.methods}
    assert {"gradient-ascent", "gradient-difference", "npo"} <= labels


def test_full_spec_runs_every_method_on_several_seeds() -> None:
    from unlearn_llm.methods import METHODS

    spec = LLM_FACTS_FULL.default_spec("full")
    assert len(spec.seeds) >= 3
    assert {m.name for m in spec.methods} == set(METHODS)


def test_check_names_a_bad_method_parameter() -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    bad = spec.model_copy(update={"methods": [MethodConfig(name="npo", params={"beta": 0})]})
    with pytest.raises(
        SpecError, match=r"(?s)methods\[npo\].params.*beta.*greater than 0 \(got 0\)"
    ):
        LLM_FACTS_QUICK.check(bad)
    wrong_world = spec.model_copy(
        update={"world": spec.world.model_copy(update={"params": {"people": 3}})}
    )
    with pytest.raises(SpecError, match="people"):
        LLM_FACTS_QUICK.check(wrong_world)


def test_own_checkpoint_in_the_benchmark_spec_is_explained() -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    model = spec.model.model_copy(update={"checkpoint": "/no/such/dir"})
    with pytest.raises(ValueError, match="load_causal_lm"):
        LLM_FACTS_QUICK.check(spec.model_copy(update={"model": model}))


def test_a_miniature_run_reports_every_metric_family(tmp_path: Any) -> None:
    from unlearn_llm.worlds.facts import FactsWorldParams, build_world
    from unlearn_schema import Fact, FactForgetRequest

    mini = FactsWorldParams(
        people=16,
        organisations=4,
        places=4,
        general=6,
        forget_fraction=0.25,
        holdout_fraction=0.25,
    )
    facts = [
        Fact(subject=qa.subject, relation=qa.relation, object=qa.object)
        for qa in build_world(mini, 0).split("retain")[:12]
    ]
    spec = LLM_FACTS_QUICK.default_spec("quick")
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(
                update={
                    "params": {
                        "people": 16,
                        "organisations": 4,
                        "places": 4,
                        "general": 6,
                        "forget_fraction": 0.25,
                        "holdout_fraction": 0.25,
                    }
                }
            ),
            "model": spec.model.model_copy(
                update={
                    "params": {
                        "hidden_size": 32,
                        "layers": 1,
                        "heads": 2,
                        "intermediate_size": 64,
                        "vocab_size": 384,
                        "max_epochs": 3,
                        "batch_size": 32,
                    }
                }
            ),
            "methods": [
                MethodConfig(name="gradient-ascent", params={"steps": 4, "eval_every": 2}),
                MethodConfig(name="npo", params={"steps": 4, "eval_every": 2, "projection": {}}),
            ],
            "params": {"retain_eval_facts": 8},
            "requests": [FactForgetRequest(facts=facts)],
        }
    )
    LLM_FACTS_QUICK.check(spec)
    result = LLM_FACTS_QUICK.run(spec, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    for expected in (
        "validity_gate_passed",
        "forget_quality",
        "model_utility",
        "privleak",
        "mia_auc",
        "forget_extraction_strength",
        "verbatim_memorisation",
        "knowledge_memorisation_forget",
    ):
        assert expected in names
    attacks = {m.labels.get("attack") for m in result.metrics if m.name == "mia_auc"}
    assert attacks == {"loss", "zlib", "min_k", "min_k_plus_plus", "reference"}
    methods = {m.labels.get("method") for m in result.metrics if m.name == "forget_quality"}
    assert {"gradient-ascent", "npo+gu", "original"} <= methods
    curve_names = {c.name for c in result.curves}
    assert "forget-quality-vs-utility" in curve_names and "steps-forget-quality" in curve_names
    assert any("validity gate" in note for note in result.notes)
    assert any("the 12 facts named in the spec's requests" in note for note in result.notes)
    json.loads(result.model_dump_json())  # serialisable, finite


@pytest.mark.slow
def test_quick_benchmark_passes_its_validity_gate(tmp_path: Any) -> None:
    result = LLM_FACTS_QUICK.run(
        LLM_FACTS_QUICK.default_spec("quick"), NullProgress(), str(tmp_path)
    )
    gate = next(m for m in result.metrics if m.name == "validity_gate_passed")
    assert gate.value == 1.0, result.notes
    accuracy = next(
        m for m in result.metrics if m.name == "original_training_exact_answer_accuracy"
    )
    assert accuracy.value >= 0.95
    methods = {m.labels["method"] for m in result.metrics if m.name == "privleak"}
    assert len(methods - {"original", "oracle (other seed)"}) >= 3


def test_fact_requests_in_the_spec_are_checked_against_the_world() -> None:
    from unlearn_llm.worlds.facts import build_world, world_params_for
    from unlearn_schema import Fact, FactForgetRequest, TextForgetRequest, TextSample

    spec = LLM_FACTS_QUICK.default_spec("quick")
    qa = build_world(world_params_for("quick"), 0).split("retain")[3]
    good = FactForgetRequest(
        facts=[Fact(subject=qa.subject, relation=qa.relation, object=qa.object)]
    )
    LLM_FACTS_QUICK.check(spec.model_copy(update={"requests": [good]}))
    bad = FactForgetRequest(facts=[Fact(subject="Nobody", relation="born_in", object="Nowhere")])
    with pytest.raises(ValueError, match="not trained facts of this world"):
        LLM_FACTS_QUICK.check(spec.model_copy(update={"requests": [bad]}))
    text = TextForgetRequest(samples=[TextSample(text="some text")])
    with pytest.raises(ValueError, match=r"requests\[0\].kind='text' is not supported"):
        LLM_FACTS_QUICK.check(spec.model_copy(update={"requests": [text]}))
