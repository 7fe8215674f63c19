from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from erase_diffusion.benchmarks.erase import (
    CLEAN_METRIC_NAMES,
    DIFFUSION_ERASE_FULL,
    DIFFUSION_ERASE_QUICK,
    METHOD_NAMES,
    METRIC_NAMES,
    OWN_BENCHMARK,
    task_concepts,
)
from erase_diffusion.benchmarks.speed import ERASE_DIFFUSION_SPEED
from erase_diffusion.methods import METHODS
from erase_diffusion.metrics.residue import RESIDUE_FAMILIES
from erase_diffusion.worlds.shapes import all_concept_names, kind_of, values_of
from unlearn_schema import BenchmarkResult, BenchmarkSpec, NullProgress, SpecError

ERASE = (DIFFUSION_ERASE_QUICK, DIFFUSION_ERASE_FULL)
ALL = (*ERASE, ERASE_DIFFUSION_SPEED)
FAMILY_KEYS = [f.replace("-", "_") for f in RESIDUE_FAMILIES]


def _spec(benchmark: Any, size: str = "quick", **changes: Any) -> BenchmarkSpec:
    """The default spec with some top-level fields replaced (validated like a file)."""
    data = benchmark.default_spec(size).model_dump(mode="json")
    return BenchmarkSpec.model_validate({**data, **changes})


def _problems(benchmark: Any, spec: BenchmarkSpec) -> str:
    with pytest.raises(SpecError) as caught:
        benchmark.parse(spec)
    return "\n".join(caught.value.problems)


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_default_specs_parse_at_both_sizes(benchmark: Any) -> None:
    for size in ("quick", "full"):
        parsed = benchmark.parse(benchmark.default_spec(size))
        assert parsed.benchmark == benchmark.name and parsed.size == size


# The contract, for every benchmark of the package: each field a benchmark does not read
# is an error naming the field.


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_an_unknown_method_is_an_error_naming_the_field(benchmark: Any) -> None:
    problems = _problems(benchmark, _spec(benchmark, methods=[{"name": "sld"}]))
    if benchmark.methods is None:
        assert f"methods: {benchmark.name} takes no methods, got ['sld']" in problems
    else:
        assert "methods[0].name: unknown method 'sld'" in problems
        assert "accepted: " + ", ".join(METHODS) in problems


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_an_unknown_metric_is_an_error_naming_the_field(benchmark: Any) -> None:
    problems = _problems(benchmark, _spec(benchmark, metrics=["erasure-rate", "fid"]))
    assert f"metrics: unknown metric 'fid' for {benchmark.name}" in problems
    # The registry's function names are not the reported names.
    assert "unknown metric 'erasure-rate'" in problems


@pytest.mark.parametrize("benchmark", ERASE, ids=lambda b: b.name)
def test_world_and_model_fields_the_erase_benchmarks_do_not_read_are_errors(
    benchmark: Any,
) -> None:
    # The pipeline draws the images: the world's renderer knobs are not read.
    world = {"name": "shapes", "params": {"image_size": 16, "jitter": 2}}
    problems = _problems(benchmark, _spec(benchmark, world=world))
    assert "world.params.image_size" in problems and "world.params.jitter" in problems
    model = {"name": "tiny-shapes", "params": {"width": 64}}
    assert "model.params.width" in _problems(benchmark, _spec(benchmark, model=model))
    problems = _problems(benchmark, _spec(benchmark, model={"name": "sd-1.5"}))
    assert "model.name: unknown model 'sd-1.5'; accepted: tiny-shapes" in problems
    problems = _problems(benchmark, _spec(benchmark, world={"name": "faces"}))
    assert "world.name: unknown world 'faces'; accepted: shapes" in problems
    request = {"kind": "concepts", "concepts": [{"name": "red", "prompts": ["a red cross"]}]}
    problems = _problems(benchmark, _spec(benchmark, requests=[request]))
    assert "requests[0].kind: 'concepts' is not read" in problems


def test_the_speed_benchmark_takes_no_world_model_or_second_seed() -> None:
    speed = ERASE_DIFFUSION_SPEED
    problems = _problems(speed, _spec(speed, world={"name": "shapes"}))
    assert "world: erase-diffusion-speed takes no world, got 'shapes'" in problems
    problems = _problems(speed, _spec(speed, model={"name": "tiny-shapes"}))
    assert "model: erase-diffusion-speed takes no model, got 'tiny-shapes'" in problems
    problems = _problems(speed, _spec(speed, seeds=[0, 1]))
    assert "seeds: erase-diffusion-speed takes at most 1 seed(s)" in problems
    problems = _problems(speed, _spec(speed, params={"concepts": [0]}))
    assert "params.concepts" in problems


