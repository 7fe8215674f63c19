from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from erase_diffusion.benchmarks import DIFFUSION_ERASE_FULL, DIFFUSION_ERASE_QUICK, task_concepts
from unlearn_schema import MethodConfig, NullProgress, SpecError


def test_default_specs_are_valid_and_cheap_to_check() -> None:
    for benchmark in (DIFFUSION_ERASE_QUICK, DIFFUSION_ERASE_FULL):
        for size in ("quick", "full"):
            spec = benchmark.default_spec(size)  # type: ignore[arg-type]
            assert spec.benchmark == benchmark.name and spec.size == size
            assert benchmark.check is not None
            benchmark.check(spec)


def test_benchmarks_module_does_not_import_torch() -> None:
    code = (
        "import sys, erase_diffusion.benchmarks as b; "
        "b.DIFFUSION_ERASE_QUICK.check(b.DIFFUSION_ERASE_QUICK.default_spec('full')); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_specs_name_the_bad_value() -> None:
    spec = DIFFUSION_ERASE_QUICK.default_spec("quick")
    assert DIFFUSION_ERASE_QUICK.check is not None
    bad = spec.model_copy(update={"methods": [MethodConfig(name="sld")]})
    with pytest.raises(ValueError, match=r"'sld'.*accepted: uce, rece, esd-x, esd-u, mace"):
        DIFFUSION_ERASE_QUICK.check(bad)
    bad = spec.model_copy(
        update={"methods": [MethodConfig(name="uce", params={"preserve_weight": 0})]}
    )
    with pytest.raises(SpecError, match="preserve_weight"):
        DIFFUSION_ERASE_QUICK.check(bad)
    bad = spec.model_copy(update={"params": {**spec.params, "erase": [["hexagon"]]}})
    with pytest.raises(SpecError, match="hexagon"):
        DIFFUSION_ERASE_QUICK.check(bad)
    bad = spec.model_copy(
        update={"params": {**spec.params, "erase": [["circle", "square", "triangle", "cross"]]}}
    )
    with pytest.raises(SpecError, match="erases every shape"):
        DIFFUSION_ERASE_QUICK.check(bad)


def test_anchors_are_never_erased_in_the_same_task() -> None:
    concepts = task_concepts(["red", "green", "blue", "yellow"], 2, 0)
    assert {c.anchor for c in concepts} == {"purple"}


def test_a_small_run_reports_every_method_and_writes_grids(tmp_path: Path) -> None:
    spec = DIFFUSION_ERASE_QUICK.default_spec("quick")
    spec = spec.model_copy(
        update={
            "methods": [
                MethodConfig(name="uce"),
                MethodConfig(name="rece", params={"rounds": 1}),
                MethodConfig(name="mace"),
            ],
            "params": {
                **spec.params,
                "erase": [["red"], ["green", "yellow"]],
                "erased_samples": 6,
                "preserve_samples": 6,
                "steps": 6,
                "grid_columns": 4,
            },
        }
    )
    result = DIFFUSION_ERASE_QUICK.run(spec, NullProgress(), str(tmp_path))
    names = {(m.name, m.labels["method"], m.labels["erased"]) for m in result.metrics}
    for method in ("uce", "rece", "mace"):
        for task in ("red", "green+yellow"):
            for metric in ("erasure_rate", "preservation_accuracy", "frechet_distance"):
                assert (metric, method, task) in names
    erasure = {
        m.labels["method"]: m.value
        for m in result.metrics
        if m.name == "erasure_rate" and m.labels["erased"] == "red"
    }
    assert erasure["uce"] < erasure["original"]
    assert Path(result.artifacts["grid-red"]).stat().st_size > 0
    assert Path(result.artifacts["grid-green+yellow"]).stat().st_size > 0
    assert {c.name for c in result.curves} >= {
        "erasure-vs-preservation",
        "erasure-rate-vs-concepts",
    }
    result.model_dump_json()


@pytest.mark.slow
def test_quick_benchmark_default_spec_end_to_end(tmp_path: Path) -> None:
    spec = DIFFUSION_ERASE_QUICK.default_spec("quick")
    result = DIFFUSION_ERASE_QUICK.run(spec, NullProgress(), str(tmp_path))
    erasure = {
        (m.labels["method"], m.labels["erased"]): m.value
        for m in result.metrics
        if m.name == "erasure_rate"
    }
    for method in ("uce", "rece"):
        for task in ("circle", "red"):
            assert erasure[(method, task)] < erasure[("original", task)]
