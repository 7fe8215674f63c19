"""The facts benchmarks: ``llm-facts-quick`` and ``llm-facts-full``, one recipe.

Build the fictitious-facts world, train (or load from the cache) the original model,
the exact retrain oracle and extra-seed oracles for the validity gate, run each
unlearning method on a copy of the original, and score everything against the oracle
(TOFU forget quality and model utility, MUSE memorisation and PrivLeak,
membership-inference AUCs, exact memorisation). The full benchmark repeats this for
three seeds and three forget ratios (1 %, 5 %, 10 % of the people); one original
serves every ratio of a seed, because it trains on the same facts whichever of them
are later forgotten. Every seed of the spec is run.

With ``params.attacks`` (by default every registered recovery attack) every model is
also attacked, and the designed suppression-only models of ``params.suppressed`` are
attacked beside them: clean against attacked forget quality, the robust forget quality
and the attacks' validity gate (``_attacks.py``).

The per-model metrics, curves and seed means are built in ``_facts_report.py``.
Importing this module does not import torch; ``run_facts`` does.

About 670 lines on purpose: ``run_facts`` is one recipe read top to bottom (train,
unlearn, evaluate, attack per seed and ratio); the report and the attack runner
already live in ``_facts_report.py`` and ``_attacks.py``.
"""

# Over 600 lines on purpose: one recipe for both sizes, read top to bottom; the report is already
# in _facts_report.py.
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    ForgetRequest,
    MethodConfig,
    MetricValue,
    ModelSpec,
    ParsedMethod,
    ParsedSpec,
    Progress,
    Series,
    Size,
    StrictModel,
    WorldSpec,
)

from unlearn_llm.benchmarks._attacks import (
    ATTACK_METRIC_NAMES,
    SUPPRESSED_LABELS,
    AttackConfigs,
    SuppressionKind,
    default_attacks,
    parsed_attacks,
)
from unlearn_llm.benchmarks._common import MODEL_NAME, WORLD_NAME, metric
from unlearn_llm.benchmarks._facts_report import (
    FACTS_METRIC_NAMES,
    aggregate_seeds,
    curve_recorder,
    model_metrics,
    result_curves,
)
from unlearn_llm.methods import METHODS
from unlearn_llm.models import TinyLlamaParams, model_params_for
from unlearn_llm.worlds.facts import FactsWorld, FactsWorldParams, build_world, world_params_for

if TYPE_CHECKING:
    from unlearn_llm.metrics.evaluate import ModelEvaluation
    from unlearn_llm.models import Role


class FactsRunParams(StrictModel):
    """Benchmark knobs besides world, model and methods."""

    retain_eval_facts: int = Field(
        default=48, ge=4, le=100_000, description="Retain facts scored (a fixed sample)."
    )
    mia_k: float = Field(default=0.2, gt=0.0, le=1.0, description="k of Min-K% and Min-K%++.")
    use_cache: bool = Field(default=True, description="Reuse cached originals and oracles.")
    curve_every: int = Field(default=5, ge=1, le=10_000, description="Steps between curve points.")
    forget_fractions: list[float] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description=(
            "Forget ratios to run, each a share of all people at most the world's "
            "forget_fraction (forget the first round(f * people) of its forget people); "
            "None: the world's forget split only."
        ),
    )
    extra_oracles: int = Field(
        default=1, ge=1, le=8, description="Oracles of other seeds for the validity gate."
    )
    world_seed: int | None = Field(
        default=None,
        ge=0,
        description=(
            "One world for every seed (seeds then vary the models only, and the oracles of "
            "the other seeds serve as the extra oracles); None: each seed builds its world."
        ),
    )
    prefix_tokens: int = Field(
        default=8, ge=1, le=64, description="Passage tokens given for verbatim memorisation."
    )
    retain_eval_passages: int = Field(
        default=24, ge=1, le=100_000, description="Retain passages scored (a fixed sample)."
    )
    attacks: AttackConfigs = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Recovery attacks run on the oracles, the original and every method's model "
            "(registered names of unlearn_llm.attacks, each once); empty: none."
        ),
    )
    suppressed: list[SuppressionKind] = Field(
        default_factory=list,
        max_length=4,
        description=(
            "Designed suppression-only models attacked as extra rows (with attacks only): "
            "output-block, head, quantization-buckets, entangled; they show each attack's "
            "power."
        ),
    )
    attack_forget_fraction: float | None = Field(
        default=None,
        description=(
            "With forget_fractions: attack the models of this forget ratio only (one of "
            "forget_fractions; the nightly's time budget); None: attack every ratio."
        ),
    )
    attack_knowledge_tolerance: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description=(
            "Validity gate for attacks: how far (absolute; knowledge is a share or a "
            "probability) the oracles' knowledge under an attack may move, from each other "
            "and from their clean value, before the attack is flagged uninformative."
        ),
    )


FactsSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, FactsRunParams]


def _methods_for(size: Size) -> list[MethodConfig]:
    # The nightly evaluates per-step curves every 8 steps (its time budget is 30 min).
    light = {"steps": 24, "learning_rate": 5e-4, "eval_every": 4 if size == "quick" else 8}
    quick = [
        MethodConfig(name="gradient-ascent", params=dict(light)),
        MethodConfig(name="gradient-difference", params=dict(light)),
        MethodConfig(name="npo", params=dict(light)),
        MethodConfig(
            name="npo", params={**light, "projection": {"retain_batches": 2, "refresh_every": 1}}
        ),
        # RMU steers the last layer's output (layer 1 of 2, so both MLP down-projections
        # train, as the paper's l-2..l); those two matrices alone need a larger step
        MethodConfig(
            name="rmu",
            params={
                "steps": 24,
                "layer": 1,
                "learning_rate": 1e-2,
                "eval_every": light["eval_every"],
            },
        ),
        # no steps: hooks that steer gated forget inputs, every weight left as it was
        MethodConfig(name="test-time-steering", params={}),
        # signatures at layer 0's output, suppressed by a frozen teacher, a merged LoRA;
        # the adapter needs 60 steps to come near its teacher (24: forget P 0.71, 60: 0.44)
        MethodConfig(name="kif", params={"steps": 60, "eval_every": 2 * light["eval_every"]}),
        # kif's signatures and gated suppression as inference hooks, weights untouched
        MethodConfig(name="kif-runtime", params={}),
    ]
    if size == "quick":
        return quick
    return [
        *quick,
        MethodConfig(name="simnpo", params=dict(light)),
        MethodConfig(name="idk-po", params=dict(light)),
        MethodConfig(name="task-vector", params={"finetune_steps": 24, "learning_rate": 5e-4}),
        MethodConfig(name="sani", params={"repair_steps": 24, "eval_every": 8}),
        # anchor neighbours from the facts' shared entities (UnlearnData.neighbours)
        MethodConfig(name="neds", params=dict(light)),
        # one forget set served as one request (its filter has nothing to compare with)
        MethodConfig(name="fit", params=dict(light)),
        MethodConfig(
            name="gradient-difference",
            params={**light, "projection": {"retain_batches": 2, "refresh_every": 1}},
        ),
    ]


def _run_params_for(size: Size) -> FactsRunParams:
    if size == "quick":
        return FactsRunParams(
            retain_eval_facts=48,
            attacks=default_attacks("quick"),
            suppressed=list(SUPPRESSED_LABELS),
        )
    return FactsRunParams(
        retain_eval_facts=64,
        forget_fractions=[0.01, 0.05, 0.1],
        extra_oracles=2,
        world_seed=0,
        # one ratio per seed (the largest forget set), no designed hiders: the attacks'
        # power is llm-facts-quick's and llm-attack-power's to show
        attacks=default_attacks("full"),
        attack_forget_fraction=0.1,
    )


def _spec(name: str, size: Size) -> BenchmarkSpec:
    return BenchmarkSpec(
        benchmark=name,
        size=size,
        seeds=[0] if size == "quick" else [0, 1, 2],
        world=WorldSpec(name=WORLD_NAME, params=world_params_for(size).model_dump()),
        model=ModelSpec(name=MODEL_NAME, params=model_params_for(size).model_dump()),
        methods=_methods_for(size),
        params=_run_params_for(size).model_dump(),
    )


def method_label(method: ParsedMethod) -> str:
    """``npo``, or ``npo+gu`` when the geometric projection is attached."""
    attached = getattr(method.params, "projection", None) is not None
    return method.name + ("+gu" if attached else "")


