"""The llm-copy-suppression benchmark: specs parse and are checked, and a tiny run reports
every head on every heatmap, consistent metrics, and serialises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks.copy_suppression import (
    LLM_COPY_SUPPRESSION,
    MODEL_NAME,
    WORLD_NAME,
)
from unlearn_llm.circuits.params import AttentionOnlyParams, CopyWorldParams
from unlearn_schema import BenchmarkSpec, ModelSpec, NullProgress, SpecError, WorldSpec


@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_parse(size: Any) -> None:
    parsed = LLM_COPY_SUPPRESSION.parse(LLM_COPY_SUPPRESSION.default_spec(size))
    assert parsed.model is not None and parsed.model.layers >= 2


def test_a_k_beyond_the_vocabulary_is_named() -> None:
    spec = LLM_COPY_SUPPRESSION.default_spec("quick")
    bad = spec.model_copy(update={"params": {**spec.params, "ov_bottom_k": 49}})
    with pytest.raises(SpecError, match=r"ov_bottom_k 49 must be at most .* vocab_size 48"):
        LLM_COPY_SUPPRESSION.parse(bad)


def test_tiny_run_reports_every_head(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEARN_LLM_CACHE", str(tmp_path))
    model = AttentionOnlyParams(layers=2, heads=2, d_model=16, d_head=4, steps=30)
    spec = BenchmarkSpec(
        benchmark="llm-copy-suppression",
        seeds=[0],
        world=WorldSpec(name=WORLD_NAME, params=CopyWorldParams().model_dump()),
        model=ModelSpec(name=MODEL_NAME, params=model.model_dump()),
        params={"eval_sequences": 32, "ov_bottom_k": 3},
    )
    result = LLM_COPY_SUPPRESSION.run(LLM_COPY_SUPPRESSION.parse(spec), NullProgress(), "")

    def values(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted(m.labels.items())): m.value for m in result.metrics if m.name == name}

    assert len(values("ablation_logprob_change")) == 2 * 4  # two kinds of position x 4 heads
    assert len(values("copy_suppression_score")) == 4
    assert all(0.0 <= v <= 1.0 for v in values("copy_suppression_score").values())
    changes, direct = values("ablation_logprob_change"), values("direct_logit_attribution")
    for kind in ("copy", "walk"):
        negative = values("negative_head_count")[(("positions", kind),)]
        # raised by the ablation and written against by the head itself
        expected = [key for key, v in changes.items() if ("positions", kind) in key and v > 0.01]
        assert negative == sum(direct[key] < 0 for key in expected)
    # self-repair is DE - TE, and the copier sits outside the last layer
    for key, repair in values("self_repair").items():
        direct = values("copier_direct_effect")[key]
        total = values("copier_total_effect")[key]
        assert repair == pytest.approx(direct - total, abs=1e-6)
        assert dict(key)["copier"].startswith("L0")
    names = {h.name for h in result.heatmaps}
    assert {"ablation-effect-walk", "ov-copy-suppression-score"} <= names
    assert all(len(h.z) == 2 and len(h.z[0]) == 2 for h in result.heatmaps)
    assert result.summary is not None and len(result.summary.rows) == 4
    json.loads(result.model_dump_json())