@pytest.mark.parametrize("benchmark", ERASE, ids=lambda b: b.name)
def test_the_erase_benchmarks_take_any_seeds_and_a_checkpoint(benchmark: Any) -> None:
    assert benchmark.max_seeds is None and benchmark.accepts_checkpoint
    model = {"name": "tiny-shapes", "checkpoint": "/models/my-shapes"}
    parsed = benchmark.parse(_spec(benchmark, seeds=[3, 4, 5], model=model))
    assert parsed.seeds == [3, 4, 5] and parsed.checkpoint == "/models/my-shapes"


def test_bad_method_and_run_params_name_the_field_and_value() -> None:
    quick = DIFFUSION_ERASE_QUICK
    spec = quick.default_spec("quick")
    problems = _problems(
        quick, _spec(quick, methods=[{"name": "uce", "params": {"preserve_weight": 0}}])
    )
    assert "methods[0].params.preserve_weight" in problems and "(got 0)" in problems
    # esd-u's variant is fixed by its name.
    problems = _problems(
        quick, _spec(quick, methods=[{"name": "esd-u", "params": {"variant": "x"}}])
    )
    assert "methods[0].params.variant" in problems
    problems = _problems(quick, _spec(quick, params={**spec.params, "erase": [["hexagon"]]}))
    assert "hexagon" in problems
    every_shape = [["circle", "square", "triangle", "cross"]]
    problems = _problems(quick, _spec(quick, params={**spec.params, "erase": every_shape}))
    assert "erases every shape" in problems


def test_a_method_given_twice_is_an_error() -> None:
    methods = [
        {"name": "esd-x"},
        {"name": "uce"},
        {"name": "esd-x", "params": {"learning_rate": 1e-5}},
    ]
    problems = _problems(DIFFUSION_ERASE_QUICK, _spec(DIFFUSION_ERASE_QUICK, methods=methods))
    assert "methods[2].name: 'esd-x' is given twice (first at methods[0])" in problems


def test_parsed_methods_carry_their_registered_params_type() -> None:
    parsed = DIFFUSION_ERASE_FULL.parse(DIFFUSION_ERASE_FULL.default_spec("full"))
    types = {m.name: type(m.params).__name__ for m in parsed.methods}
    # A few by name (the registry could point two names at one class), then all of them.
    assert types["rece-cumulative"] == types["rece"] == "RECEParams"
    assert types["esd-x"] == "ESDXParams" and types["hirm"] == "HiRMParams"
    assert types == {m.name: METHODS[m.name].params_type.__name__ for m in parsed.methods}
    variants = {m.name: getattr(m.params, "variant", None) for m in parsed.methods}
    assert variants["esd-x"] == "x" and variants["esd-u"] == "u"


def test_anchors_are_never_erased_in_the_same_task() -> None:
    concepts = task_concepts(["red", "green", "blue", "yellow"], 2, 0)
    assert {c.anchor for c in concepts} == {"purple"}


SMALL_TASKS = [["red"], ["green", "yellow"]]
THREADS_BEFORE_RUN: dict[str, int] = {}
SMALL_ATTACKS = [
    {"name": "inverted-latents", "params": {"images": 2}},
    {"name": "concept-vector", "params": {"pairs": 2, "images_per_prompt": 1}},
]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, BenchmarkResult, Path]:
    spec = DIFFUSION_ERASE_QUICK.default_spec("quick")
    small = _spec(
        DIFFUSION_ERASE_QUICK,
        methods=[{"name": "uce"}, {"name": "rece", "params": {"rounds": 1}}, {"name": "mace"}],
        params={
            **spec.params,
            "erase": SMALL_TASKS,
            "erased_samples": 6,
            "preserve_samples": 6,
            "steps": 6,
            "grid_columns": 4,
            # Two cheap attacks keep the run short; every attack reports the same names.
            "attacks": SMALL_ATTACKS,
            "attack_prompts": 2,
            "residue_samples": 2,
        },
    )
    parsed = DIFFUSION_ERASE_QUICK.parse(small)
    out = tmp_path_factory.mktemp("small-run")
    import torch

    THREADS_BEFORE_RUN["small_run"] = torch.get_num_threads()
    return parsed, DIFFUSION_ERASE_QUICK.run(parsed, NullProgress(), str(out)), out


