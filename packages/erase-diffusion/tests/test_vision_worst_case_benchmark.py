"""``vision-worst-case-forget`` end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path

import pytest
from erase_diffusion.benchmarks.vision_worst_case import VISION_WORST_CASE_FORGET
from unlearn_schema.configs import MethodConfig
from unlearn_schema.plugins import NullProgress


def test_tiny_run_reports_both_sets_against_oracles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERASE_DIFFUSION_CACHE", str(tmp_path))
    spec = VISION_WORST_CASE_FORGET.default_spec("quick")
    tiny = {"hidden_size": 16, "layers": 1, "heads": 2, "mlp_size": 32}
    params = {
        **spec.params,
        "training": {**spec.params["training"], "train_per_class": 6, "steps": 60, "model": tiny},
        "forget_size": 4,
        "rounds": 2,
        "random_draws": 1,
        "test_per_class": 4,
    }
    methods = [MethodConfig(name="gradient-ascent", params={"steps": 2, "batch_size": 4})]
    spec = spec.model_copy(update={"params": params, "methods": methods})
    parsed = VISION_WORST_CASE_FORGET.parse(spec)
    result = VISION_WORST_CASE_FORGET.run(parsed, NullProgress(), str(tmp_path))
    forget = [m for m in result.metrics if m.name == "forget_accuracy"]
    assert {m.labels["forget_set"] for m in forget} == {"worst-case", "random"}
    assert all(m.reference is not None and 0.0 <= m.value <= 1.0 for m in forget)
    assert len(result.curves[0].series[0].y) == 2
    assert "gradient-ascent" in result.notes[0]
