"""The ``llm-retain-sampling`` benchmark: 1:1, cyclic and MELU retain sampling, per set.

Bushipaka, Passaro, Cucinotta, "Standard vs. Modular Sampling: Best Practices for
Reliable LLM Unlearning" (arXiv:2509.05316): the retain set is several neighbour sets
of the forget targets (``worlds/neighbours.py``: facts one hop from them, two hops, and
general knowledge), and how the unlearning loop samples retain rows
(``unlearn_llm/sampling.py``: ``one-to-one``, ``cyclic``, ``melu``) trades forget
efficacy against each set differently; a single pooled retain accuracy hides it. Per
seed:

1. the facts world's **original** model (every fact) and the exact retrain **oracle**
   (without the forget people), both from the llm-facts cache;
2. every method x strategy unlearns the forget people's facts from a copy of the
   original, the retain set being the three neighbour sets pooled, its steps drawn by
   the strategy's sampler (``UnlearnData.sampler``). With ``budget="epochs"`` (the
   paper's setting) each strategy trains ``epochs`` of its own epoch length (1:1 is
   short, cyclic and MELU long); with ``budget="steps"`` every strategy trains the same
   ``steps``, which separates the sampling from the step count.

Per model: exact-answer accuracy (greedy, first trained question) on the forget facts
(``forget_accuracy``) and separately on the ``direct``, ``indirect`` and ``general``
sets, and on all of them pooled (``pooled_retain_accuracy``, the usual single number);
each against the oracle's. The relearning attack (``attacks/relearning.py``) fine-tunes
each unlearned model, and the oracle, on half of each forget person's facts and scores
the other half (``relearned_forget_knowledge``: answer probability; the oracle's is the
reference). ``retain_share_<set>`` is the share of the retain rows a strategy's steps
drew from each set.

Importing this module does not import torch; ``run_retain_sampling`` does.
"""

# Over 600 lines on purpose: one recipe read top to bottom (the spec and declaration
# shared with the other facts-world benchmarks are in benchmarks/_common.py).
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator
from unlearn_schema import (
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    Direction,
    Heatmap,
    MetricValue,
    ParsedSpec,
    Progress,
    Series,
    Size,
    StrictModel,
    Table,
)

from unlearn_llm.attacks.relearning import RelearningParams
from unlearn_llm.benchmarks._common import facts_benchmark, facts_spec, metric, phase_timer
from unlearn_llm.benchmarks.facts import method_label
from unlearn_llm.models import TinyLlamaParams
from unlearn_llm.sampling import STRATEGIES, Strategy
from unlearn_llm.worlds.facts import FactsWorldParams
from unlearn_llm.worlds.neighbours import NEIGHBOUR_SETS, NeighbourSet

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.attacks.recovery import AttackOutcome
    from unlearn_llm.sampling import Module, StepSampler
    from unlearn_llm.worlds.facts import QA, FactsWorld
    from unlearn_llm.worlds.neighbours import NeighbourSplit

Budget = Literal["epochs", "steps"]
EVALUATED = ("forget", *NEIGHBOUR_SETS, "pooled")
"""The columns of every model's scores: forget, the three sets, the pooled retain set."""


class RetainSamplingParams(StrictModel):
    """Strategies, the step budget, and the verdict tolerance."""

    strategies: list[Strategy] = Field(default_factory=lambda: list(STRATEGIES), min_length=1)
    budget: Budget = Field(
        default="epochs",
        description=(
            "'epochs': each strategy trains `epochs` of its own epoch length (the paper); "
            "'steps': every strategy trains the same `steps`."
        ),
    )
    retain_sets: list[NeighbourSet] = Field(
        default_factory=lambda: list(NEIGHBOUR_SETS),
        min_length=1,
        description=(
            "The neighbour sets the retain set is made of (every set is scored either way): "
            "['direct'] alone is the single-neighbour-set practice the paper questions."
        ),
    )
    epochs: int = Field(default=2, ge=1, le=1000)
    steps: int = Field(default=40, ge=1, le=100_000, description="Steps when budget='steps'.")
    relearning: RelearningParams | None = Field(
        default_factory=RelearningParams,
        description="The relearning attack on every unlearned model and the oracle; None: off.",
    )
    tolerance: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="An accuracy gap to the oracle within this is 'kept' in the verdict.",
    )
    use_cache: bool = Field(default=True, description="Reuse cached original and oracle.")

    @field_validator("strategies", "retain_sets")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} lists one more than once")
        return value


RetainSamplingSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, RetainSamplingParams]

MODEL_METRICS = frozenset(f"{name}_accuracy" for name in EVALUATED if name != "pooled") | {
    "pooled_retain_accuracy"
}
RETAIN_SAMPLING_METRIC_NAMES = MODEL_METRICS | {
    "steps",
    "relearned_forget_knowledge",
    "relearned_forget_accuracy",
    "oracle_distance",
    *(f"retain_share_{name}" for name in NEIGHBOUR_SETS),
}
_STEPPED = ("steps", "batch_size")


def _method_params() -> dict[str, dict[str, Any]]:
    """Quick settings of the methods with a forget and a retain term (as llm-restor)."""
    light: dict[str, Any] = {"learning_rate": 5e-4, "eval_every": 100_000}
    return {
        "gradient-difference": dict(light),
        "npo": dict(light),
        "simnpo": dict(light),
        "idk-po": dict(light),
        "rmu": {"layer": 1, "learning_rate": 1e-2, "eval_every": 100_000},
    }


def _spec(size: Size) -> BenchmarkSpec:
    known = _method_params()
    names = ["gradient-difference", "npo"] if size == "quick" else list(known)
    return facts_spec("llm-retain-sampling", size, names, known, RetainSamplingParams())


def _check(parsed: RetainSamplingSpec) -> None:
    for method in parsed.methods:
        missing = [f for f in _STEPPED if f not in type(method.params).model_fields]
        if missing:
            raise ValueError(
                f"method {method.name!r} has no {' or '.join(missing)} param: the strategies "
                "set its step count and draw its minibatches; use a method with both "
                "(gradient-difference, npo, simnpo, idk-po, rmu, gradient-ascent)"
            )


def build_modules(
    split: NeighbourSplit, sets: Sequence[NeighbourSet] = NEIGHBOUR_SETS
) -> list[Module]:
    """MELU's modules as row indices of ``encode_facts(split.forget)`` and
    ``encode_facts(retain_facts(split, sets))`` (one module per forget person)."""
    from unlearn_llm.sampling import Module, fact_rows

    forget_rows = fact_rows(split.forget)
    retain_rows = fact_rows(retain_facts(split, sets))
    return [
        Module(
            entity.entity,
            tuple(row for qa in entity.forget for row in forget_rows[qa.key]),
            {
                name: tuple(row for qa in entity.neighbours(name) for row in retain_rows[qa.key])
                for name in sets
            },
        )
        for entity in split.modules
    ]


def retain_facts(split: NeighbourSplit, sets: Sequence[NeighbourSet]) -> list[QA]:
    """The retain set made of ``sets`` (in ``NEIGHBOUR_SETS`` order)."""
    return [qa for name in NEIGHBOUR_SETS if name in sets for qa in split.neighbours(name)]


def retain_shares(
    sampler: StepSampler, size: int, steps: int, set_of_row: Sequence[NeighbourSet]
) -> dict[str, float]:
    """Share of the retain rows drawn in the first ``steps`` steps from each set."""
    counts = dict.fromkeys(dict.fromkeys(set_of_row), 0)
    done, epoch = 0, 0
    while done < steps:
        for step in sampler.plan(size, epoch)[: steps - done]:
            for row in step.retain:
                counts[set_of_row[row]] += 1
            done += 1
        epoch += 1
    total = sum(counts.values())
    return {name: count / total for name, count in counts.items()}


