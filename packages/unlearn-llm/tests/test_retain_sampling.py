"""Neighbour sets of the forget targets and the llm-retain-sampling benchmark (arXiv:2509.05316)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.sampling import fact_rows
from unlearn_llm.worlds.facts import QA
from unlearn_llm.worlds.neighbours import split_by_hops
from unlearn_schema import NullProgress


def _qa(subject: str, relation: str, value: str) -> QA:
    return QA(subject, relation, value, (f"{subject} {relation}?",) * 2, "", "", "", (), "retain")


def test_neighbour_sets_by_hops_on_a_hand_built_graph() -> None:
    # X (to forget) was born in P and works for O; depth 0: X, P, O; depth 1: Y, P2
    forget = [_qa("X", "born_in", "P"), _qa("X", "works_for", "O")]
    retain = [
        _qa("Y", "born_in", "P"),  # shares P: direct
        _qa("Y", "profession", "baker"),  # Y is one edge from P: indirect
        _qa("P", "region", "the north"),  # direct
        _qa("O", "headquartered_in", "P2"),  # direct
        _qa("P2", "region", "the east"),  # indirect
        _qa("W", "born_in", "P4"),  # not connected: general
    ]
    general = [_qa("1 plus 2", "sum", "3")]
    direct, indirect, rest = split_by_hops(forget, retain, general)
    assert [(q.subject, q.relation) for q in direct] == [
        ("Y", "born_in"),
        ("P", "region"),
        ("O", "headquartered_in"),
    ]
    assert [(q.subject, q.relation) for q in indirect] == [("Y", "profession"), ("P2", "region")]
    assert [(q.subject, q.relation) for q in rest] == [("W", "born_in"), ("1 plus 2", "sum")]
    assert fact_rows(rest) == {rest[0].key: (0, 1), rest[1].key: (2, 3)}


def test_world_modules_cover_every_forget_person() -> None:
    from unlearn_llm.benchmarks.retain_sampling import build_modules
    from unlearn_llm.worlds.facts import build_world, tiny_world_params
    from unlearn_llm.worlds.neighbours import neighbour_split

    world = build_world(tiny_world_params(), seed=0)
    split = neighbour_split(world, seed=0)
    assert {m.entity for m in split.modules} == {qa.subject for qa in world.split("forget")}
    assert sorted(qa.key for m in split.modules for qa in m.general) == sorted(
        qa.key for qa in split.general
    )
    retain_keys = {qa.key for qa in split.retain}
    assert (
        len(retain_keys)
        == len(split.retain)
        == len(world.split("retain")) + len(world.split("general"))
    )
    modules = build_modules(split)
    assert sum(len(m.forget) for m in modules) == 2 * len(split.forget)  # 2 phrasings


def test_a_miniature_run_scores_every_strategy_per_set(tmp_path: Any) -> None:
    from unlearn_llm.benchmarks.facts import MODEL_NAME, WORLD_NAME
    from unlearn_llm.benchmarks.retain_sampling import LLM_RETAIN_SAMPLING
    from unlearn_llm.worlds.facts import tiny_world_params
    from unlearn_schema import MethodConfig, ModelSpec, WorldSpec

    spec = LLM_RETAIN_SAMPLING.default_spec("quick")
    assert LLM_RETAIN_SAMPLING.parse(LLM_RETAIN_SAMPLING.default_spec("full"))
    refused = spec.model_copy(update={"methods": [MethodConfig(name="task-vector")]})
    with pytest.raises(ValueError, match="task-vector"):
        LLM_RETAIN_SAMPLING.parse(refused)
    twice = spec.model_copy(update={"params": {"retain_sets": ["direct", "direct"]}})
    with pytest.raises(ValueError, match="more than once"):
        LLM_RETAIN_SAMPLING.parse(twice)
    model: dict[str, Any] = {
        "hidden_size": 32,
        "layers": 1,
        "intermediate_size": 64,
        "heads": 2,
        "vocab_size": 384,
        "learning_rate": 5e-3,
        "batch_size": 16,
        "max_epochs": 4,
    }
    spec = spec.model_copy(
        update={
            "world": WorldSpec(name=WORLD_NAME, params=tiny_world_params().model_dump()),
            "model": ModelSpec(name=MODEL_NAME, params=model),
            "methods": [MethodConfig(name="gradient-difference", params={"batch_size": 8})],
            "params": {"budget": "steps", "steps": 2, "relearning": {"steps": 2}},
        }
    )
    result = LLM_RETAIN_SAMPLING.run(LLM_RETAIN_SAMPLING.parse(spec), NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= LLM_RETAIN_SAMPLING.metric_names
    value = {(m.name, m.labels["method"], m.labels["strategy"]): m.value for m in result.metrics}
    for strategy in ("one-to-one", "cyclic", "melu"):
        for name in ("forget", "direct", "indirect", "general"):
            assert (f"{name}_accuracy", "gradient-difference", strategy) in value
        assert value[("steps", "gradient-difference", strategy)] == 2
        shares = [
            value[(f"retain_share_{n}", "gradient-difference", strategy)]
            for n in ("direct", "indirect", "general")
        ]
        assert sum(shares) == pytest.approx(1.0)
        assert ("relearned_forget_knowledge", "gradient-difference", strategy) in value
    assert ("relearned_forget_knowledge", "oracle", "-") in value
    (heatmap,) = result.heatmaps
    assert len(heatmap.z) == 3 and len(heatmap.x) == 5
    assert any("pooled retain metric obscures" in note for note in result.notes)
    assert result.summary is not None and len(result.summary.rows) == 5
    json.dumps(result.model_dump())
