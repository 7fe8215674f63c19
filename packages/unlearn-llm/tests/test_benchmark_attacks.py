"""Recovery attacks inside the facts benchmarks: params, the runner, the gate, the report."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
from unlearn_llm.benchmarks import _attacks
from unlearn_llm.benchmarks._attacks import (
    ORACLE,
    OTHER_ORACLE,
    AttackConfig,
    CaseAttacks,
    default_attacks,
    parsed_attacks,
    recovery_attacks,
    summary_table,
)
from unlearn_llm.benchmarks.facts import LLM_FACTS_FULL, LLM_FACTS_QUICK
from unlearn_llm.models import tiny_model_params
from unlearn_llm.worlds.facts import tiny_world_params
from unlearn_schema import (
    AttackSpec,
    BenchmarkSpec,
    MethodConfig,
    NullProgress,
    Registry,
    SpecError,
)

RECOVERY = "unlearn_llm.attacks.recovery"


def identity_attack(target: Any, params: Any = None) -> Any:
    """No attack at all: knowledge = the clean forget answer probability."""
    from unlearn_llm.attacks.recovery import AttackOutcome
    from unlearn_llm.metrics.evaluate import score_facts

    scores = score_facts(target.model, target.tokenizer, target.forget, generate=False)
    knowledge = float(scores.answer_probability.mean())
    return AttackOutcome(
        attack="identity",
        knowledge=knowledge,
        knowledge_name="forget_answer_probability",
        truth_ratios=scores.truth_ratio,
        metrics={"clean_knowledge": knowledge, "items": float(len(target.forget))},
    )


def make_up_attack(target: Any, params: Any = None) -> Any:
    """A broken attack: it says every model knows every forget answer, the oracle too."""
    clean = identity_attack(target)
    clean.attack, clean.knowledge, clean.knowledge_name = "make-up", 1.0, "made_up"
    return clean


@pytest.fixture
def test_attacks(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The recovery registry replaced by two test attacks (real ones are tested alone)."""
    import unlearn_llm.attacks.recovery as recovery

    monkeypatch.setattr(recovery, "identity_attack", identity_attack, raising=False)
    monkeypatch.setattr(recovery, "make_up_attack", make_up_attack, raising=False)
    registry = Registry(
        "attack",
        [
            AttackSpec(
                name="identity",
                params="unlearn_llm.attacks.membership:MinKParams",
                entry=f"{RECOVERY}:identity_attack",
                summary="No attack (test).",
            ),
            AttackSpec(
                name="make-up",
                params="unlearn_schema:NoParams",
                entry=f"{RECOVERY}:make_up_attack",
                summary="Knowledge made up (test).",
            ),
        ],
    )
    monkeypatch.setattr(_attacks, "recovery_attacks", lambda: registry)
    return registry


def _with(spec: BenchmarkSpec, **update: Any) -> BenchmarkSpec:
    return spec.model_copy(update=update)


def test_recovery_attacks_leave_out_membership_inference() -> None:
    names = set(recovery_attacks())
    assert not names & {"loss", "zlib", "min-k", "min-k++", "reference"}


@pytest.mark.parametrize("benchmark", [LLM_FACTS_QUICK, LLM_FACTS_FULL], ids=lambda b: b.name)
def test_default_specs_run_every_recovery_attack(benchmark: Any) -> None:
    for size in ("quick", "full"):
        spec = benchmark.default_spec(size)
        names = [attack["name"] for attack in spec.params["attacks"]]
        assert names == list(recovery_attacks())
        assert benchmark.parse(spec).params.attacks == default_attacks(size)