def score_sets(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, split: NeighbourSplit
) -> dict[str, float]:
    """Exact-answer accuracy on the forget facts, each neighbour set, and the pool."""
    from unlearn_llm.benchmarks.restor import answer_accuracy

    scores = {"forget": answer_accuracy(model, tokenizer, split.forget)}
    for name in NEIGHBOUR_SETS:
        scores[name] = answer_accuracy(model, tokenizer, split.neighbours(name))
    sizes = {name: len(split.neighbours(name)) for name in NEIGHBOUR_SETS}
    scores["pooled"] = sum(scores[n] * sizes[n] for n in NEIGHBOUR_SETS) / sum(sizes.values())
    return scores


def oracle_distance(scores: dict[str, float], oracle: dict[str, float]) -> float:
    """Mean absolute gap to the oracle over forget and the three sets (0: the oracle)."""
    names = ("forget", *NEIGHBOUR_SETS)
    return sum(abs(scores[n] - oracle[n]) for n in names) / len(names)


def relearn(
    model: torch.nn.Module,
    *,
    tokenizer: PreTrainedTokenizerBase,
    world: FactsWorld,
    split: NeighbourSplit,
    seed: int,
    original_steps: int,
    params: RelearningParams | None,
) -> AttackOutcome:
    """The relearning attack on ``model``: fine-tune on half of each forget person's
    facts, score the other half (at most a tenth of the original's training steps)."""
    from unlearn_llm.attacks.recovery import AttackTarget
    from unlearn_llm.attacks.relearning import relearning

    target = AttackTarget(
        model=model,  # type: ignore[arg-type]
        tokenizer=tokenizer,
        world=world,
        forget=split.forget,
        retain=(),
        general=(),
        holdout=(),
        seed=seed,
        original_training_steps=original_steps,
    )
    return relearning(target, params)


def _metric_name(column: str) -> str:
    return "pooled_retain_accuracy" if column == "pooled" else f"{column}_accuracy"


