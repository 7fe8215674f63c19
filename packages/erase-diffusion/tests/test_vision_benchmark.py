"""The vision-continual-forgetting benchmark: spec checks and a shrunken end-to-end run."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from erase_diffusion.benchmarks.vision import (
    METHOD_NAMES,
    VISION_CONTINUAL_FORGETTING,
    VisionForgettingRun,
)
from erase_diffusion.vision.methods import METHODS
from unlearn_schema.configs import MethodConfig
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after


def _tiny_run() -> dict[str, Any]:
    return {
        "training": {
            "label": "colour",
            "train_per_class": 8,
            "steps": 30,
            "batch_size": 16,
            "learning_rate": 3e-3,
            "model": {"hidden_size": 16, "layers": 2, "heads": 2, "mlp_size": 32},
        },
        "tasks": [["red"], ["green"]],
        "test_per_class": 6,
        "scarce_per_class": 2,
        "relearn": {"per_class": 2, "steps": 2},
        "probe": {"per_class": 3, "steps": 5},
    }


def test_default_specs_parse_at_both_sizes() -> None:
    for size in ("quick", "full"):
        parsed = VISION_CONTINUAL_FORGETTING.parse(VISION_CONTINUAL_FORGETTING.default_spec(size))
        assert [m.name for m in parsed.methods] == list(METHOD_NAMES)
        assert "retrain" not in METHOD_NAMES  # the oracle is always reported instead


def test_the_registry_params_and_default_specs_import_no_torch() -> None:
    # What `unlearn-bench list` and `validate` do, for the image models.
    code = (
        "from erase_diffusion.benchmarks.vision import VISION_CONTINUAL_FORGETTING as b\n"
        "from erase_diffusion.vision.methods import METHODS\n"
        "for record in METHODS.values():\n"
        "    record.params_type\n"
        "for size in ('quick', 'full'):\n"
        "    b.parse(b.default_spec(size))"
    )
    assert heavy_modules_after(code, ("torch", "transformers", "peft")) == []


def test_the_image_model_registry_is_an_entry_point() -> None:
    found = [
        ep for ep in entry_points(group="unlearn.methods") if ep.name == "erase-diffusion-vision"
    ]
    assert len(found) == 1 and found[0].load() is METHODS


def test_bad_tasks_name_the_class_and_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="'teal' is not a colour class; accepted: red"):
        VisionForgettingRun.model_validate({**_tiny_run(), "tasks": [["teal"]]})
    with pytest.raises(ValueError, match="already forgotten"):
        VisionForgettingRun.model_validate({**_tiny_run(), "tasks": [["red"], ["red"]]})
    with pytest.raises(ValueError, match="leave at least one"):
        every = [["red", "green", "blue", "yellow", "purple"]]
        VisionForgettingRun.model_validate({**_tiny_run(), "tasks": every})


def test_an_unknown_method_is_an_error() -> None:
    spec = VISION_CONTINUAL_FORGETTING.default_spec("quick")
    bad = spec.model_copy(update={"methods": [MethodConfig(name="esd-x")]})
    with pytest.raises(SpecError, match="esd-x"):
        VISION_CONTINUAL_FORGETTING.parse(bad)


@pytest.mark.requires("peft")  # the default methods include GS-LoRA
def test_a_shrunken_run_reports_every_method_setting_task_and_attack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERASE_DIFFUSION_CACHE", str(tmp_path / "cache"))
    spec = VISION_CONTINUAL_FORGETTING.default_spec("quick")
    light = {"steps": 2, "batch_size": 8}
    spec = spec.model_copy(
        update={
            "params": _tiny_run(),
            "methods": [MethodConfig(name=n, params=light) for n in METHOD_NAMES],
        }
    )
    parsed = VISION_CONTINUAL_FORGETTING.parse(spec)
    result = VISION_CONTINUAL_FORGETTING.run(parsed, NullProgress(), str(tmp_path))
    remaining = {
        (m.labels["method"], m.labels["setting"], m.labels["task"])
        for m in result.metrics
        if m.name == "remaining_accuracy"
    }
    expected = {
        (n, s, t) for n in METHOD_NAMES for s in ("full", "scarce", "missing") for t in ("1", "2")
    }
    assert expected | {("retrain (oracle)", "full", t) for t in ("1", "2")} == remaining
    # The oracle never saw the forgotten classes: it cannot name them.
    oracle_forgotten = [
        m.value
        for m in result.metrics
        if m.name == "forgotten_accuracy" and m.labels["method"] == "retrain (oracle)"
    ]
    assert oracle_forgotten == [0.0, 0.0]
    norms = [m for m in result.metrics if m.name == "lora_group_norm"]
    assert {m.labels["block"] for m in norms} == {"0", "1"}
    attacked = {m.labels["method"] for m in result.metrics if m.name == "relearn_accuracy"}
    assert attacked == {"original", "retrain (oracle)", *METHOD_NAMES}
    assert {c.name for c in result.curves} >= {
        "forgotten-accuracy-full",
        "remaining-accuracy-scarce",
    }
    # The cache holds the original model and one oracle per task.
    assert len(list((tmp_path / "cache").glob("vision-*"))) == 3


def test_the_oracle_is_timed_in_the_run_even_when_it_comes_from_the_cache(
    tmp_path: Path,
) -> None:
    from erase_diffusion.benchmarks.vision import _oracle_cost
    from erase_diffusion.vision.model import ClassifierTraining, trained_classifier, training_set

    training = ClassifierTraining.model_validate(_tiny_run()["training"])
    retain = training_set(training).without_classes({0})
    first = trained_classifier(training, (0,), cache=tmp_path)
    assert not first[2]
    # Trained now: its own process time, as measured.
    assert _oracle_cost([first], training, retain) == (
        first[1],
        "mean of the 1 oracle trainings of this run",
    )
    # From the cache (a record written under another thread count, say): trained again,
    # its own full training on the same data, which gives the same weights.
    cached = trained_classifier(training, (0,), cache=tmp_path)
    assert cached[2]
    stale = (cached[0], 1000.0, True)
    seconds, how = _oracle_cost([stale], training, retain)
    assert 0 < seconds < 1000.0
    assert "trained again in this run" in how and "record says 1000.0" in how
    assert "identical to the cached" in how
