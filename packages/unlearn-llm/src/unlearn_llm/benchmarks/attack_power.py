"""The ``llm-attack-power`` benchmark: which recovery attacks catch hiding, in which setting.

An attack that finds nothing on a method proves nothing until it is shown to find
knowledge that is known to be still there. For each training recipe this benchmark
trains (or loads) the original, the exact retrain oracle and an other-seed oracle,
builds the designed suppression-only models of ``attacks/suppressed.py`` (they hide the
forget facts without removing them), unlearns with the spec's methods, and runs every
attack on all of them. The recipes:

* ``one-stage``: the facts benchmarks' models, trained from scratch on every fact;
* ``two-stage`` (TOFU-like): stage 1 trains on the retain and general facts only, stage
  2 fine-tunes that model for a few epochs on every fact, so the forget facts are the
  recently learned ones; its oracle is the same stage 1 with stage 2 on retain and
  general only (``models.trained_model(..., finetune_epochs=...)``).

Each recipe runs at the spec's world and model size and at every size of
``params.larger`` (the full size adds llm-facts-full's 200-person world and its
recipe), so the report says which attacks have power at which size; metrics carry the
labels ``recipe`` and ``size`` (e.g. ``60 people, 2x128``).

Per recipe and attack, ``attack_recovery`` of a model $m$ is where its knowledge under
the attack lies between the oracle's and the original's:
$r_m = (k_m - k_{oracle}) / (k_{original} - k_{oracle})$ (0: like the oracle, 1: like
the original). The attack has power (``attack_power`` 1) when it is informative (the
oracles stay near their clean state, ``_attacks.CaseAttacks.informative``) and brings
at least ``power_threshold`` of the hidden knowledge back from some designed
suppression-only model. A method's recovery under an attack with power is the
known failure "unlearning only hid it" when it is high.

Importing this module does not import torch; ``run_attack_power`` does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    MethodConfig,
    MetricValue,
    ModelSpec,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
    Table,
    WorldSpec,
)

from unlearn_llm.benchmarks._attacks import (
    ATTACK_METRIC_NAMES,
    ORACLE,
    SUPPRESSED_LABELS,
    AttackConfigs,
    SuppressionKind,
    default_attacks,
    parsed_attacks,
)
from unlearn_llm.benchmarks._common import metric
from unlearn_llm.benchmarks.facts import MODEL_NAME, WORLD_NAME, method_label
from unlearn_llm.methods import METHODS
from unlearn_llm.models import TinyLlamaParams, model_params_for
from unlearn_llm.worlds.facts import FactsWorldParams, world_params_for

if TYPE_CHECKING:
    from unlearn_llm.models import Role

Recipe = Literal["one-stage", "two-stage"]
RECIPES: list[Recipe] = ["one-stage", "two-stage"]


class SizeSetting(StrictModel):
    """Another world and model size the attacks are tried at, beside the spec's own."""

    world: FactsWorldParams
    model: TinyLlamaParams


def size_label(world: FactsWorldParams, model: TinyLlamaParams) -> str:
    """``"60 people, 2x128"``: the world's people and the model's layers x width."""
    return f"{world.people} people, {model.layers}x{model.hidden_size}"


class AttackPowerParams(StrictModel):
    """Recipes, attacks and designed suppressions of the attack-power benchmark."""

    recipes: list[Recipe] = Field(
        default_factory=lambda: list(RECIPES),
        min_length=1,
        max_length=2,
        description="Training recipes of the original (and its oracles), each once.",
    )
    finetune_epochs: int = Field(
        default=6, ge=1, le=100, description="Stage-2 epochs at most of the two-stage recipe."
    )
    attacks: AttackConfigs = Field(
        default_factory=list, max_length=32, description="Recovery attacks (default: all)."
    )
    suppressed: list[SuppressionKind] = Field(
        default_factory=lambda: list(SUPPRESSED_LABELS),
        min_length=1,
        max_length=4,
        description="Designed suppression-only models the attacks must see through.",
    )
    larger: list[SizeSetting] = Field(
        default_factory=list,
        max_length=3,
        description="Larger world/model sizes tried too (the spec's own size comes first).",
    )
    power_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Recovery share a designed suppression must give back for power.",
    )
    attack_knowledge_tolerance: float = Field(
        default=0.2, gt=0.0, le=1.0, description="The attack gate's tolerance (as llm-facts)."
    )
    retain_eval_facts: int = Field(default=48, ge=4, le=100_000)
    use_cache: bool = Field(default=True, description="Reuse cached originals and oracles.")


PowerSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, AttackPowerParams]

POWER_METRIC_NAMES = ATTACK_METRIC_NAMES | {
    "forget_quality",
    "attack_recovery",
    "attack_power",
    "original_training_exact_answer_accuracy",
}


def _spec(size: Size) -> BenchmarkSpec:
    light = {"steps": 24, "learning_rate": 5e-4}
    methods = [MethodConfig(name="npo", params=dict(light))]
    if size == "full":
        methods += [
            MethodConfig(name="gradient-difference", params=dict(light)),
            MethodConfig(name="rmu", params={"steps": 24}),
        ]
    # full: the quick size and llm-facts-full's larger world (and recipe) beside it
    larger = (
        []
        if size == "quick"
        else [SizeSetting(world=world_params_for("full"), model=model_params_for("full"))]
    )
    run = AttackPowerParams(attacks=default_attacks(size), larger=larger)
    return BenchmarkSpec(
        benchmark="llm-attack-power",
        size=size,
        seeds=[0],
        world=WorldSpec(name=WORLD_NAME, params=world_params_for("quick").model_dump()),
        model=ModelSpec(name=MODEL_NAME, params=model_params_for("quick").model_dump()),
        methods=methods,
        params=run.model_dump(),
    )


def _check(parsed: PowerSpec) -> None:
    for name in ("recipes", "suppressed"):
        values = getattr(parsed.params, name)
        if len(set(values)) != len(values):
            raise ValueError(f"params.{name}: each value once, got {values}")
    sizes = [size_label(s.world, s.model) for s in _sizes(parsed)]
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"params.larger: each size once (the spec's own too), got {sizes}")


def _sizes(parsed: PowerSpec) -> list[SizeSetting]:
    return [SizeSetting(world=parsed.world, model=parsed.model), *parsed.params.larger]


def recovery_share(knowledge: float, oracle: float, original: float) -> float | None:
    """$(k - k_{oracle}) / (k_{original} - k_{oracle})$; None when the original shows no
    more knowledge than the oracle under the attack (nothing to recover)."""
    gap = original - oracle
    if gap <= 1e-6:
        return None
    return (knowledge - oracle) / gap


