r"""``vision-continual-forgetting``: GS-LoRA's continual forgetting on a tiny ViT.

*Practical Continual Forgetting for Pre-trained Vision Models* (arXiv:2501.09705). A
tiny ViT trained from scratch on labelled shapes-world images
(`erase_diffusion.vision.model`, cached) receives a stream of forgetting tasks, each
naming classes to forget; every method applies task after task to the model the
previous task left. After each task we read, on held-out images, the accuracy on the
task's classes, on every class forgotten so far and on the remaining classes, and the
paper's H-Mean of the accuracy drop on the task's classes and the remaining accuracy.
The exact retrain oracle of each prefix of the stream (trained without every class
forgotten so far, cached) is the reference.

Three settings: ``full`` (each task has all training images of the classes),
``scarce`` (only ``scarce_per_class`` images per class, forgotten and remaining: the
few-sample case GS-LoRA++ targets) and ``missing`` (as ``scarce``, and every second
remaining class has no image at all: the missing-class case). After the last task
the final models are attacked (`erase_diffusion.vision.attacks`): relearning on a few
images of the forgotten classes, and a linear probe on the frozen features. GS-LoRA's
per-block group norms show which blocks each task used. Costs are CPU seconds (process
time) with ``threads`` torch threads (1 by default) for the methods and the oracle alike;
the oracle's training is timed in the same run (`_oracle_cost`), since a cached record may
come from another thread count. torch is imported only inside `run_vision_forgetting`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, Direction, MetricValue, Series

from erase_diffusion.benchmarks._threads import torch_threads
from erase_diffusion.vision.attacks import ProbeParams, RelearnParams
from erase_diffusion.vision.data import class_names
from erase_diffusion.vision.methods import METHODS
from erase_diffusion.vision.model import ClassifierTraining, TinyViTParams

if TYPE_CHECKING:
    from transformers import ViTForImageClassification

    from erase_diffusion.vision.data import LabelledImages

ORACLE = "retrain (oracle)"
METHOD_NAMES = tuple(name for name in METHODS if name != "retrain")
SETTINGS = ("full", "scarce", "missing")
METRIC_NAMES = frozenset(
    {
        "task_forget_accuracy",
        "forgotten_accuracy",
        "remaining_accuracy",
        "h_mean",
        "forget_seconds",
        "relearn_accuracy",
        "probe_accuracy",
        "lora_group_norm",
        "retrain_cost_ratio",
    }
)


def threads_field() -> Any:
    """The ``threads`` knob of the image-model benchmarks (1 by default)."""
    return Field(
        default=1,
        ge=1,
        le=256,
        description="torch threads while the run lasts (restored after), for the methods "
        "and any oracle timing alike: the ViT is tiny, and one thread avoids spin-wait "
        "contention on shared cores.",
    )


def run_with_threads(threads: int, body: Callable[[], BenchmarkResult]) -> BenchmarkResult:
    """``body()`` with ``threads`` torch threads; the load at the start and end noted."""
    load_notes: list[str] = []
    with torch_threads(threads, load_notes):
        result = body()
    result.notes.extend(load_notes)
    return result


class VisionForgettingRun(StrictModel):
    """Knobs of the continual-forgetting run."""

    training: ClassifierTraining = Field(default_factory=ClassifierTraining)
    tasks: list[list[str]] = Field(
        default_factory=lambda: [["red circle", "blue square"], ["green triangle"]],
        min_length=1,
        description="Class names forgotten by each task, in stream order.",
    )
    test_per_class: int = Field(default=30, ge=1, le=10_000)
    scarce_per_class: int | None = Field(
        default=4,
        ge=1,
        le=10_000,
        description="Images per class in the scarce and missing settings (None: skip both).",
    )
    missing_classes: bool = Field(
        default=True, description="Also run the missing setting (every second kept class absent)."
    )
    relearn: RelearnParams = Field(default_factory=RelearnParams)
    probe: ProbeParams = Field(default_factory=ProbeParams)
    threads: int = threads_field()

    @model_validator(mode="after")
    def _tasks_are_classes(self) -> VisionForgettingRun:
        known = class_names(self.training.label)
        seen: list[str] = []
        for i, task in enumerate(self.tasks):
            if not task:
                raise ValueError(f"tasks[{i}] is empty: name at least one class")
            for name in task:
                if name not in known:
                    raise ValueError(
                        f"tasks[{i}]: {name!r} is not a {self.training.label} class; "
                        f"accepted: {', '.join(known)}"
                    )
                if name in seen:
                    raise ValueError(
                        f"tasks[{i}]: {name!r} is already forgotten by an earlier task"
                    )
                seen.append(name)
        if len(seen) >= len(known):
            raise ValueError("the tasks forget every class; leave at least one to keep")
        return self


def _h_mean(drop: float, remaining: float) -> float:
    """The paper's H-Mean: $2\\,d\\,a_r / (d + a_r)$ of the forgotten classes' accuracy
    drop $d$ (before minus after, floored at 0) and the remaining accuracy $a_r$."""
    drop = max(drop, 0.0)
    return 0.0 if drop + remaining == 0 else 2 * drop * remaining / (drop + remaining)


def _against_oracle(
    name: str, value: float, oracle: float, direction: Direction, labels: dict[str, str]
) -> MetricValue:
    """A metric with the retrain oracle's value as reference (none on the oracle's own row)."""
    own = labels["method"] == ORACLE
    return MetricValue(
        name=name,
        value=value,
        direction=direction,
        reference=None if own else oracle,
        reference_name=None if own else "retrain oracle",
        labels=labels,
    )


def run_vision_forgetting(
    parsed: ParsedSpec[NoParams, NoParams, VisionForgettingRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Train (or load) the ViT and its oracles, run the stream per method and setting,
    attack the final models; with ``params.threads`` torch threads (the notes record the
    load)."""
    return run_with_threads(parsed.params.threads, lambda: _run(parsed, progress))


