from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks.facts import LLM_FACTS_FULL, LLM_FACTS_QUICK, method_label
from unlearn_llm.benchmarks.speed import LLM_SPEED
from unlearn_llm.models import tiny_model_params
from unlearn_llm.worlds.facts import tiny_world_params
from unlearn_schema import BenchmarkSpec, MethodConfig, NullProgress, SpecError

BENCHMARKS = [LLM_FACTS_QUICK, LLM_FACTS_FULL, LLM_SPEED]


def _with(spec: BenchmarkSpec, **update: Any) -> BenchmarkSpec:
    return spec.model_copy(update=update)


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.name)
@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_parse(benchmark: Any, size: Any) -> None:
    spec = benchmark.default_spec(size)
    assert spec.benchmark == benchmark.name and spec.size == size
    parsed = benchmark.parse(spec)
    assert parsed.world is not None and parsed.model is not None
    if benchmark is not LLM_SPEED:
        labels = {method_label(m) for m in parsed.methods}
        assert {"gradient-ascent", "gradient-difference", "npo", "npo+gu"} <= labels


def test_full_spec_runs_every_method_on_several_seeds() -> None:
    from unlearn_llm.methods import METHODS

    spec = LLM_FACTS_FULL.default_spec("full")
    assert len(spec.seeds) >= 3
    assert {m.name for m in spec.methods} == set(METHODS)


# --- the contract: every field a benchmark does not read is an error naming it ---


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.name)
def test_unknown_method_is_named(benchmark: Any) -> None:
    spec = _with(benchmark.default_spec("quick"), methods=[MethodConfig(name="no-such-method")])
    if benchmark.methods is None:
        expected = rf"methods: {benchmark.name} takes no methods, got \['no-such-method'\]"
    else:
        expected = r"methods\[0\]\.name: unknown method 'no-such-method'.*accepted: .*npo"
    with pytest.raises(SpecError, match=expected):
        benchmark.parse(spec)


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.name)
def test_unknown_metric_is_named(benchmark: Any) -> None:
    spec = _with(benchmark.default_spec("quick"), metrics=["no-such-metric"])
    with pytest.raises(SpecError, match="metrics: unknown metric 'no-such-metric'"):
        benchmark.parse(spec)


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.name)
@pytest.mark.parametrize("part", ["world", "model"])
def test_unread_world_or_model_field_is_named(benchmark: Any, part: str) -> None:
    spec = benchmark.default_spec("quick")
    given = getattr(spec, part)
    bad = given.model_copy(update={"params": {**given.params, "no_such_knob": -5}})
    with pytest.raises(SpecError, match=rf"{part}\.params\.no_such_knob"):
        benchmark.parse(_with(spec, **{part: bad}))
    other = given.model_copy(update={"name": "no-such-name"})
    with pytest.raises(SpecError, match=rf"{part}\.name: unknown {part} 'no-such-name'"):
        benchmark.parse(_with(spec, **{part: other}))


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.name)
def test_unread_run_param_checkpoint_and_request_are_named(benchmark: Any) -> None:
    from unlearn_schema import TextForgetRequest, TextSample

    spec = benchmark.default_spec("quick")
    with pytest.raises(SpecError, match=r"params\.no_such_knob"):
        benchmark.parse(_with(spec, params={**spec.params, "no_such_knob": 1}))
    model = spec.model.model_copy(update={"checkpoint": "/no/such/dir"})
    with pytest.raises(SpecError, match=r"model\.checkpoint: .* reads no checkpoint"):
        benchmark.parse(_with(spec, model=model))
    text = TextForgetRequest(samples=[TextSample(text="some text")])
    with pytest.raises(SpecError, match=r"requests\[0\]\.kind: 'text' is not read by"):
        benchmark.parse(_with(spec, requests=[text]))


def test_only_the_speed_benchmark_takes_one_seed() -> None:
    spec = _with(LLM_SPEED.default_spec("quick"), seeds=[0, 1])
    with pytest.raises(SpecError, match="seeds: unlearn-llm-speed takes at most 1 seed"):
        LLM_SPEED.parse(spec)
    assert LLM_FACTS_QUICK.max_seeds is None and LLM_FACTS_FULL.max_seeds is None
    parsed = LLM_FACTS_QUICK.parse(_with(LLM_FACTS_QUICK.default_spec("quick"), seeds=[0, 1]))
    assert parsed.seeds == [0, 1]