def run_attack_power(parsed: PowerSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Every attack on the oracles, the original, the designed hiders and the methods."""
    import copy
    import random

    import torch

    from unlearn_llm.attacks.recovery import AttackTarget
    from unlearn_llm.attacks.relearning import linked_facts
    from unlearn_llm.benchmarks._attacks import (
        OTHER_ORACLE,
        CaseAttacks,
        suppressed_model,
    )
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.metrics.evaluate import score_facts
    from unlearn_llm.models import trained_model, training_steps
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run, methods = parsed.params, parsed.methods
    attacks = parsed_attacks(run.attacks)  # parsed with the spec
    sizes = _sizes(parsed)
    per_recipe = 2 + len(run.suppressed) + len(methods)  # the oracle is attacked unreported
    total = len(parsed.seeds) * len(sizes) * len(run.recipes) * per_recipe
    progress.start(total, "attacked models")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    table: dict[tuple[str, str], str] = {}
    columns: list[str] = []

    def timed(phase: str, start: float) -> None:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start

    for seed, setting in ((seed, setting) for seed in parsed.seeds for setting in sizes):
        model_params, size = setting.model, size_label(setting.world, setting.model)
        torch.set_num_threads(model_params.threads)
        start = time.perf_counter()
        world = build_world(setting.world, seed)
        tokenizer = train_tokenizer(world, vocab_size=model_params.vocab_size)
        forget = world.split("forget")
        retain = list(world.split("retain"))
        retain_eval = random.Random(seed).sample(retain, k=min(run.retain_eval_facts, len(retain)))
        related = linked_facts(retain, forget)
        timed("world", start)
        for recipe in run.recipes:
            base = {"seed": str(seed), "recipe": recipe, "size": size}
            column = f"{recipe}, {size}"
            if column not in columns:
                columns.append(column)
            epochs = run.finetune_epochs if recipe == "two-stage" else None
            start = time.perf_counter()
            roles: list[tuple[Role, int]] = [
                ("original", seed),
                ("oracle", seed),
                ("oracle", seed + 1000),
            ]
            original, oracle, other = (
                trained_model(
                    world, role, s, model_params, tokenizer, run.use_cache, finetune_epochs=epochs
                )
                for role, s in roles
            )
            timed(f"models:{recipe}:{size}", start)
            metrics.append(
                metric(
                    "original_training_exact_answer_accuracy",
                    float(original.log["exact_answer_accuracy"]),
                    "higher",
                    base,
                )
            )
            oracle_ratios = score_facts(oracle.model, tokenizer, forget, generate=False).truth_ratio
            target = AttackTarget(
                model=original.model,
                tokenizer=tokenizer,
                world=world,
                forget=forget,
                retain=retain_eval,
                general=world.split("general"),
                holdout=world.split("holdout"),
                seed=seed,
                original=original.model,
                forget_passages=world.passage_split("forget"),
                retain_passages=world.passage_split("retain"),
                original_training_steps=training_steps(original.log),
            )
            case = CaseAttacks(attacks, target, timings)

            rows: list[tuple[str, Any]] = [
                (OTHER_ORACLE, other.model),
                ("original", original.model),
            ]
            for kind in run.suppressed:
                start = time.perf_counter()
                hider = suppressed_model(
                    kind, original.model, tokenizer, forget, retain_eval, seed, related
                )
                timed("suppress", start)
                rows.append((SUPPRESSED_LABELS[kind], hider))
            data = make_unlearn_data(
                tokenizer,
                forget,
                retain,
                world.passage_split("forget"),
                world.passage_split("retain"),
            )
            for method in methods:
                model = copy.deepcopy(original.model)
                start = time.perf_counter()
                method.spec.function(model, data, method.params)
                timed(f"unlearn:{method_label(method)}", start)
                rows.append((method_label(method), model))
            case.attack(ORACLE, oracle.model, None)
            for label, model in rows:
                p = case.attack_scored(label, model, oracle_ratios)
                metrics.append(metric("forget_quality", p, "higher", {**base, "method": label}))
                progress.advance(1, f"{column}: {label} attacked")

            report = case.report(base, run.attack_knowledge_tolerance)
            metrics.extend(report.metrics)
            notes.extend(f"{column}: {note}" for note in report.notes)
            verdicts = case.informative(run.attack_knowledge_tolerance)
            for parsed_attack in attacks:
                name = parsed_attack.name
                k = {label: out[name].knowledge for label, out in case.outcomes.items()}
                hiders: dict[str, float] = {}
                for label, knowledge in k.items():
                    if label in (ORACLE, "original"):
                        continue
                    share = recovery_share(knowledge, k[ORACLE], k["original"])
                    if share is None:
                        continue
                    labels = {**base, "attack": name, "method": label}
                    metrics.append(metric("attack_recovery", share, "none", labels))
                    if label in SUPPRESSED_LABELS.values():
                        hiders[label] = share
                informative = verdicts[name][0]
                best = max(hiders, key=lambda label: hiders[label]) if hiders else None
                power = informative and best is not None and hiders[best] >= run.power_threshold
                metrics.append(
                    metric("attack_power", float(power), "higher", {**base, "attack": name})
                )
                if best is None:
                    measure = case.outcomes[ORACLE][name].knowledge_name
                    why = (
                        f"the original shows no more {measure} than the oracle under it, "
                        "so there is nothing to recover"
                    )
                else:
                    why = f"recovers {hiders[best]:.2f} of the hidden knowledge from {best}"
                if not informative:
                    why += f"; uninformative: {verdicts[name][1]}"
                verdict = "power" if power else "no power"
                notes.append(
                    f"seed {seed}, {column}: attack {name}: {verdict} ({why}; knowledge "
                    f"original {k['original']:.3g}, oracle {k[ORACLE]:.3g})."
                )
                table[(name, column)] = verdict + (
                    f" ({hiders[best]:.2f}, {best})" if best is not None else ""
                )

    summary = Table(
        title=(
            "Attack power per recipe and size (recovered share of the hidden knowledge, "
            "from which hider)"
        ),
        header=["attack", *columns],
        rows=[[a.name, *[table.get((a.name, column), "-") for column in columns]] for a in attacks],
    )
    return BenchmarkResult(metrics=metrics, timings=timings, notes=notes, summary=summary)


LLM_ATTACK_POWER: Benchmark[FactsWorldParams, TinyLlamaParams, AttackPowerParams] = Benchmark(
    name="llm-attack-power",
    summary="Which recovery attacks catch designed suppression-only models, per training recipe.",
    default_spec=_spec,
    run=run_attack_power,
    params_type=AttackPowerParams,
    worlds={WORLD_NAME: FactsWorldParams},
    models={MODEL_NAME: TinyLlamaParams},
    methods=METHODS,
    metric_names=POWER_METRIC_NAMES,
    request_kinds=frozenset(),
    check=_check,
    kind="quality",
)