def _oracle_cost(
    oracles: list[tuple[ViTForImageClassification, float, bool]],
    training: ClassifierTraining,
    retain: LabelledImages,
) -> tuple[float, str]:
    """CPU seconds of one retrain oracle's full training, measured in this run: the mean
    over the oracles trained now, or (all came from the cache, whose record may come from
    another thread count or machine) the first one trained again, same data, steps and
    seed, on ``retain``. Returns the seconds and how they were measured."""
    import torch

    from erase_diffusion.vision.model import train_classifier

    fresh = [seconds for _, seconds, cached in oracles if not cached]
    if fresh:
        return sum(fresh) / len(fresh), f"mean of the {len(fresh)} oracle trainings of this run"
    tick = time.process_time()
    again = train_classifier(training, retain)
    seconds = time.process_time() - tick
    same = all(
        torch.equal(a, b)
        for a, b in zip(again.parameters(), oracles[0][0].parameters(), strict=True)
    )
    return seconds, (
        f"the task-1 oracle trained again in this run (the cache record says "
        f"{oracles[0][1]:.1f}; weights {'identical to' if same else 'differ from'} the cached)"
    )


def _run(
    parsed: ParsedSpec[NoParams, NoParams, VisionForgettingRun], progress: Progress
) -> BenchmarkResult:
    import torch

    from erase_diffusion.vision.attacks import linear_probe, relearn
    from erase_diffusion.vision.data import class_indices
    from erase_diffusion.vision.methods.gs_lora import GSLoRAParams, gs_lora_task
    from erase_diffusion.vision.methods.request import ClassForgetRequest
    from erase_diffusion.vision.model import accuracy, test_set, trained_classifier, training_set

    run, seed = parsed.params, parsed.seeds[0]
    training = run.training.model_copy(update={"seed": seed})
    label = training.label
    num_classes = len(class_names(label))
    tasks = [tuple(class_indices(task, label)) for task in run.tasks]
    settings = [
        s
        for s in SETTINGS
        if s == "full"
        or (run.scarce_per_class is not None and (s == "scarce" or run.missing_classes))
    ]
    start = time.perf_counter()
    timings: dict[str, float] = {}
    progress.start(
        1 + len(tasks) + len(settings) * len(parsed.methods) + 1, "vision continual forgetting"
    )
    torch.manual_seed(seed)

    def trained(
        exclude: tuple[int, ...], what: str
    ) -> tuple[ViTForImageClassification, float, bool]:
        def step(s: int, loss: float) -> None:
            if (s + 1) % 100 == 0:
                progress.advance(
                    0, f"training {what}: step {s + 1}/{training.steps}, loss {loss:.3f}"
                )

        model, seconds, cached = trained_classifier(training, exclude, step)
        timings[f"train {what}" + (" (cached)" if cached else "")] = seconds
        progress.advance(1, f"{what} " + ("from cache" if cached else f"trained in {seconds:.0f}s"))
        return model, seconds, cached

    base, _, _ = trained((), "original ViT")
    prefixes = [tuple(c for task in tasks[: t + 1] for c in task) for t in range(len(tasks))]
    oracles = [
        trained(prefix, f"retrain oracle after task {t + 1}") for t, prefix in enumerate(prefixes)
    ]
    train = training_set(training)
    test = test_set(label, run.test_per_class, seed)

    metrics: list[MetricValue] = []
    per_task: dict[tuple[str, str], list[tuple[float, float, float]]] = {}

    def read(model: ViTForImageClassification, t: int) -> tuple[float, float, float]:
        return (
            accuracy(model, test.of_classes(set(tasks[t]))),
            accuracy(model, test.of_classes(set(prefixes[t]))),
            accuracy(model, test.without_classes(set(prefixes[t]))),
        )

    before = [accuracy(base, test.of_classes(set(task))) for task in tasks]
    per_task[(ORACLE, "full")] = [read(model, t) for t, (model, _, _) in enumerate(oracles)]
    finals: dict[tuple[str, str], ViTForImageClassification] = {(ORACLE, "full"): oracles[-1][0]}
    seconds: dict[tuple[str, str], float] = {}
    group_norms: dict[tuple[str, str], list[list[float]]] = {}
    if any(isinstance(m.params, GSLoRAParams) for m in parsed.methods):
        # Import peft before the clock starts: a once-per-process cost (as importing torch
        # is for the oracle), which would otherwise land on the first GS-LoRA task.
        import peft  # noqa: F401
    t0 = time.perf_counter()
    for setting in settings:
        for method in parsed.methods:
            entry = method.spec.function
            model, spent, rows, norms = base, 0.0, [], []
            for t, task in enumerate(tasks):
                forget = train.of_classes(set(task))
                retain = train.without_classes(set(prefixes[t]))
                if setting in ("scarce", "missing"):
                    assert run.scarce_per_class is not None
                    forget = forget.first_per_class(run.scarce_per_class)
                    retain = retain.first_per_class(run.scarce_per_class)
                if setting == "missing":
                    kept = sorted(set(retain.labels.tolist()))
                    retain = retain.without_classes(set(kept[1::2]))
                request = ClassForgetRequest(forget, retain, task, num_classes)
                tick = time.process_time()
                if isinstance(method.params, GSLoRAParams):
                    result = gs_lora_task(model, request, method.params)
                    model = result.model
                    norms.append(result.group_norms)
                else:
                    model = entry(model, request, method.params)
                spent += time.process_time() - tick
                rows.append(read(model, t))
            key = (method.name, setting)
            per_task[key], finals[key], seconds[key] = rows, model, spent / len(tasks)
            if norms:
                group_norms[key] = norms
            progress.advance(1, f"{method.name} ({setting}): {len(tasks)} tasks in {spent:.1f}s")
    timings["methods"] = time.perf_counter() - t0

    for (name, setting), rows in per_task.items():
        oracle_rows = per_task[(ORACLE, "full")]
        for t, (task_acc, forgotten_acc, remaining_acc) in enumerate(rows):
            labels = {"method": name, "setting": setting, "task": str(t + 1)}
            oracle = oracle_rows[t]
            metrics += [
                _against_oracle("task_forget_accuracy", task_acc, oracle[0], "lower", labels),
                _against_oracle("forgotten_accuracy", forgotten_acc, oracle[1], "lower", labels),
                _against_oracle("remaining_accuracy", remaining_acc, oracle[2], "higher", labels),
                _against_oracle(
                    "h_mean",
                    _h_mean(before[t] - task_acc, remaining_acc),
                    _h_mean(before[t] - oracle[0], oracle[2]),
                    "higher",
                    labels,
                ),
            ]
    t0 = time.perf_counter()
    oracle_seconds, oracle_timing = _oracle_cost(
        oracles, training, train.without_classes(set(prefixes[0]))
    )
    timings["oracle timing"] = time.perf_counter() - t0
    for (name, setting), spent in seconds.items():
        labels = {"method": name, "setting": setting}
        metrics.append(
            MetricValue(
                name="forget_seconds",
                value=spent,
                direction="lower",
                unit="CPU s",
                reference=oracle_seconds,
                reference_name="retrain oracle (training)",
                labels=labels,
            )
        )
        if spent > 0:
            metrics.append(
                MetricValue(
                    name="retrain_cost_ratio",
                    value=oracle_seconds / spent,
                    direction="higher",
                    labels=labels,
                )
            )
    for (name, setting), norms in group_norms.items():
        for t, task_norms in enumerate(norms):
            for block, norm in enumerate(task_norms):
                metrics.append(
                    MetricValue(
                        name="lora_group_norm",
                        value=norm,
                        direction="none",
                        labels={
                            "method": name,
                            "setting": setting,
                            "task": str(t + 1),
                            "block": str(block),
                        },
                    )
                )

    # Attacks on the final models: can the forgotten classes be brought back?
    t0 = time.perf_counter()
    forgotten_train: LabelledImages = train.of_classes(set(prefixes[-1]))
    forgotten_test = test.of_classes(set(prefixes[-1]))
    probe_set = train.first_per_class(run.probe.per_class)
    attacked: dict[tuple[str, str], tuple[float, float]] = {}
    for key, model in [((("original", "full")), base), *finals.items()]:
        attacked[key] = (
            relearn(model, forgotten_train, forgotten_test, run.relearn),
            linear_probe(model, probe_set, forgotten_test, num_classes, run.probe),
        )
    oracle_attack = attacked[(ORACLE, "full")]
    for (name, setting), (relearned, probed) in attacked.items():
        labels = {"method": name, "setting": setting, "attack": "after last task"}
        metrics += [
            _against_oracle("relearn_accuracy", relearned, oracle_attack[0], "lower", labels),
            _against_oracle("probe_accuracy", probed, oracle_attack[1], "lower", labels),
        ]
    timings["attacks"] = time.perf_counter() - t0
    progress.advance(1, "final models attacked")

    if parsed.metrics is not None:
        metrics = [m for m in metrics if m.name in parsed.metrics]
    x = [float(t + 1) for t in range(len(tasks))]
    curves = [
        Curve(
            name=f"{column}-accuracy-{setting}",
            title=f"{title} after each forgetting task ({setting} data)",
            x_label="forgetting task",
            y_label=f"accuracy on {title.lower()}",
            series=[
                Series(label=name, x=x, y=[row[index] for row in rows])
                for (name, s), rows in per_task.items()
                if s == setting or name == ORACLE
            ],
        )
        for setting in settings
        for column, title, index in (
            ("forgotten", "Classes forgotten so far", 1),
            ("remaining", "Remaining classes", 2),
        )
    ]
    for (name, setting), norms in group_norms.items():
        curves.append(
            Curve(
                name=f"group-norms-{name}-{setting}",
                title=f"{name} ({setting}): LoRA group norm per block, per task",
                x_label="Transformer block",
                y_label="group norm ||θ_k||₂",
                series=[
                    Series(label=f"task {t + 1}", x=[float(b) for b in range(len(n))], y=n)
                    for t, n in enumerate(norms)
                ],
            )
        )
    names = class_names(label)
    notes = [
        f"{label} classifier ({num_classes} classes), original test accuracy "
        f"{accuracy(base, test):.3f}; tasks: "
        + "; ".join(
            f"{t + 1}: {', '.join(names[c] for c in task)}" for t, task in enumerate(tasks)
        ),
        "after the last task (forgotten so far / remaining accuracy): "
        + "; ".join(
            f"{name} ({setting}) {rows[-1][1]:.2f} / {rows[-1][2]:.2f}"
            for (name, setting), rows in per_task.items()
        ),
        f"CPU seconds: the retrain oracle trains in {oracle_seconds:.2f} ({oracle_timing}); "
        + "; ".join(
            f"{name} ({setting}) {spent:.2f} per task" for (name, setting), spent in seconds.items()
        ),
        "retrain_cost_ratio (oracle training / one task, CPU seconds; issue 17 asks >= 10 for "
        "GS-LoRA): "
        + "; ".join(
            f"{name} ({setting}) {oracle_seconds / spent:.1f}"
            for (name, setting), spent in seconds.items()
            if spent > 0
        ),
        "attacks after the last task (relearn / probe accuracy on forgotten classes): "
        + "; ".join(f"{n} ({s}) {r:.2f} / {p:.2f}" for (n, s), (r, p) in attacked.items()),
    ]
    timings["total"] = time.perf_counter() - start
    return BenchmarkResult(metrics=metrics, curves=curves, timings=timings, notes=notes)