def test_a_small_run_reports_every_method_and_writes_grids(small_run: Any) -> None:
    _, result, _ = small_run
    names = {(m.name, m.labels["method"], m.labels["erased"]) for m in result.metrics}
    for method in ("uce", "rece", "mace"):
        for task in ("red", "green+yellow"):
            for metric in ("erasure_rate", "preservation_accuracy", "frechet_distance"):
                assert (metric, method, task) in names
    # Every reported name is declared, and every declared name is reported.
    assert {m.name for m in result.metrics} == METRIC_NAMES == DIFFUSION_ERASE_QUICK.metric_names
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
        "residue-vs-erasure",
    }
    result.model_dump_json()


def test_the_run_uses_its_threads_knob_and_restores_torchs_count(small_run: Any) -> None:
    import torch

    parsed, result, _ = small_run
    assert parsed.params.threads == 1
    # The fixture ran with one thread; the count before the run is back.
    assert torch.get_num_threads() == THREADS_BEFORE_RUN["small_run"]
    assert any(n.endswith("; 1 torch thread(s).") and "Load average" in n for n in result.notes)


def test_torch_threads_rejects_zero_and_restores_on_error() -> None:
    import torch
    from erase_diffusion.benchmarks._threads import torch_threads

    notes: list[str] = []
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"), torch_threads(0, notes):
        pass
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(before + 1, notes):
        assert torch.get_num_threads() == before + 1
        raise RuntimeError
    assert torch.get_num_threads() == before
    assert len(notes) == 1


def test_the_concept_residue_is_reported_for_every_model_of_one_concept_tasks(
    small_run: Any,
) -> None:
    _, result, _ = small_run
    residue = {
        (m.name, m.labels["method"], m.labels["erased"]): m
        for m in result.metrics
        if m.name.startswith("concept_residue")
    }
    labels = ("original", "uce", "rece", "mace")
    # Only the one-concept task: the residue is defined for one erased concept.
    assert {(label, task) for _, label, task in residue} == {(label, "red") for label in labels}
    for label in labels:
        families = [residue[(f"concept_residue_{f}", label, "red")].value for f in FAMILY_KEYS]
        # The mean is the mean of the families, each a share of images.
        assert all(0.0 <= v <= 1.0 for v in families)
        assert residue[("concept_residue", label, "red")].value == pytest.approx(
            sum(families) / len(families)
        )
    assert residue[("concept_residue", "uce", "red")].reference == (
        residue[("concept_residue", "original", "red")].value
    )
    assert residue[("concept_residue", "uce", "red")].direction == "lower"


def test_metrics_selection_keeps_only_the_selected_metric(small_run: Any) -> None:
    parsed, result, _ = small_run
    selecting = DIFFUSION_ERASE_QUICK.parse(
        parsed.spec.model_copy(update={"metrics": ["frechet_distance"]})
    )
    kept = DIFFUSION_ERASE_QUICK.select_metrics(selecting, result)
    assert kept.metrics and {m.name for m in kept.metrics} == {"frechet_distance"}
    assert len(kept.metrics) == 3 * len(SMALL_TASKS)  # one per method and task
    assert DIFFUSION_ERASE_QUICK.select_metrics(parsed, result) == result