def test_parse_names_a_bad_method_parameter_and_world_field() -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    bad = _with(spec, methods=[MethodConfig(name="npo", params={"beta": 0})])
    with pytest.raises(
        SpecError, match=r"(?s)methods\[0\]\.params\.beta.*greater than 0 \(got 0\)"
    ):
        LLM_FACTS_QUICK.parse(bad)
    wrong_world = _with(spec, world=spec.world.model_copy(update={"params": {"people": 3}}))
    with pytest.raises(SpecError, match=r"world\.params.*people"):
        LLM_FACTS_QUICK.parse(wrong_world)


def test_a_method_twice_with_the_same_label_is_refused() -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    twice = [MethodConfig(name="npo"), MethodConfig(name="npo", params={"steps": 3})]
    with pytest.raises(SpecError, match=r"methods appear twice with the same label: \['npo'\]"):
        LLM_FACTS_QUICK.parse(_with(spec, methods=twice))


def test_a_spec_that_leaves_parts_out_gets_the_default_spec_parts() -> None:
    # A spec that leaves `methods` out gets the default spec's methods.
    spec = BenchmarkSpec(benchmark="llm-facts-quick")
    parsed = LLM_FACTS_QUICK.parse(spec)
    assert [method_label(m) for m in parsed.methods] == [
        "gradient-ascent",
        "gradient-difference",
        "npo",
        "npo+gu",
        "rmu",
        "test-time-steering",
        "kif",
        "kif-runtime",
    ]
    assert parsed.world == LLM_FACTS_QUICK.parse(LLM_FACTS_QUICK.default_spec("quick")).world


MINI_WORLD = tiny_world_params().model_dump()
MINI_MODEL = tiny_model_params().model_dump()