def _spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        run = VisionForgettingRun(
            training=ClassifierTraining(
                label="colour",
                train_per_class=60,
                steps=250,
                batch_size=32,
                learning_rate=3e-3,
                model=TinyViTParams(hidden_size=32, layers=3, heads=4, mlp_size=64),
            ),
            tasks=[["red"], ["green"], ["blue"]],
            test_per_class=40,
        )
    else:
        # 1 200 training steps (was 2 500): at 2 500 the original and the four oracles
        # alone took about 37 minutes on the shared 2-core machine (load 11).
        run = VisionForgettingRun(
            training=ClassifierTraining(
                label="shape-colour",
                train_per_class=150,
                steps=1200,
                batch_size=64,
                learning_rate=2e-3,
            ),
            tasks=[
                ["red circle", "blue square"],
                ["green triangle", "yellow cross"],
                ["purple circle", "red square"],
                ["blue triangle", "green cross"],
            ],
        )
    return spec_from_parts(
        "vision-continual-forgetting",
        size,
        world=("shapes", NoParams()),
        model=("tiny-vit", NoParams()),
        methods=METHOD_NAMES,
        params=run,
    )


VISION_CONTINUAL_FORGETTING: Benchmark[Any, Any, Any] = Benchmark(
    name="vision-continual-forgetting",
    summary=(
        "GS-LoRA continual forgetting on a tiny ViT: classes forgotten task after task, "
        "baselines, retrain oracle, scarce and missing data, relearn and probe attacks."
    ),
    default_spec=_spec,
    run=run_vision_forgetting,
    params_type=VisionForgettingRun,
    worlds={"shapes": NoParams},
    models={"tiny-vit": NoParams},
    methods=METHODS,
    method_names=METHOD_NAMES,
    metric_names=METRIC_NAMES,
    max_seeds=1,
    quick_budget_s=180.0,
)