def test_a_small_run_attacks_every_model_of_the_one_concept_task(small_run: Any) -> None:
    _, result, _ = small_run
    attacked = {
        (m.labels["method"], m.labels["erased"], m.labels["attack"]): m
        for m in result.metrics
        if m.name == "attacked_reproduction_rate"
    }
    attacks = [a["name"] for a in SMALL_ATTACKS]
    # Only the one-concept task is attacked, on the original and every method.
    assert set(attacked) == {
        (label, "red", a) for label in ("original", "uce", "rece", "mace") for a in attacks
    }
    for (label, _, attack), metric in attacked.items():
        assert 0.0 <= metric.value <= 1.0 and metric.direction == "lower"
        original = attacked[("original", "red", attack)].value
        assert metric.reference == (None if label == "original" else original)
    clean = {
        m.labels["method"]: m.value
        for m in result.metrics
        if m.name == "erasure_rate" and m.labels["erased"] == "red"
    }
    robust = [m for m in result.metrics if m.name == "robust_erasure_rate"]
    assert {m.labels["method"] for m in robust} == {"original", "uce", "rece", "mace"}
    for m in robust:
        # The robust rate is the clean rate or the worst attack's CRR, whichever is higher.
        label, worst = m.labels["method"], m.labels["worst_attack"]
        rates = {a: attacked[(label, "red", a)].value for a in attacks}
        assert m.value == pytest.approx(max(clean[label], *rates.values()))
        assert worst == "none" or rates[worst] == m.value
    assert result.summary is not None and result.summary.header[3:5] == attacks
    assert [row[1] for row in result.summary.rows] == ["original", "uce", "rece", "mace"]
    assert Path(result.artifacts["grid-attacks-red"]).stat().st_size > 0
    assert "grid-attacks-green+yellow" not in result.artifacts
    curve = {c.name: c for c in result.curves}["clean-vs-attacked-red"]
    assert [s.label for s in curve.series] == ["original", "uce", "rece", "mace"]
    assert curve.series[1].x == [0.0, 1.0, 2.0] and curve.series[1].y[0] == clean["uce"]
    assert {f"attack {a} on uce red seed 0" for a in attacks} <= set(result.timings)


def test_default_specs_run_every_registered_attack() -> None:
    from erase_diffusion.attacks import ATTACKS

    for benchmark in ERASE:
        for size in ("quick", "full"):
            parsed = benchmark.parse(benchmark.default_spec(size))  # type: ignore[arg-type]
            assert [a.name for a in parsed.params.attacks] == list(ATTACKS)


def test_bad_attacks_name_the_field_and_value() -> None:
    quick = DIFFUSION_ERASE_QUICK
    spec = quick.default_spec("quick")

    def problems(attacks: list[dict[str, Any]]) -> str:
        return _problems(quick, _spec(quick, params={**spec.params, "attacks": attacks}))

    found = problems([{"name": "nudity-prompts"}])
    assert "params.attacks[0].name: unknown attack 'nudity-prompts'" in found
    assert "accepted: concept-arithmetic, concept-vector, inverted-latents," in found  # sorted
    found = problems([{"name": "inverted-latent"}])
    assert "did you mean 'inverted-latents'" in found
    found = problems([{"name": "concept-vector", "params": {"pair": 2}}])
    assert "params.attacks[0].params.pair" in found and "accepted fields: " in found
    found = problems([{"name": "inverted-latents", "params": {"images": 0}}])
    assert "params.attacks[0]" in found and "params.images" in found and "(got 0)" in found
    found = problems([{"name": "concept-vector"}, {"name": "concept-vector"}])
    assert "given more than once: concept-vector" in found


@pytest.mark.slow
def test_quick_benchmark_default_spec_end_to_end(tmp_path: Path) -> None:
    parsed = DIFFUSION_ERASE_QUICK.parse(DIFFUSION_ERASE_QUICK.default_spec("quick"))
    result = DIFFUSION_ERASE_QUICK.run(parsed, NullProgress(), str(tmp_path))
    erasure = {
        (m.labels["method"], m.labels["erased"]): m.value
        for m in result.metrics
        if m.name == "erasure_rate"
    }
    for method in ("uce", "rece"):
        for task in ("circle", "red"):
            assert erasure[(method, task)] < erasure[("original", task)]
    # The attacks work: on the original each brings the concept back in most images.
    for m in result.metrics:
        if m.name == "attacked_reproduction_rate" and m.labels["method"] == "original":
            assert m.value >= 0.5, m.labels


def test_quick_benchmark_at_full_size_is_the_quick_recipe_over_three_seeds() -> None:
    quick, full = (DIFFUSION_ERASE_QUICK.default_spec(s) for s in ("quick", "full"))  # type: ignore[arg-type]
    assert full.params == quick.params and full.methods == quick.methods
    assert quick.seeds == [0] and full.seeds == [0, 1, 2]


