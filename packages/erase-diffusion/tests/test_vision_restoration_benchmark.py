"""``vision-restoration`` end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from erase_diffusion.benchmarks.vision_restoration import FROM_PRETRAINED, VISION_RESTORATION
from unlearn_schema.configs import MethodConfig
from unlearn_schema.plugins import NullProgress


def test_tiny_run_reports_a_row_per_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERASE_DIFFUSION_CACHE", str(tmp_path))
    spec = VISION_RESTORATION.default_spec("quick")
    given: dict[str, Any] = dict(spec.params)
    tiny = {"hidden_size": 16, "layers": 2, "heads": 2, "mlp_size": 32}
    pretraining = {**given["pretraining"], "train_per_class": 2, "steps": 20, "model": tiny}
    params = {
        **given,
        "pretraining": pretraining,
        "train_per_class": 6,
        "finetune": {"steps": 10, "learning_rate": 1e-3, "batch_size": 8},
        "test_per_class": 4,
        "sae_per_class": 4,
        "restoration": {
            **given["restoration"],
            "sae": {"latents": 16, "k": 2, "steps": 20},
            "alphas": [1.0, 5.0],
            "min_drop": 0.0,
        },
    }
    methods = [MethodConfig(name="gradient-ascent", params={"steps": 3, "batch_size": 4})]
    spec = spec.model_copy(update={"params": params, "methods": methods})
    parsed = VISION_RESTORATION.parse(spec)
    result = VISION_RESTORATION.run(parsed, NullProgress(), str(tmp_path))
    forget = {m.labels["method"]: m for m in result.metrics if m.name == "forget_accuracy"}
    assert set(forget) == {FROM_PRETRAINED, "gradient-ascent"}
    steered = [m for m in result.metrics if m.name == "steered_forget_accuracy"]
    assert {m.labels["alpha"] for m in steered} == {"1", "5"}
    assert all(0.0 <= m.value <= 1.0 for m in steered)
    assert {m.labels["steering"] for m in steered} == {
        "experts",
        "experts + class token",
        "class token only",
    }
    assert [c.name for c in result.curves] == [
        "restoration-rate-experts",
        "forget-accuracy-steered-experts",
        "restoration-rate-experts-and-class-token",
        "forget-accuracy-steered-experts-and-class-token",
        "restoration-rate-class-token-only",
        "forget-accuracy-steered-class-token-only",
    ]
    retention = [m for m in result.metrics if m.name == "expert_retention"]
    assert all(m.value >= 0.0 for m in retention)
    assert "suppress" in result.notes[-2] and "CPU seconds" in result.notes[-1]


def test_forget_must_name_classes_of_the_label() -> None:
    spec = VISION_RESTORATION.default_spec("quick")
    bad = spec.model_copy(update={"params": {**spec.params, "forget": ["circle"]}})
    with pytest.raises(ValueError, match="not colour classes"):
        VISION_RESTORATION.parse(bad)