def test_an_unknown_attack_or_bad_attack_param_is_named(test_attacks: Registry) -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    attacks = [{"name": "identity", "params": {"k": 2.0}}, {"name": "identiti"}]
    with pytest.raises(SpecError) as error:
        LLM_FACTS_QUICK.parse(_with(spec, params={**spec.params, "attacks": attacks}))
    lines = error.value.problems
    assert any(line.startswith("params.attacks[0].params.k:") and "2.0" in line for line in lines)
    unknown = next(line for line in lines if line.startswith("params.attacks[1].name:"))
    assert "unknown attack 'identiti'" in unknown and "did you mean 'identity'" in unknown
    assert "accepted: identity, make-up" in unknown
    # membership inference is another entry shape: not accepted as a recovery attack
    twice = [{"name": "identity"}, {"name": "identity"}]
    for attacks, message in (
        ([{"name": "loss"}], r"params\.attacks\[0\]\.name: unknown attack 'loss'"),
        (twice, r"params\.attacks: each attack runs once.*identity"),
        (
            [{"name": "identity", "params": {"kk": 1}}],
            r"attacks\[0\]\.params\.kk: .*accepted fields: k",
        ),
    ):
        with pytest.raises(SpecError, match=message):
            LLM_FACTS_QUICK.parse(_with(spec, params={**spec.params, "attacks": attacks}))


def test_attacks_are_parsed_once_with_the_spec(test_attacks: Registry) -> None:
    # the recipe reads typed params from the parsed spec; nothing parses them again
    spec = LLM_FACTS_QUICK.default_spec("quick")
    attacks = [{"name": "identity", "params": {"k": 0.5}}, {"name": "make-up"}]
    parsed = LLM_FACTS_QUICK.parse(_with(spec, params={**spec.params, "attacks": attacks}))
    typed = parsed_attacks(parsed.params.attacks)
    assert [attack.name for attack in typed] == ["identity", "make-up"]
    assert type(typed[0].params).__name__ == "MinKParams" and typed[0].params.k == 0.5
    assert typed[0].spec is test_attacks["identity"]
    with pytest.raises(ValueError, match="never validated"):
        _ = AttackConfig.model_construct(name="identity", params={}).parsed


def test_parse_names_an_unknown_attack_with_its_field_path() -> None:
    # what `unlearn-bench validate` reports (the app's own check: tests/test_contract.py)
    spec = LLM_FACTS_QUICK.default_spec("quick")
    spec = _with(spec, params={**spec.params, "attacks": [{"name": "no-such-attack"}]})
    with pytest.raises(SpecError) as caught:
        LLM_FACTS_QUICK.parse(spec)
    assert any(
        p.startswith("params.attacks[0].name: unknown attack 'no-such-attack'")
        for p in caught.value.problems
    ), caught.value.problems


MINI_WORLD = tiny_world_params().model_dump()
MINI_MODEL = tiny_model_params().model_dump()