def test_full_spec_covers_every_method_concept_and_task_size() -> None:
    spec = DIFFUSION_ERASE_FULL.default_spec("full")
    tasks = spec.params["erase"]
    assert isinstance(tasks, list)
    singles = [t[0] for t in tasks if isinstance(t, list) and len(t) == 1]
    # One concept, attacked (attacked_concepts null: every one-concept task); every kind
    # is erased in the all-but-one task.
    assert singles == ["circle"] and spec.params.get("attacked_concepts") is None
    assert {kind_of(c) for t in tasks if isinstance(t, list) for c in t} == {
        "shape",
        "colour",
        "style",
    }
    assert sorted({len(t) for t in tasks if isinstance(t, list)}) == [
        1,
        3,
        len(all_concept_names()) - 3,  # all but one shape, colour and style
    ]
    assert spec.params["residue_samples"] > 0
    assert spec.params["attacks"] and spec.params["threads"] == 2
    assert {m.name for m in spec.methods} == set(METHOD_NAMES) - set(OWN_BENCHMARK)


@pytest.mark.slow  # about 30 s on 2 idle cores (2.5 min under load)
def test_full_benchmark_code_path_on_a_shrunken_spec(tmp_path: Path) -> None:
    # The nightly's own spec (all methods, 1 / 3 / all-but-one concepts), with
    # fewer tasks, images, steps and ESD iterations so that it runs in seconds.
    spec = DIFFUSION_ERASE_FULL.default_spec("full")
    colours = list(values_of("colour"))
    tasks = [["circle"], colours[:3], colours[:-1]]
    shrink: dict[str, dict[str, Any]] = {
        "esd-x": {"iterations": 2, "ddim_steps": 2},
        "esd-u": {"iterations": 2, "ddim_steps": 2},
        "hirm": {"iterations": 2},
        "few-shot-text-encoder": {"epochs": 1},
        "realera": {"iterations": 2, "mining": "random"},
        "realera-closed-form": {"mining": "random"},
        **{m: {"iterations": 2} for m in ("doco", "all-but-one", "spm", "co-erasing")},
        "ant": {"iterations": 2, "saliency_seeds": 1},
        "advunlearn": {"iterations": 2, "warmup_iterations": 1, "attack_steps": 1},
        "trce": {"iterations": 2, "trajectories": 1},
        "cgce": {"classifier_steps": 20, "refine_steps": 5},
    }
    methods = [
        m.model_copy(update={"params": {**m.params, **shrink.get(m.name, {})}})
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
                "attacks": [{"name": "concept-vector", "params": {"pairs": 2}}],
                "attack_prompts": 2,
                "attacked_concepts": ["circle"],
            },
        }
    )
    parsed = DIFFUSION_ERASE_FULL.parse(small)
    result = DIFFUSION_ERASE_FULL.run(parsed, NullProgress(), str(tmp_path))
    labels = {"+".join(t) for t in tasks}
    for method in (m.name for m in spec.methods):  # every method but OWN_BENCHMARK
        for task in labels:
            for seed in small.seeds:
                assert f"edit {method} {task} seed {seed}" in result.timings
            got = {
                m.name
                for m in result.metrics
                if m.labels["method"] == method and m.labels["erased"] == task
            }
            # Attacks run on the one-concept task only.
            assert got == (METRIC_NAMES if task == "circle" else CLEAN_METRIC_NAMES)
    for task in labels:
        assert Path(result.artifacts[f"grid-{task}"]).stat().st_size > 0
    by_size = {c.name: c for c in result.curves}["erasure-rate-vs-concepts"]
    assert [s.label for s in by_size.series] == ["original", *(m.name for m in spec.methods)]
    assert by_size.series[0].x == [1.0, 3.0, float(len(colours) - 1)]
    result.model_dump_json()


def test_attacked_concepts_pick_the_attacked_one_concept_tasks() -> None:
    from erase_diffusion.benchmarks.erase import EraseRun

    run = EraseRun(
        erase=[["red"], ["circle"], ["red", "green"]],
        attacks=SMALL_ATTACKS,
        attacked_concepts=["circle"],
    )
    assert [run.attacks_task(t) for t in run.erase] == [False, True, False]
    everything = run.model_copy(update={"attacked_concepts": None})
    assert [everything.attacks_task(t) for t in run.erase] == [True, True, False]
    problems = _problems(
        DIFFUSION_ERASE_QUICK,
        _spec(
            DIFFUSION_ERASE_QUICK,
            params={
                **DIFFUSION_ERASE_QUICK.default_spec("quick").params,
                "attacked_concepts": ["green"],
            },
        ),
    )
    assert "attacked_concepts ['green'] are not one-concept tasks of erase" in problems
    assert "accepted: circle, red" in problems