def run_retain_sampling(
    parsed: RetainSamplingSpec, progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Original and oracle, then every method x strategy, scored per neighbour set."""
    import copy
    import dataclasses
    import functools

    import torch

    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.models import trained_model, training_steps
    from unlearn_llm.sampling import make_sampler
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.neighbours import neighbour_split
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run, methods = parsed.params, parsed.methods
    progress.start(len(parsed.seeds) * (2 + len(methods) * len(run.strategies)), "models scored")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings, timed = phase_timer()
    # (method, strategy) -> per seed: scores, and the oracle's scores per seed
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}

    for seed in parsed.seeds:
        torch.set_num_threads(parsed.model.threads)
        start = time.perf_counter()
        world = build_world(parsed.world, seed)
        tokenizer = train_tokenizer(world, vocab_size=parsed.model.vocab_size)
        split = neighbour_split(world, seed)
        retain = retain_facts(split, run.retain_sets)
        data = make_unlearn_data(tokenizer, split.forget, retain)
        modules = build_modules(split, run.retain_sets)
        set_of_row = [
            name
            for name in NEIGHBOUR_SETS
            if name in run.retain_sets
            for qa in split.neighbours(name)
            for _ in qa.questions
        ]
        timed("world", start)
        base = {"seed": str(seed)}
        models: dict[str, Any] = {}
        steps_of: dict[str, int] = {}
        for role in ("original", "oracle"):
            start = time.perf_counter()
            trained = trained_model(world, role, seed, parsed.model, tokenizer, run.use_cache)
            models[role] = trained.model
            steps_of[role] = training_steps(trained.log)
            timed(f"{role} model", start)
        scores = {role: score_sets(models[role], tokenizer, split) for role in models}
        for role in models:
            rows.setdefault((role, "-"), []).append(scores[role])
            progress.advance(1, f"seed {seed}: {role} scored")

        attack = functools.partial(
            relearn,
            tokenizer=tokenizer,
            world=world,
            split=split,
            seed=seed,
            original_steps=steps_of["original"],
            params=run.relearning,
        )
        oracle_attack = None
        if run.relearning is not None:
            start = time.perf_counter()
            oracle_attack = attack(models["oracle"])
            timed("relearning attack", start)
        oracle = scores["oracle"]
        for label in ("original", "oracle"):
            for column in EVALUATED:
                reference = oracle[column] if label != "oracle" else None
                direction: Direction = "lower" if column == "forget" else "higher"
                labels = {**base, "method": label, "strategy": "-"}
                metrics.append(
                    metric(
                        _metric_name(column), scores[label][column], direction, labels, reference
                    )
                )
        if oracle_attack is not None:
            scores["oracle"]["relearned"] = oracle_attack.knowledge
            labels = {**base, "method": "oracle", "strategy": "-"}
            metrics.append(
                metric("relearned_forget_knowledge", oracle_attack.knowledge, "lower", labels)
            )
        sizes = ", ".join(f"{n} {len(split.neighbours(n))}" for n in NEIGHBOUR_SETS)
        notes.append(
            f"seed {seed}: {len(split.forget)} forget facts of {len(split.modules)} people; "
            f"retain facts by set: {sizes}; original/oracle accuracy on forget "
            f"{scores['original']['forget']:.2f}/{oracle['forget']:.2f}, pooled retain "
            f"{scores['original']['pooled']:.2f}/{oracle['pooled']:.2f}."
        )

        for method in methods:
            for strategy in run.strategies:
                label = method_label(method)
                sampler = make_sampler(
                    strategy, len(data.forget), len(data.retain), modules, seed=seed
                )
                size = int(getattr(method.params, "batch_size"))  # noqa: B009
                steps = (
                    run.epochs * sampler.epoch_steps(size) if run.budget == "epochs" else run.steps
                )
                params = method.params.model_copy(update={"steps": steps})
                model = copy.deepcopy(models["original"])
                start = time.perf_counter()
                method.spec.function(model, dataclasses.replace(data, sampler=sampler), params)
                timed(f"unlearn:{label}:{strategy}", start)
                start = time.perf_counter()
                values = score_sets(model, tokenizer, split)
                timed("scoring", start)
                labels = {**base, "method": label, "strategy": strategy}
                for column in EVALUATED:
                    direction = "lower" if column == "forget" else "higher"
                    metrics.append(
                        metric(
                            _metric_name(column), values[column], direction, labels, oracle[column]
                        )
                    )
                values["steps"] = float(steps)
                values["oracle_distance"] = oracle_distance(values, oracle)
                metrics.append(metric("steps", steps, "none", labels, unit="steps"))
                metrics.append(
                    metric("oracle_distance", values["oracle_distance"], "lower", labels)
                )
                for name, share in retain_shares(sampler, size, steps, set_of_row).items():
                    metrics.append(metric(f"retain_share_{name}", share, "none", labels))
                if oracle_attack is not None:
                    start = time.perf_counter()
                    outcome = attack(model)
                    timed("relearning attack", start)
                    values["relearned"] = outcome.knowledge
                    metrics.append(
                        metric(
                            "relearned_forget_knowledge",
                            outcome.knowledge,
                            "lower",
                            labels,
                            oracle_attack.knowledge,
                        )
                    )
                    accuracy = outcome.metrics["heldout_forget_exact_answer_accuracy"]
                    reference = oracle_attack.metrics["heldout_forget_exact_answer_accuracy"]
                    metrics.append(
                        metric("relearned_forget_accuracy", accuracy, "lower", labels, reference)
                    )
                rows.setdefault((label, strategy), []).append(values)
                progress.advance(1, f"seed {seed}: {label} x {strategy} unlearned and scored")

    notes.extend(_verdict(rows, run.strategies, run.tolerance))
    rows_named = ", ".join(f"{i} {m} x {s}" for i, (m, s) in enumerate(_ordered(rows)))
    notes.append(f"Heatmap retain-sampling-gaps rows: {rows_named}.")
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        notes=notes,
        curves=[_profile(rows)],
        heatmaps=[_gap_heatmap(rows)],
        summary=_summary(rows),
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _means(entries: list[dict[str, float]]) -> dict[str, float]:
    keys = set.intersection(*(set(entry) for entry in entries))
    return {key: _mean([entry[key] for entry in entries]) for key in keys}


def _verdict(
    rows: dict[tuple[str, str], list[dict[str, float]]],
    strategies: Sequence[str],
    tolerance: float,
) -> list[str]:
    """The paper's three claims, checked on seed means against the oracle."""
    oracle = _means(rows[("oracle", "-")])
    methods = sorted({m for m, s in rows if s != "-"})
    notes: list[str] = []
    hidden: list[str] = []
    reversals: list[str] = []
    one_to_one_worse: list[bool] = []
    melu_vs_cyclic: list[tuple[bool, str]] = []
    for method in methods:
        means = {s: _means(rows[(method, s)]) for s in strategies if (method, s) in rows}
        for strategy, values in means.items():
            # The pool averages the sets: a drop concentrated on one set shows in the
            # pooled gap diluted by the others' sizes.
            pooled_gap = values["pooled"] - oracle["pooled"]
            worst = min(NEIGHBOUR_SETS, key=lambda n: values[n] - oracle[n])
            worst_gap = values[worst] - oracle[worst]
            if worst_gap < pooled_gap - tolerance:
                hidden.append(
                    f"{method} x {strategy} (pooled {pooled_gap:+.2f}, {worst} {worst_gap:+.2f})"
                )
        # Among the strategies that forgot (forget accuracy within the tolerance of the
        # oracle's), does the best by pooled accuracy differ from the best on some set?
        forgot = {s: v for s, v in means.items() if v["forget"] <= oracle["forget"] + tolerance}
        by_pooled = max(forgot, key=lambda s: forgot[s]["pooled"], default=None)
        for name in NEIGHBOUR_SETS:
            if by_pooled is None or len(forgot) < 2:
                break
            by_set = max(forgot, key=lambda s: forgot[s][name])
            if forgot[by_set][name] > forgot[by_pooled][name] + tolerance:
                reversals.append(
                    f"{method}: best pooled {by_pooled} ({forgot[by_pooled]['pooled']:.2f}) "
                    f"but best on {name} {by_set} ({forgot[by_set][name]:.2f} vs "
                    f"{forgot[by_pooled][name]:.2f})"
                )
        distance = {s: v["oracle_distance"] for s, v in means.items()}
        if "one-to-one" in distance and len(distance) > 1:
            others = min(d for s, d in distance.items() if s != "one-to-one")
            one_to_one_worse.append(distance["one-to-one"] > others)
        if "melu" in distance and "cyclic" in distance:
            text = (
                f"{method} {distance['melu']:.3f} vs {distance['cyclic']:.3f}"
                f" (forget {means['melu']['forget']:.2f} vs {means['cyclic']['forget']:.2f},"
                f" direct {means['melu']['direct']:.2f} vs {means['cyclic']['direct']:.2f})"
            )
            melu_vs_cyclic.append((distance["melu"] <= distance["cyclic"], text))
        listed = "; ".join(
            f"{s} {d:.3f} ({int(means[s]['steps'])} steps)" for s, d in distance.items()
        )
        notes.append(
            f"{method}: distance to the oracle (mean |gap| over forget + 3 sets): {listed}"
        )
    if one_to_one_worse:
        verdict = "reproduced" if all(one_to_one_worse) else "not reproduced"
        if any(one_to_one_worse) and not all(one_to_one_worse):
            verdict = "partly reproduced"
        notes.append(
            f"Claim 1:1 sampling yields poor results: {verdict} "
            f"({sum(one_to_one_worse)} of {len(one_to_one_worse)} methods farther from the "
            "oracle with 1:1 than with the best other strategy)."
        )
    if melu_vs_cyclic:
        wins = sum(better for better, _ in melu_vs_cyclic)
        notes.append(
            f"Claim MELU is an alternative to cyclic sampling: MELU as close to the oracle or "
            f"closer in {wins} of {len(melu_vs_cyclic)} methods (MELU vs cyclic distance: "
            f"{'; '.join(text for _, text in melu_vs_cyclic)})."
        )
    if "relearned" in oracle:
        attacked = [
            f"{m} x {s} {_means(e)['relearned']:.3f}"
            for (m, s), e in rows.items()
            if s != "-" and "relearned" in _means(e)
        ]
        notes.append(
            f"Relearning attack (held-out forget answer probability after fine-tuning on the "
            f"other half; oracle {oracle['relearned']:.3f}): {', '.join(attacked)}."
        )
    found = bool(hidden or reversals)
    notes.append(
        "Claim a pooled retain metric obscures trade-offs: "
        + ("reproduced" if found else "not reproduced")
        + f": a set's gap to the oracle more than {tolerance} below the pooled gap: "
        + (", ".join(hidden) or "none")
        + "; among strategies that forgot, the best by pooled accuracy is beaten on a set by "
        + f"more than {tolerance}: "
        + ("; ".join(reversals) or "none")
        + "."
    )
    return notes


def _ordered(rows: dict[tuple[str, str], list[dict[str, float]]]) -> list[tuple[str, str]]:
    return [key for key in rows if key[1] != "-"]


def _gap_heatmap(rows: dict[tuple[str, str], list[dict[str, float]]]) -> Heatmap:
    oracle = _means(rows[("oracle", "-")])
    keys = _ordered(rows)
    z = []
    for key in keys:
        means = _means(rows[key])
        z.append([means[column] - oracle[column] for column in EVALUATED])
    return Heatmap(
        name="retain-sampling-gaps",
        title="Accuracy minus the oracle's, per set (rows: see the notes)",
        x_label="0 forget, 1 direct, 2 indirect, 3 general, 4 pooled retain",
        y_label="method x strategy",
        z_label="accuracy - oracle accuracy",
        x=[float(i) for i in range(len(EVALUATED))],
        y=[float(i) for i in range(len(keys))],
        z=z,
        z_range=(-1.0, 1.0),
    )


def _profile(rows: dict[tuple[str, str], list[dict[str, float]]]) -> Curve:
    oracle = _means(rows[("oracle", "-")])
    series = [
        Series(
            label=f"{method} x {strategy}",
            x=[float(i) for i in range(len(EVALUATED))],
            y=[_means(rows[(method, strategy)])[c] - oracle[c] for c in EVALUATED],
        )
        for method, strategy in _ordered(rows)
    ]
    return Curve(
        name="retain-sampling-profile",
        title="Per-set accuracy gap to the oracle: what the pooled number (x=4) hides",
        x_label="0 forget, 1 direct, 2 indirect, 3 general, 4 pooled retain",
        y_label="accuracy - oracle accuracy",
        series=series,
        hlines={"oracle": 0.0},
    )


def _summary(rows: dict[tuple[str, str], list[dict[str, float]]]) -> Table:
    header = ["method", "strategy", "steps", "forget", "direct", "indirect", "general"]
    header += ["pooled", "relearned", "distance"]
    table_rows = []
    for (method, strategy), entries in rows.items():
        means = _means(entries)
        cells = [method, strategy, f"{means['steps']:.0f}" if "steps" in means else "-"]
        cells += [f"{means[c]:.2f}" for c in EVALUATED]
        cells.append(f"{means['relearned']:.3f}" if "relearned" in means else "-")
        cells.append(f"{means['oracle_distance']:.3f}" if "oracle_distance" in means else "-")
        table_rows.append(cells)
    return Table(
        title="Retain sampling: exact-answer accuracy per set (seed means)",
        header=header,
        rows=table_rows,
    )


LLM_RETAIN_SAMPLING = facts_benchmark(
    name="llm-retain-sampling",
    summary="1:1, cyclic and MELU retain sampling: forget efficacy and accuracy per set.",
    default_spec=_spec,
    run=run_retain_sampling,
    params_type=RetainSamplingParams,
    metric_names=RETAIN_SAMPLING_METRIC_NAMES,
    check=_check,
)