def test_a_miniature_run_reports_every_metric_family(tmp_path: Any) -> None:
    from unlearn_llm.worlds.facts import FactsWorldParams, build_world
    from unlearn_schema import Fact, FactForgetRequest

    mini = FactsWorldParams.model_validate(MINI_WORLD)
    facts = [
        Fact(subject=qa.subject, relation=qa.relation, object=qa.object)
        for qa in build_world(mini, 0).split("retain")[:12]
    ]
    spec = LLM_FACTS_QUICK.default_spec("quick")
    spec = _with(
        spec,
        world=spec.world.model_copy(update={"params": MINI_WORLD}),
        model=spec.model.model_copy(update={"params": MINI_MODEL}),
        methods=[
            MethodConfig(name="gradient-ascent", params={"steps": 4, "eval_every": 2}),
            MethodConfig(name="npo", params={"steps": 4, "eval_every": 2, "projection": {}}),
        ],
        params={"retain_eval_facts": 8},
        requests=[FactForgetRequest(facts=facts)],
    )
    parsed = LLM_FACTS_QUICK.parse(spec)
    result = LLM_FACTS_QUICK.run(parsed, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    # Every name a run reports is declared (so `metrics:` can select it).
    assert names <= LLM_FACTS_QUICK.metric_names, names - LLM_FACTS_QUICK.metric_names
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

    # `metrics: [x]` keeps only x.
    chosen = LLM_FACTS_QUICK.parse(_with(spec, metrics=["forget_quality", "privleak"]))
    selected = LLM_FACTS_QUICK.select_metrics(chosen, result)
    assert {m.name for m in selected.metrics} == {"forget_quality", "privleak"}
    assert len(selected.metrics) < len(result.metrics)


def test_full_code_path_aggregates_seeds_and_forget_ratios(tmp_path: Any) -> None:
    """The nightly's path (seeds x forget ratios x extra oracles) on a shrunken spec."""
    spec = LLM_FACTS_FULL.default_spec("full")
    spec = _with(
        spec,
        seeds=[0, 1],
        world=spec.world.model_copy(update={"params": MINI_WORLD}),
        model=spec.model.model_copy(update={"params": MINI_MODEL}),
        methods=[
            MethodConfig(name="gradient-ascent", params={"steps": 2, "eval_every": 2}),
            MethodConfig(name="idk-po", params={"steps": 2, "eval_every": 2}),
        ],
        params={
            **spec.params,
            "retain_eval_facts": 8,
            "retain_eval_passages": 4,
            "forget_fractions": [0.125, 0.25],
            "attack_forget_fraction": None,  # attack both ratios (the nightly: 0.1 only)
            # one cheap attack: the attack rows carry the seed and ratio labels too
            "attacks": [{"name": "quantization", "params": {"bits": [4]}}],
            "suppressed": [],
        },
    )
    result = LLM_FACTS_FULL.run(LLM_FACTS_FULL.parse(spec), NullProgress(), str(tmp_path))
    attacked = {
        (m.labels["seed"], m.labels["forget_ratio"], m.labels["method"])
        for m in result.metrics
        if m.name == "attack_knowledge"
    }
    assert len(attacked) == 2 * 2 * 5  # seeds x ratios x (oracle, other, original, 2 methods)
    assert {m.name for m in result.metrics} <= LLM_FACTS_FULL.metric_names
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
    bad = _with(spec, params={**spec.params, "forget_fractions": [0.2]})
    with pytest.raises(SpecError, match=r"forget_fractions has 0.2: accepted are shares in"):
        LLM_FACTS_FULL.parse(bad)


@pytest.mark.slow
def test_quick_benchmark_passes_its_validity_gate(tmp_path: Any) -> None:
    parsed = LLM_FACTS_QUICK.parse(LLM_FACTS_QUICK.default_spec("quick"))
    result = LLM_FACTS_QUICK.run(parsed, NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= LLM_FACTS_QUICK.metric_names
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
    from unlearn_schema import Fact, FactForgetRequest

    spec = LLM_FACTS_QUICK.default_spec("quick")
    qa = build_world(world_params_for("quick"), 0).split("retain")[3]
    good = FactForgetRequest(
        facts=[Fact(subject=qa.subject, relation=qa.relation, object=qa.object)]
    )
    LLM_FACTS_QUICK.parse(_with(spec, requests=[good]))
    bad = FactForgetRequest(facts=[Fact(subject="Nobody", relation="born_in", object="Nowhere")])
    with pytest.raises(SpecError, match="not trained facts of this world"):
        LLM_FACTS_QUICK.parse(_with(spec, requests=[bad]))
    full = LLM_FACTS_FULL.default_spec("full")
    with pytest.raises(SpecError, match="forget_fractions and requests cannot be combined"):
        LLM_FACTS_FULL.parse(_with(full, requests=[good]))


def test_the_speed_benchmark_reports_ratios_met_flags_and_the_load(tmp_path: Any) -> None:
    from unlearn_llm.benchmarks.speed import CONFIGS, TARGETS

    parsed = LLM_SPEED.parse(LLM_SPEED.default_spec("quick"))
    result = LLM_SPEED.run(parsed, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    assert names <= LLM_SPEED.metric_names, names - LLM_SPEED.metric_names
    ratios = {m.labels["config"]: m for m in result.metrics if m.name == "ratio_to_baseline"}
    assert set(ratios) == set(CONFIGS)
    assert all(m.value > 0 and m.direction == "lower" for m in ratios.values())
    met = {m.labels["config"]: m for m in result.metrics if m.name == "ratio_to_baseline_met"}
    assert set(met) == set(TARGETS)
    for label, flag in met.items():
        assert flag.value == float(ratios[label].value <= TARGETS[label])
        assert flag.direction == "higher"
    timings = [m for m in result.metrics if m.name == "seconds_per_step"]
    assert timings and all(m.unit == "s" for m in timings)
    assert any(n.startswith("baseline: plain forward+backward+AdamW step") for n in result.notes)
    assert any("load average" in n for n in result.notes)
    # The quick size also runs the time-to-target part against the retrain oracle.
    assert "oracle_retrain_wall_time" in names and "reached_target_forget_quality" in names
    json.loads(result.model_dump_json())


@pytest.mark.slow  # a fresh interpreter importing torch: ~5 s idle, 30 s on a loaded machine
def test_the_speed_benchmarks_memory_probe_runs_in_a_subprocess() -> None:
    from unlearn_llm.benchmarks.speed import _peak_memory

    parsed = LLM_SPEED.parse(LLM_SPEED.default_spec("quick"))
    row = _peak_memory("gradient-ascent", parsed)
    assert row is not None and row["peak_rss_mib"] >= row["increase_mib"] >= 0
