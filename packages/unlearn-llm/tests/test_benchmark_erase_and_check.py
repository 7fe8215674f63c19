"""The llm-erase-and-check benchmark: specs parse and are checked, and a tiny run keeps the
certificate, counts calls as the closed form says and serialises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks.erase_and_check import FILTER_NAME, LLM_ERASE_AND_CHECK
from unlearn_llm.benchmarks.facts import WORLD_NAME
from unlearn_llm.defences.safety_prompts import SafetyClassifierParams, SafetyPromptsParams
from unlearn_llm.worlds.facts import tiny_world_params
from unlearn_schema import BenchmarkSpec, ModelSpec, NullProgress, SpecError, WorldSpec


@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_parse(size: Any) -> None:
    parsed = LLM_ERASE_AND_CHECK.parse(LLM_ERASE_AND_CHECK.default_spec(size))
    assert parsed.model is not None and parsed.params.attack_lengths["suffix"] >= 1


def test_a_size_list_that_never_reaches_the_attack_length_is_named() -> None:
    spec = LLM_ERASE_AND_CHECK.default_spec("quick")
    bad = spec.model_copy(update={"params": {**spec.params, "infusion_sizes": [0, 1]}})
    with pytest.raises(SpecError, match=r"infusion_sizes.*below the attack length 3"):
        LLM_ERASE_AND_CHECK.parse(bad)


def test_tiny_run_keeps_the_certificate(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEARN_LLM_CACHE", str(tmp_path))
    model = SafetyClassifierParams(epochs=15, prompts=SafetyPromptsParams(per_label=120))
    params = {
        "eval_prompts": 16,
        "suffix_sizes": [0, 2, 4],
        "insertion_sizes": [0, 3],
        "infusion_sizes": [0, 2],
        "attacked_prompts": 6,
        "attack_lengths": {"suffix": 3, "insertion": 3, "infusion": 2},
        "attack_steps": 20,
        "greedy_iterations": [0, 2],
        "gradient_iterations": [0, 3],
        "ranked_iterations": [0, 2],
    }
    spec = BenchmarkSpec(
        benchmark="llm-erase-and-check",
        seeds=[0],
        world=WorldSpec(name=WORLD_NAME, params=tiny_world_params().model_dump()),
        model=ModelSpec(name=FILTER_NAME, params=model.model_dump()),
        params=params,
    )
    result = LLM_ERASE_AND_CHECK.run(LLM_ERASE_AND_CHECK.parse(spec), NullProgress(), "")

    def values(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted(m.labels.items())): m.value for m in result.metrics if m.name == name}

    assert set(values("certificate_violations").values()) == {0.0}
    # one per d >= the attack's length: suffix d=4, insertion d=3, infusion d=2
    assert len(values("certificate_violations")) == 3
    certified = {v for v in values("certified_accuracy").values()}
    assert certified == {values("filter_accuracy")[(("split", "harmful"),)]}
    # erase-and-check never flags fewer clean harmful prompts than the bare filter
    assert min(values("clean_harmful_accuracy").values()) >= certified.pop()
    calls, counts = values("checks_per_prompt"), values("subsequence_count")
    for key, count in counts.items():
        assert calls[key] <= count + 1e-9  # a flagged harmless prompt stops early
    assert counts[(("d", "0"), ("mode", "infusion"))] == 1.0
    assert {c.name for c in result.curves} >= {
        "erase-and-check-accuracy",
        "erase-and-check-cost",
        "gradient-erase-and-check",
    }
    # GradEC with 0 iterations is the bare filter: one call, no gradient step, same verdicts
    gradient_calls, steps = (
        values("gradient_checks_per_prompt"),
        values("gradient_steps_per_prompt"),
    )
    assert gradient_calls[(("iterations", "0"),)] == 1.0 and steps[(("iterations", "0"),)] == 0.0
    assert 1.0 <= gradient_calls[(("iterations", "3"),)] <= 4.0
    assert steps[(("iterations", "3"),)] <= 3.0
    bare = values("filter_accuracy")
    assert (
        values("gradient_harmless_accuracy")[(("iterations", "0"),)]
        == bare[(("split", "harmless"),)]
    )
    gradient_adversarial = values("gradient_adversarial_accuracy")
    for mode, length in (("suffix", 3), ("insertion", 3), ("infusion", 2)):
        zero = gradient_adversarial[(("iterations", "0"), ("mode", mode))]
        assert zero == bare[(("length", str(length)), ("mode", mode), ("split", "attacked"))]
        assert gradient_adversarial[(("iterations", "3"), ("mode", mode))] >= zero
    # likewise the gradient-ranked variant: T + 1 calls and T gradient steps at most
    ranked_calls, ranked_steps = (
        values("ranked_checks_per_prompt"),
        values("ranked_steps_per_prompt"),
    )
    assert ranked_calls[(("iterations", "0"),)] == 1.0
    assert (
        ranked_calls[(("iterations", "2"),)] <= 3.0 and ranked_steps[(("iterations", "2"),)] <= 2.0
    )
    ranked_adversarial = values("ranked_adversarial_accuracy")
    for mode in ("suffix", "insertion", "infusion"):
        zero = ranked_adversarial[(("iterations", "0"), ("mode", mode))]
        assert zero == gradient_adversarial[(("iterations", "0"), ("mode", mode))]
        assert ranked_adversarial[(("iterations", "2"), ("mode", mode))] >= zero
    assert result.summary is not None and len(result.summary.rows) == 3 + 2 + 2
    json.loads(result.model_dump_json())
