from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from erase_diffusion.benchmarks import (
    DIFFUSION_ERASE_FULL,
    DIFFUSION_ERASE_QUICK,
    METHOD_NAMES,
    task_concepts,
)
from erase_diffusion.worlds.shapes import all_concept_names, values_of
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


def test_quick_benchmark_at_full_size_is_the_quick_recipe_over_three_seeds() -> None:
    quick, full = (DIFFUSION_ERASE_QUICK.default_spec(s) for s in ("quick", "full"))  # type: ignore[arg-type]
    assert full.params == quick.params and full.methods == quick.methods
    assert quick.seeds == [0] and full.seeds == [0, 1, 2]


def test_full_spec_covers_every_method_concept_and_task_size() -> None:
    spec = DIFFUSION_ERASE_FULL.default_spec("full")
    tasks = spec.params["erase"]
    singles = {t[0] for t in tasks if len(t) == 1}
    assert singles == set(all_concept_names())
    assert sorted({len(t) for t in tasks}) == [1, 3, len(values_of("colour")) - 1]
    assert {m.name for m in spec.methods} == set(METHOD_NAMES)
    assert len(spec.seeds) >= 2


@pytest.mark.slow  # about 30 s on 2 idle cores (2.5 min under load)
def test_full_benchmark_code_path_on_a_shrunken_spec(tmp_path: Path) -> None:
    # The nightly's own spec (all methods, 2 seeds, 1 / 3 / all-but-one concepts), with
    # fewer tasks, images, steps and ESD iterations so that it runs in seconds.
    spec = DIFFUSION_ERASE_FULL.default_spec("full")
    colours = list(values_of("colour"))
    tasks = [["circle"], colours[:3], colours[:-1]]
    methods = [
        m.model_copy(update={"params": {**m.params, "iterations": 2, "ddim_steps": 2}})
        if m.name.startswith("esd")
        else m
        for m in spec.methods
    ]
    small = spec.model_copy(
        update={
            "methods": methods,
            "params": {
                **spec.params,
                "erase": tasks,
                "erased_samples": 2,
                "preserve_samples": 4,
                "preserve_prompts": 8,
                "prompts_per_concept": 2,
                "steps": 3,
                "grid_columns": 2,
            },
        }
    )
    DIFFUSION_ERASE_FULL.check(small)  # type: ignore[misc]
    result = DIFFUSION_ERASE_FULL.run(small, NullProgress(), str(tmp_path))
    labels = {"+".join(t) for t in tasks}
    for method in METHOD_NAMES:
        for task in labels:
            for seed in small.seeds:
                assert f"edit {method} {task} seed {seed}" in result.timings
            got = {m.name for m in result.metrics if m.labels == {"method": method, "erased": task}}
            assert got == {
                "erasure_rate",
                "preservation_accuracy",
                "prompt_alignment",
                "frechet_distance",
            }
    for task in labels:
        assert Path(result.artifacts[f"grid-{task}"]).stat().st_size > 0
    by_size = {c.name: c for c in result.curves}["erasure-rate-vs-concepts"]
    assert [s.label for s in by_size.series] == ["original", *METHOD_NAMES]
    assert by_size.series[0].x == [1.0, 3.0, float(len(colours) - 1)]
    result.model_dump_json()