def test_every_model_has_a_row_for_every_attack(tmp_path: Any, test_attacks: Registry) -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    spec = _with(
        spec,
        world=spec.world.model_copy(update={"params": MINI_WORLD}),
        model=spec.model.model_copy(update={"params": MINI_MODEL}),
        methods=[MethodConfig(name="npo", params={"steps": 3, "eval_every": 3})],
        params={
            "retain_eval_facts": 8,
            "retain_eval_passages": 4,
            "attacks": [{"name": "identity"}, {"name": "make-up"}],
            "suppressed": ["output-block"],
        },
    )
    parsed = LLM_FACTS_QUICK.parse(spec)
    result = LLM_FACTS_QUICK.run(parsed, NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= LLM_FACTS_QUICK.metric_names
    hider = "suppressed (output block)"
    models = {ORACLE, OTHER_ORACLE, "original", "npo", hider}
    rows = {
        (m.labels["method"], m.labels["attack"])
        for m in result.metrics
        if m.name == "attack_knowledge"
    }
    assert rows == {(model, attack) for model in models for attack in ("identity", "make-up")}
    assert {"attack:identity", "attack:make-up"} <= set(result.timings)
    assert any(n.startswith("attacks took") and "on 5 attacked models" in n for n in result.notes)

    def value(name: str, **labels: str) -> Any:
        found = [
            m
            for m in result.metrics
            if m.name == name and all(m.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    # The identity attack is the clean evaluation: attacked = clean forget quality, and
    # the knowledge is set beside the oracle's knowledge under the same attack.
    for model in models - {ORACLE}:
        clean = value("forget_quality", method=model).value
        attacked = value("attacked_forget_quality", method=model, attack="identity")
        assert attacked.value == pytest.approx(clean, abs=1e-12)
        robust = value("robust_forget_quality", method=model)
        assert robust.value <= clean
        knowledge = value("attack_knowledge", method=model, attack="identity")
        assert (
            knowledge.reference == value("attack_knowledge", method=ORACLE, attack="identity").value
        )
    assert value("attack_metric", method="npo", attack="identity", measure="items").value > 0
    # The designed hider hides the answers from the identity "attack" as from the clean
    # evaluation: it knows less than the original under it.
    hidden = value("attack_knowledge", method=hider, attack="identity").value
    assert hidden < value("attack_knowledge", method="original", attack="identity").value
    # The gate: identity leaves the oracles as they are; make-up does not.
    assert value("attack_informative", attack="identity").value == 1.0
    assert value("attack_informative", attack="make-up").value == 0.0
    flagged = value("attack_knowledge", method="npo", attack="make-up")
    assert flagged.flag == "degenerate"
    assert any("attack make-up is uninformative" in note for note in result.notes)
    assert sum("attacked:" in note for note in result.notes) == len(models)
    # The summary table: oracle row first, one row per model, one column per attack.
    assert result.summary is not None
    table = result.summary
    assert [row[0] for row in table.rows][:3] == [ORACLE, OTHER_ORACLE, "original"]
    assert len(table.rows) == len(models) and len(table.header) == 3 + 2
    curve = next(c for c in result.curves if c.name == "robust-forget-quality")
    assert {s.label for s in curve.series} == models - {ORACLE}
    assert "other-seed oracle, worst attack" in curve.hlines
    json.loads(result.model_dump_json())


def _outcome(knowledge: float, ratios: list[float] | None, **metrics: float) -> Any:
    from unlearn_llm.attacks.recovery import AttackOutcome

    array = None if ratios is None else np.array(ratios)
    return AttackOutcome("a", knowledge, "k", array, dict(metrics))


def _case(outcomes: dict[str, dict[str, Any]], clean: dict[str, float]) -> CaseAttacks:
    case = CaseAttacks([], None, {})  # type: ignore[arg-type]
    case.outcomes, case.clean_forget_quality = outcomes, clean
    return case


def test_robust_forget_quality_is_the_worst_informative_case() -> None:
    oracle_ratios = list(np.linspace(0.5, 1.5, 20))
    shifted = list(np.linspace(0.05, 0.2, 20))  # far from the oracle's: p near 0
    case = _case(
        {
            ORACLE: {
                "kept": _outcome(0.1, oracle_ratios, clean_knowledge=0.1),
                "creates": _outcome(0.9, oracle_ratios, clean_knowledge=0.1),
            },
            OTHER_ORACLE: {
                "kept": _outcome(0.12, oracle_ratios),
                "creates": _outcome(0.9, oracle_ratios),
            },
            "hider": {"kept": _outcome(0.8, shifted), "creates": _outcome(0.9, shifted)},
        },
        {OTHER_ORACLE: 0.9, "hider": 0.5},
    )
    verdicts = case.informative(tolerance=0.1)
    assert verdicts["kept"] == (True, "")
    assert not verdicts["creates"][0] and "moves from 0.1 to 0.9" in verdicts["creates"][1]
    report = case.report({"seed": "0"}, tolerance=0.1)
    robust = {m.labels["method"]: m for m in report.metrics if m.name == "robust_forget_quality"}
    assert robust["hider"].value < 1e-6 and robust["hider"].labels["worst_attack"] == "kept"
    assert robust[OTHER_ORACLE].value == pytest.approx(0.9)  # identical ratios: p = 1
    hider = next(row for row in report.rows if row.label == "hider")
    assert set(hider.attacked) == {"kept"} and set(hider.uninformative) == {"creates"}
    table = summary_table([("", row) for row in report.rows], ["kept", "creates"])
    assert table.rows[0][:3] == [ORACLE, "reference", "-"]
    assert table.rows[2][4].startswith("0.9 / (")  # flagged attack in brackets


def test_the_oracles_disagreeing_under_attack_makes_it_uninformative() -> None:
    oracle_ratios = list(np.linspace(0.5, 1.5, 20))
    other = list(np.linspace(3.0, 4.0, 20))
    case = _case(
        {ORACLE: {"a": _outcome(0.1, oracle_ratios)}, OTHER_ORACLE: {"a": _outcome(0.1, other)}},
        {OTHER_ORACLE: 0.9},
    )
    ok, why = case.informative(tolerance=0.1)["a"]
    assert not ok and "other-seed oracle's attacked forget quality" in why


def see_through_attack(target: Any, params: Any = None) -> Any:
    """Reads the model under an output-layer wrapper: sees through the designed blocker."""
    inner = getattr(target.model, "inner", target.model)
    return identity_attack(dataclasses.replace(target, model=inner))


def test_attack_power_finds_the_attack_that_sees_through_the_hider(
    tmp_path: Any, test_attacks: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import unlearn_llm.attacks.recovery as recovery
    from unlearn_llm.benchmarks.attack_power import LLM_ATTACK_POWER

    monkeypatch.setattr(recovery, "see_through_attack", see_through_attack, raising=False)
    registry = Registry(
        "attack",
        [
            test_attacks["identity"],
            AttackSpec(
                name="see-through",
                params="unlearn_schema:NoParams",
                entry=f"{RECOVERY}:see_through_attack",
                summary="Reads under the output layer (test).",
            ),
        ],
    )
    monkeypatch.setattr(_attacks, "recovery_attacks", lambda: registry)
    spec = LLM_ATTACK_POWER.default_spec("quick")
    spec = _with(
        spec,
        world=spec.world.model_copy(update={"params": MINI_WORLD}),
        model=spec.model.model_copy(update={"params": MINI_MODEL}),
        methods=[MethodConfig(name="npo", params={"steps": 3})],
        params={
            "finetune_epochs": 2,
            "retain_eval_facts": 8,
            "suppressed": ["output-block"],
            "attacks": [{"name": "identity"}, {"name": "see-through"}],
            "larger": [{"world": {**MINI_WORLD, "people": 20}, "model": MINI_MODEL}],
        },
    )
    result = LLM_ATTACK_POWER.run(LLM_ATTACK_POWER.parse(spec), NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= LLM_ATTACK_POWER.metric_names
    power = {
        (m.labels["recipe"], m.labels["size"], m.labels["attack"]): m.value
        for m in result.metrics
        if m.name == "attack_power"
    }
    sizes = ("16 people, 1x32", "20 people, 1x32")
    # the blocker hides the answers from the plain scoring; reading under it finds them,
    # at every size
    for recipe, size in ((recipe, size) for recipe in ("one-stage", "two-stage") for size in sizes):
        assert power[(recipe, size, "see-through")] == 1.0, result.notes
        assert power[(recipe, size, "identity")] == 0.0, result.notes
    recovered = {
        (m.labels["recipe"], m.labels["attack"], m.labels["method"]): m.value
        for m in result.metrics
        if m.name == "attack_recovery" and m.labels["size"] == sizes[0]
    }
    assert recovered[("one-stage", "see-through", "suppressed (output block)")] > 0.9
    assert ("two-stage", "identity", "npo") in recovered
    assert result.summary is not None and [r[0] for r in result.summary.rows] == [
        "identity",
        "see-through",
    ]
    recipes = ("one-stage", "two-stage")
    assert result.summary.header[1:] == [f"{r}, {s}" for s in sizes for r in recipes]
    assert any("two-stage, 20 people, 1x32: attack see-through: power" in n for n in result.notes)


def test_attack_power_sizes_are_the_spec_and_the_larger_ones() -> None:
    from unlearn_llm.benchmarks.attack_power import LLM_ATTACK_POWER

    full = LLM_ATTACK_POWER.parse(LLM_ATTACK_POWER.default_spec("full"))
    assert [s.world.people for s in full.params.larger] == [200]
    assert full.world.people == 60  # the quick size first, then llm-facts-full's
    assert LLM_ATTACK_POWER.parse(LLM_ATTACK_POWER.default_spec("quick")).params.larger == []
    spec = LLM_ATTACK_POWER.default_spec("quick")
    twice = [{"world": spec.world.params, "model": spec.model.params}]
    with pytest.raises(SpecError, match=r"params\.larger: each size once"):
        LLM_ATTACK_POWER.parse(_with(spec, params={**spec.params, "larger": twice}))


def test_the_two_stage_original_fine_tunes_the_oracle_on_every_fact(tiny: Any) -> None:
    from unlearn_llm.models import trained_model, training_steps

    params = tiny.params.model_copy(update={"max_epochs": 12})
    original = trained_model(tiny.world, "original", 0, params, tiny.tokenizer, finetune_epochs=2)
    oracle = trained_model(tiny.world, "oracle", 0, params, tiny.tokenizer)
    assert original.path.name.endswith("-two-stage2") and original.log["finetune_epochs"] == 2
    assert original.log["epochs"] <= 2
    assert original.log["stage_one_steps"] == training_steps(oracle.log)
    assert training_steps(original.log) > original.log["stage_one_steps"]
    # the second stage starts from the oracle's weights, so it did learn from there
    first = next(iter(original.model.parameters()))
    assert not torch_equal(first, next(iter(oracle.model.parameters())))
    again = trained_model(tiny.world, "original", 0, params, tiny.tokenizer, finetune_epochs=2)
    assert again.from_cache and torch_equal(first, next(iter(again.model.parameters())))


def torch_equal(a: Any, b: Any) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_the_full_size_attacks_one_forget_ratio_without_hiders() -> None:
    run = LLM_FACTS_FULL.parse(LLM_FACTS_FULL.default_spec("full")).params
    assert run.attack_forget_fraction == 0.1 and run.forget_fractions is not None
    assert run.attack_forget_fraction in run.forget_fractions and run.suppressed == []
    spec = LLM_FACTS_FULL.default_spec("full")
    bad = {**spec.params, "attack_forget_fraction": 0.2}
    with pytest.raises(SpecError, match=r"attack_forget_fraction=0\.2 is not one of"):
        LLM_FACTS_FULL.parse(_with(spec, params=bad))


@pytest.mark.slow
def test_only_the_chosen_forget_ratio_is_attacked(tmp_path: Any, test_attacks: Registry) -> None:
    spec = LLM_FACTS_QUICK.default_spec("quick")
    spec = _with(
        spec,
        world=spec.world.model_copy(update={"params": MINI_WORLD}),
        model=spec.model.model_copy(update={"params": MINI_MODEL}),
        methods=[MethodConfig(name="npo", params={"steps": 3})],
        params={
            "retain_eval_facts": 8,
            "retain_eval_passages": 4,
            "forget_fractions": [0.125, 0.25],
            "attack_forget_fraction": 0.25,
            "attacks": [{"name": "identity"}],
        },
    )
    result = LLM_FACTS_QUICK.run(LLM_FACTS_QUICK.parse(spec), NullProgress(), str(tmp_path))
    attacked = {m.labels["forget_ratio"] for m in result.metrics if m.name == "attack_knowledge"}
    scored = {m.labels["forget_ratio"] for m in result.metrics if m.name == "forget_quality"}
    assert attacked == {"0.25"} and scored == {"0.125", "0.25"}
