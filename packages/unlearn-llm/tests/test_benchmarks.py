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


MINI_WORLD = {
    "people": 16,
    "organisations": 4,
    "places": 4,
    "general": 6,
    "forget_fraction": 0.25,
    "holdout_fraction": 0.25,
}
MINI_MODEL = {
    "hidden_size": 32,
    "layers": 1,
    "heads": 2,
    "intermediate_size": 64,
    "vocab_size": 384,
    "max_epochs": 3,
    "batch_size": 32,
}


def test_a_miniature_run_reports_every_metric_family(tmp_path: Any) -> None:
    from unlearn_llm.worlds.facts import FactsWorldParams, build_world
    from unlearn_schema import Fact, FactForgetRequest

    mini = FactsWorldParams.model_validate(MINI_WORLD)
    facts = [
        Fact(subject=qa.subject, relation=qa.relation, object=qa.object)
        for qa in build_world(mini, 0).split("retain")[:12]
    ]
    spec = LLM_FACTS_QUICK.default_spec("quick")
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(update={"params": MINI_WORLD}),
            "model": spec.model.model_copy(update={"params": MINI_MODEL}),
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
        "verbatim_memorisation_forget",
        "verbatim_memorisation_retain",
        "knowledge_memorisation_forget",
        "knowledge_memorisation_retain",
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


def test_full_code_path_aggregates_seeds_and_forget_ratios(tmp_path: Any) -> None:
    """The nightly's path (seeds x forget ratios x extra oracles) on a shrunken spec."""
    spec = LLM_FACTS_FULL.default_spec("full")
    spec = spec.model_copy(
        update={
            "seeds": [0, 1],
            "world": spec.world.model_copy(update={"params": MINI_WORLD}),
            "model": spec.model.model_copy(update={"params": MINI_MODEL}),
            "methods": [
                MethodConfig(name="gradient-ascent", params={"steps": 2, "eval_every": 2}),
                MethodConfig(name="idk-po", params={"steps": 2, "eval_every": 2}),
            ],
            "params": {
                **spec.params,
                "retain_eval_facts": 8,
                "retain_eval_passages": 4,
                "forget_fractions": [0.125, 0.25],
            },
        }
    )
    LLM_FACTS_FULL.check(spec)
    result = LLM_FACTS_FULL.run(spec, NullProgress(), str(tmp_path))
    gates = [m for m in result.metrics if m.name == "validity_gate_passed"]
    assert {(m.labels["seed"], m.labels["forget_ratio"]) for m in gates} == {
        (seed, ratio) for seed in ("0", "1") for ratio in ("0.125", "0.25")
    }
    # 2 extra oracles per case: the other seed's oracle and seed + 1000.
    assert any("extra oracle seeds [1, 1000]" in note for note in result.notes)
    assert any("extra-oracle forget quality min" in note for note in result.notes)
    means = {
        (m.labels["method"], m.labels["forget_ratio"]): m
        for m in result.metrics
        if m.name == "forget_quality_seed_mean"
    }
    assert set(means) >= {("gradient-ascent", "0.125"), ("idk-po", "0.25")}
    for (method, ratio), mean in means.items():
        per_seed = [
            m.value
            for m in result.metrics
            if m.name == "forget_quality"
            and m.labels.get("method") == method
            and m.labels.get("forget_ratio") == ratio
        ]
        assert len(per_seed) == 2 and mean.labels["seeds"] == "2"
        assert abs(mean.value - sum(per_seed) / 2) < 1e-12
    # The two ratios forget nested sets: 2 and 4 people (8 and 16 facts).
    assert any("forget ratio 0.125" in n and "8 forget facts" in n for n in result.notes)
    assert any("forget ratio 0.25" in n and "16 forget facts" in n for n in result.notes)
    json.loads(result.model_dump_json())


def test_forget_fractions_are_checked_against_the_world() -> None:
    spec = LLM_FACTS_FULL.default_spec("full")
    bad = spec.model_copy(update={"params": {**spec.params, "forget_fractions": [0.2]}})
    with pytest.raises(ValueError, match=r"forget_fractions has 0.2: accepted are shares in"):
        LLM_FACTS_FULL.check(bad)


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