def _world_seed(run: FactsRunParams, seed: int) -> int:
    return seed if run.world_seed is None else run.world_seed


def _extra_oracle_seeds(run: FactsRunParams, seeds: list[int], seed: int) -> list[int]:
    """Seeds of the validity gate's extra oracles for run seed ``seed``.

    With one shared world the other seeds' oracles are trained anyway, so they are used
    first; otherwise (or when too few) seeds ``seed + 1000 i``.
    """
    extra = [s for s in seeds if s != seed] if run.world_seed is not None else []
    step = 1
    while len(extra) < run.extra_oracles:
        candidate = seed + 1000 * step
        if candidate not in extra and candidate not in seeds:
            extra.append(candidate)
        step += 1
    return extra[: run.extra_oracles]


def _world_for(
    params: FactsWorldParams, requests: Sequence[ForgetRequest], seed: int
) -> FactsWorld:
    """The world of ``seed``, with the facts of ``requests`` as the forget set."""
    from unlearn_schema import FactForgetRequest

    world = build_world(params, seed)
    keys = [
        (fact.subject, fact.relation, fact.object)
        for request in requests
        if isinstance(request, FactForgetRequest)
        for fact in request.facts
    ]
    return world.forgetting(keys) if keys else world


def _check(parsed: FactsSpec) -> None:
    """Cross-field checks: forget ratios against the world, requests against its facts
    (the attacks were parsed with the params: ``AttackConfig``)."""
    world, run = parsed.world, parsed.params
    if parsed.requests and run.forget_fractions is not None:
        raise ValueError(
            "params.forget_fractions and requests cannot be combined: the requests name the "
            "facts to forget; drop one of them"
        )
    for fraction in run.forget_fractions or []:
        count = round(fraction * world.people)
        available = round(world.forget_fraction * world.people)
        if not 0.0 < fraction <= world.forget_fraction or not 1 <= count <= available:
            raise ValueError(
                f"params.forget_fractions has {fraction}: accepted are shares in "
                f"(0, {world.forget_fraction}] (world forget_fraction) that select at least "
                f"one of people={world.people}"
            )
    # after the ratios themselves, so a bad ratio is named first
    if run.attack_forget_fraction is not None and (
        run.attack_forget_fraction not in (run.forget_fractions or [])
    ):
        raise ValueError(
            f"params.attack_forget_fraction={run.attack_forget_fraction} is not one of "
            f"params.forget_fractions={run.forget_fractions}; accepted: one of them, or null"
        )
    if parsed.requests:
        for seed in parsed.seeds:
            # milliseconds: names facts the world does not have
            _world_for(world, parsed.requests, _world_seed(run, seed))
    labels = [method_label(m) for m in parsed.methods]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise ValueError(f"methods: methods appear twice with the same label: {duplicates}")


def _cases(parsed: FactsSpec, seed: int) -> list[tuple[str | None, FactsWorld]]:
    """``(forget ratio label or None, world)`` for every forget ratio of one seed."""
    world_params, run = parsed.world, parsed.params
    world = _world_for(world_params, parsed.requests, _world_seed(run, seed))
    if run.forget_fractions is None:
        return [(None, world)]
    return [
        (f"{fraction:g}", world.forgetting_people(round(fraction * world_params.people)))
        for fraction in run.forget_fractions
    ]


def run_facts(parsed: FactsSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Train original and oracles, run every method, evaluate against the oracle."""
    import copy
    import functools
    import random
    import statistics

    import torch

    from unlearn_llm.attacks.recovery import AttackTarget
    from unlearn_llm.attacks.relearning import linked_facts
    from unlearn_llm.benchmarks._attacks import (
        ORACLE,
        OTHER_ORACLE,
        CaseAttacks,
        RobustRow,
        robust_curve,
        robust_note,
        summary_table,
        suppressed_model,
    )
    from unlearn_llm.data import encode, training_pairs
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.methods.kif_runtime import installed_kif_runtime, kif_runtime_firing_rates
    from unlearn_llm.methods.test_time_steering import gate_firing_rates, installed_steering
    from unlearn_llm.metrics.evaluate import (
        answer_token_statistics,
        evaluate_model,
        score_facts,
    )
    from unlearn_llm.metrics.tofu import forget_quality
    from unlearn_llm.metrics.validity import validity_gate
    from unlearn_llm.models import TrainedModel, cache_key, trained_model, training_steps
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir  # checkpoints live in the cache; plots are returned as curves
    model_params, run, methods, seeds = parsed.model, parsed.params, parsed.methods, parsed.seeds
    torch.set_num_threads(model_params.threads)
    ratios = len(run.forget_fractions or [None])
    attacks = parsed_attacks(run.attacks)  # parsed with the spec
    attacked_ratio = (
        None if run.attack_forget_fraction is None else f"{run.attack_forget_fraction:g}"
    )
    # per seed and ratio: original, oracle, extra oracles, 3 evaluations, 2 per method,
    # and in each attacked case one phase per attacked model (3 references, the methods
    # and the designed suppression-only models)
    per_case = 2 + run.extra_oracles + 3 + 2 * len(methods)
    per_attacked_case = (3 + len(methods) + len(run.suppressed)) if attacks else 0
    attacked_cases = ratios if attacked_ratio is None else 1
    total = len(seeds) * (ratios * per_case + attacked_cases * per_attacked_case)
    progress.start(total, "phases")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    scatter: dict[str, tuple[list[float], list[float]]] = {}
    step_curves: dict[str, list[Series]] = {
        "forget_quality": [],
        "forget_probability": [],
        "retain_probability": [],
    }
    gate_ps: list[float] = []
    trained_here: dict[str, TrainedModel] = {}
    attacked_rows: list[tuple[str, RobustRow]] = []
    tokenizers: dict[int, Any] = {}

    def timed(phase: str, start: float) -> None:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start

    def model_for(
        world: FactsWorld, role: Role, model_seed: int, tokenizer: Any, ratio: str | None
    ) -> Any:
        # Within a run each model trains once (an original serves every forget ratio;
        # with one shared world, each oracle serves every seed), even without the cache.
        key = cache_key(world, role, model_seed, model_params)
        if key in trained_here:
            progress.advance(1, f"{role}-{model_seed} (reused)")
            return trained_here[key]
        start = time.perf_counter()
        trained = trained_model(
            world, role, model_seed, model_params, tokenizer, use_cache=run.use_cache
        )
        timed("train" if not trained.from_cache else "load_cached", start)
        progress.advance(1, f"{role}-{model_seed} ({'cache' if trained.from_cache else 'trained'})")
        trained_here[key] = trained
        if not trained.from_cache:
            labels = {"seed": str(model_seed)}
            if role == "oracle" and ratio is not None:
                labels["forget_ratio"] = ratio
            name = (
                "original_training_wall_time" if role == "original" else "oracle_retrain_wall_time"
            )
            metrics.append(metric(name, trained.log["wall_time_s"], "none", labels, unit="s"))
            metrics.append(
                metric(f"{role}_training_epochs", float(trained.log["epochs"]), "none", labels)
            )
        return trained

    for seed in seeds:
        for ratio, world in _cases(parsed, seed):
            base = (
                {"seed": str(seed)} if ratio is None else {"seed": str(seed), "forget_ratio": ratio}
            )
            where = f"seed {seed}" + ("" if ratio is None else f", forget ratio {ratio}")
            suffix = ("" if ratio is None else f" @{ratio}") + (
                f" (seed {seed})" if len(seeds) > 1 else ""
            )
            start = time.perf_counter()
            if world.seed not in tokenizers:
                tokenizers[world.seed] = train_tokenizer(world, vocab_size=model_params.vocab_size)
            tokenizer = tokenizers[world.seed]
            timed("world", start)
            extra_seeds = _extra_oracle_seeds(run, seeds, seed)
            original = model_for(world, "original", seed, tokenizer, ratio)
            oracle = model_for(world, "oracle", seed, tokenizer, ratio)
            extras = [model_for(world, "oracle", s, tokenizer, ratio) for s in extra_seeds]
            second = extras[0]
            accuracy = float(original.log["exact_answer_accuracy"])
            metrics.append(
                metric("original_training_exact_answer_accuracy", accuracy, "higher", base)
            )

            forget_facts = world.split("forget")
            retain_facts = list(world.split("retain"))
            retain_eval = random.Random(seed).sample(
                retain_facts, k=min(run.retain_eval_facts, len(retain_facts))
            )
            forget_passages = world.passage_split("forget")
            retain_passages = world.passage_split("retain")
            retain_eval_passages = random.Random(seed).sample(
                retain_passages, k=min(run.retain_eval_passages, len(retain_passages))
            )
            splits = (forget_facts, retain_eval, world.split("general"), world.split("holdout"))
            start = time.perf_counter()
            # The reference attack calibrates with an extra-seed oracle, which never saw
            # the forget set (the main oracle is the one every model is compared with).
            reference = (
                answer_token_statistics(second.model, tokenizer, forget_facts),
                answer_token_statistics(second.model, tokenizer, world.split("holdout")),
            )

            # what every model is scored on, and what every attack is given
            scored_on: dict[str, Any] = {
                "tokenizer": tokenizer,
                "forget": splits[0],
                "retain": splits[1],
                "general": splits[2],
                "holdout": splits[3],
                "forget_passages": forget_passages,
                "retain_passages": retain_eval_passages,
            }
            evaluate: Callable[[Any], ModelEvaluation] = functools.partial(
                evaluate_model,
                **scored_on,
                reference=reference,
                mia_k=run.mia_k,
                prefix_tokens=run.prefix_tokens,
            )
            second_eval = evaluate(second.model)
            oracle_eval = evaluate(oracle.model)
            original_eval = evaluate(original.model)
            timed("evaluate", start)
            progress.advance(3, "evaluated original and oracles")
            oracle_ratios = oracle_eval.forget.truth_ratio
            extra_ps = [forget_quality(second_eval.forget.truth_ratio, oracle_ratios)]
            for other in extras[1:]:
                ratios_other = score_facts(other.model, tokenizer, forget_facts, generate=False)
                extra_ps.append(forget_quality(ratios_other.truth_ratio, oracle_ratios))
            gate = validity_gate(
                forget_quality(original_eval.forget.truth_ratio, oracle_ratios), extra_ps
            )
            gate_ps.extend(extra_ps)
            metrics.append(metric("validity_gate_passed", float(gate.passed), "higher", base))
            metrics.append(
                metric("validity_original_forget_quality", gate.original_p, "lower", base)
            )
            metrics.append(
                metric(
                    "validity_other_oracles_median_forget_quality",
                    gate.second_oracle_p,
                    "higher",
                    base,
                )
            )
            metrics.append(
                metric(
                    "validity_other_oracles_min_forget_quality", gate.oracle_min_p, "higher", base
                )
            )
            notes.append(
                f"{where}: {gate.explain()} (extra oracle seeds {extra_seeds}, "
                f"{len(forget_facts)} forget facts)."
            )
            if world.forget_keys is not None and ratio is None:
                notes.append(
                    f"{where}: the forget set is the {len(forget_facts)} facts named in the "
                    "spec's requests (not whole people)."
                )
            for label, evaluation, p in (
                ("original", original_eval, gate.original_p),
                ("oracle (other seed)", second_eval, extra_ps[0]),
            ):
                metrics.extend(model_metrics(evaluation, oracle_eval, p, {**base, "method": label}))
                key = label + ("" if ratio is None else f" @{ratio}")
                scatter.setdefault(key, ([], []))
                scatter[key][0].append(evaluation.model_utility())
                scatter[key][1].append(p)

            case_attacks: CaseAttacks | None = None
            if attacks and (attacked_ratio is None or ratio == attacked_ratio):
                target = AttackTarget(
                    model=original.model,
                    world=world,
                    seed=seed,
                    original=original.model,
                    original_training_steps=training_steps(original.log),
                    **scored_on,
                )
                case_attacks = CaseAttacks(attacks, target, timings)
                # the oracles first: every attacked number is set beside theirs
                references: list[tuple[str, Any, float | None]] = [
                    (ORACLE, oracle.model, None),
                    (OTHER_ORACLE, second.model, extra_ps[0]),
                    ("original", original.model, gate.original_p),
                ]
                for label, model, clean_p in references:
                    case_attacks.attack(label, model, clean_p)
                    progress.advance(1, f"{label} attacked")

            data = make_unlearn_data(
                tokenizer, forget_facts, retain_facts, forget_passages, retain_passages
            )
            # the rows a hooked model's forward pass is timed on: forget and retain
            # questions with their answers, alternating (as unlearn-llm-steering-speed)
            pairs = [training_pairs(forget_facts[:16]), training_pairs(retain_eval[:16])]
            latency_rows = encode(
                tokenizer,
                [p for two in zip(pairs[0][0], pairs[1][0], strict=False) for p in two],
                [a for two in zip(pairs[0][1], pairs[1][1], strict=False) for a in two],
            ).trimmed()
            for method in methods:
                label = method_label(method)
                params = method.params
                if "seed" in type(params).model_fields and "seed" not in method.config.params:
                    # each run seed also reseeds the method's batches
                    params = params.model_copy(update={"seed": seed})
                model = copy.deepcopy(original.model)
                points: dict[str, list[float]] = {"step": [], "fq": [], "fp": [], "rp": []}
                on_step = curve_recorder(
                    tokenizer, forget_facts, retain_eval, oracle_ratios, points
                )
                start = time.perf_counter()
                log = method.spec.function(model, data, params, on_step=on_step)
                timed(f"unlearn:{label}", start)
                progress.advance(1, f"{label} unlearned")
                start = time.perf_counter()
                evaluation = evaluate(model)
                timed("evaluate", start)
                progress.advance(1, f"{label} evaluated")
                p = forget_quality(evaluation.forget.truth_ratio, oracle_ratios)
                if case_attacks is not None:
                    case_attacks.attack(label, model, p)
                    progress.advance(1, f"{label} attacked")
                labels = {**base, "method": label}
                metrics.extend(model_metrics(evaluation, oracle_eval, p, labels))
                gated = {"forget": forget_facts, "retain": retain_eval, "general": splits[2]}
                rates = gate_firing_rates(model, tokenizer, gated)
                rates |= kif_runtime_firing_rates(model, tokenizer, gated)
                for split, rate in rates.items():
                    labels_split = {**labels, "split": split}
                    metrics.append(metric("gate_firing_rate", rate, "none", labels_split))
                if installed_steering(model) or installed_kif_runtime(model):
                    # hooks cost time on every forward pass: time it against the same
                    # weights without hooks (the original), interleaved, in this run
                    cpu, wall = hook_latency_ratios(model, original.model, latency_rows)
                    metrics.append(metric("hook_latency_ratio", cpu, "lower", labels))
                    metrics.append(metric("hook_latency_ratio_wall", wall, "lower", labels))
                    notes.append(
                        f"{where}, {label}: a hooked forward pass of {len(latency_rows)} rows "
                        f"takes {cpu:.3f}x the unhooked one's CPU time ({wall:.3f}x wall)."
                    )
                metrics.append(
                    metric("unlearning_wall_time", log.wall_time_s, "lower", labels, unit="s")
                )
                key = label + ("" if ratio is None else f" @{ratio}")
                scatter.setdefault(key, ([], []))
                scatter[key][0].append(evaluation.model_utility())
                scatter[key][1].append(p)
                if points["step"]:
                    for name, values in (
                        ("forget_quality", points["fq"]),
                        ("forget_probability", points["fp"]),
                        ("retain_probability", points["rp"]),
                    ):
                        step_curves[name].append(
                            Series(label=label + suffix, x=points["step"], y=values)
                        )
                verdict = "passes" if p > 0.1 else ("borderline" if p > 0.01 else "fails")
                utility, oracle_utility = evaluation.model_utility(), oracle_eval.model_utility()
                forget_p = evaluation.forget.answer_probability.mean()
                oracle_forget_p = oracle_eval.forget.answer_probability.mean()
                notes.append(
                    f"{where}, {label}: forget quality p={p:.2g} ({verdict} vs oracle), model "
                    f"utility {utility:.3f} (oracle {oracle_utility:.3f}), forget answer "
                    f"probability {forget_p:.3g} (oracle {oracle_forget_p:.3g}), LOSS-attack "
                    f"AUC {evaluation.mia['loss']:.2f} (oracle {oracle_eval.mia['loss']:.2f})."
                )
            metrics.append(
                metric("oracle_model_utility", oracle_eval.model_utility(), "none", base)
            )
            if case_attacks is not None:
                related = linked_facts(retain_facts, forget_facts)
                for kind in run.suppressed:
                    start = time.perf_counter()
                    hider = suppressed_model(
                        kind, original.model, tokenizer, forget_facts, retain_eval, seed, related
                    )
                    timed("suppress", start)
                    label = SUPPRESSED_LABELS[kind]
                    p = case_attacks.attack_scored(label, hider, oracle_ratios)
                    metrics.append(metric("forget_quality", p, "higher", {**base, "method": label}))
                    progress.advance(1, f"{label} attacked")
                case = case_attacks.report(base, run.attack_knowledge_tolerance)
                metrics.extend(case.metrics)
                notes.extend(f"{where}: {note}" for note in case.notes)
                for row in case.rows:
                    notes.append(robust_note(where, row, case_attacks.outcomes[ORACLE]))
                    attacked_rows.append((suffix, row))

    if len(gate_ps) > 1:
        notes.append(
            f"validity gate over all seeds and ratios: extra-oracle forget quality min "
            f"p={min(gate_ps):.2g}, median p={statistics.median(gate_ps):.2g} "
            f"({len(gate_ps)} oracle comparisons)."
        )
    if len(seeds) > 1 or ratios > 1:
        aggregate_seeds(metrics, notes)

    curves = result_curves(scatter, step_curves)
    summary = None
    if attacked_rows:
        curves.append(robust_curve(attacked_rows))
        summary = summary_table(attacked_rows, [attack.name for attack in attacks])
        spent = {k.removeprefix("attack:"): v for k, v in timings.items() if k[:7] == "attack:"}
        notes.append(
            f"attacks took {sum(spent.values()):.1f} s in all ("
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent.items())
            + f") on {len(attacked_rows)} attacked models."
        )
    return BenchmarkResult(
        metrics=metrics, curves=curves, timings=timings, notes=notes, summary=summary
    )


def hook_latency_ratios(
    hooked: Any, plain: Any, batch: Any, rounds: int = 3, repeats: int = 20
) -> tuple[float, float]:
    """``(CPU-time ratio, wall-time ratio)`` of ``hooked``'s forward passes on ``batch``
    over ``plain``'s: ``rounds`` x ``repeats`` passes each, interleaved pass by pass
    after a warm-up, on one torch thread (the timing of ``unlearn-llm-steering-speed``:
    the thread's CPU time counts only work done on it)."""
    import torch

    from unlearn_llm.benchmarks.steering_speed import paired_forward_totals

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spent = paired_forward_totals(plain, hooked, batch, rounds, repeats)
    finally:
        torch.set_num_threads(threads)
    return (
        spent["steered_cpu"] / spent["plain_cpu"],
        spent["steered_wall"] / spent["plain_wall"],
    )


def _declare(
    name: str, summary: str, quick_budget_s: float | None
) -> Benchmark[FactsWorldParams, TinyLlamaParams, FactsRunParams]:
    """One of the two facts benchmarks: same declaration and recipe, other default spec."""
    return Benchmark(
        name=name,
        summary=summary,
        default_spec=lambda size: _spec(name, size),
        run=run_facts,
        params_type=FactsRunParams,
        worlds={WORLD_NAME: FactsWorldParams},
        models={MODEL_NAME: TinyLlamaParams},
        methods=METHODS,
        metric_names=FACTS_METRIC_NAMES | ATTACK_METRIC_NAMES,
        request_kinds=frozenset({"facts"}),
        checkpoint_hint=(
            "to unlearn your own checkpoint use unlearn_llm.own_model.forget_in_own_model "
            "(recipe 'Forget facts from your own model with LoRA')"
        ),
        check=_check,
        quick_budget_s=quick_budget_s,
    )


LLM_FACTS_QUICK = _declare(
    "llm-facts-quick",
    "Forget fictitious people from a tiny Llama: 8 methods vs the exact retrain oracle.",
    180.0,
)
LLM_FACTS_FULL = _declare(
    "llm-facts-full",
    "Nightly: larger world and model, every method, three seeds, vs the retrain oracle.",
    None,
)
