"""The ``llm-dusk`` benchmark: forget one document set, keep what the others also say.

DUSK (Jeung, Yoon, Hong, Kim, Han, Yu, No, "DUSK: Do Not Unlearn Shared Knowledge",
arXiv:2505.15209) describes the same people in several document sets, one style each;
some facts are stated by every set (shared), others by one set only (unique). One set
is forgotten. The ideal unlearned model loses that set's phrasing and unique facts and
keeps the shared facts, which the retained sets still support. The recipe, per seed:

1. the document sets (``worlds/dusk.py``) over the facts world's people; a tokenizer;
2. **original**: a tiny Llama trained on every set (passages and QA rows) and the
   world's general facts, until it recalls the QA answers;
3. **oracle**: the same recipe without the forgotten set (its passages and the QA rows
   of its unique facts): the exact retrain reference;
4. every method unlearns the forgotten set from a copy of the original: its passages
   and unique-fact QA rows are the forget data, the retained sets and the general facts
   the retain data.

Every model gets DUSK's seven metrics (``metrics/dusk.py``): ``verbatim_memorization``,
``unique_forget_knowledge``, ``shared_knowledge``, ``unique_retain_knowledge``,
``downstream_capability``, ``privacy_leakage`` and ``retain_deviation`` (the last two
against the oracle's membership AUCs, so 0 for the oracle). Under the relearning attack
(``relearn_steps`` fine-tuning steps on the unique forget facts of half the forget
set's people), ``relearned_unique_forget_knowledge`` is the other half's UFK.

Per method, against the original and the oracle: the share of the gap closed,
$s_m = (v_{original} - v_m) / (v_{original} - v_{oracle})$, for verbatim memorisation
(``verbatim_removal``) and for unique forget knowledge (``unique_erasure``), and
``shared_kept`` $= SK_m / SK_{oracle}$. The paper's claim (most methods remove the
surface text but fail to erase the unique knowledge without damaging shared content)
is checked on these.

Importing this module does not import torch; ``run_dusk`` does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import (
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    Direction,
    MetricValue,
    ParsedSpec,
    Progress,
    Series,
    Size,
    StrictModel,
    Table,
)

from unlearn_llm.benchmarks._common import facts_benchmark, facts_spec, metric, phase_timer
from unlearn_llm.benchmarks.facts import method_label
from unlearn_llm.benchmarks.restor import _method_params, restoration_share
from unlearn_llm.methods import METHODS
from unlearn_llm.models import TinyLlamaParams
from unlearn_llm.worlds.dusk import DuskParams
from unlearn_llm.worlds.facts import FactsWorldParams

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.worlds.dusk import DuskWorld
    from unlearn_llm.worlds.facts import QA

Phrasing = Literal["heldout", "trained"]
REFERENCE_ROWS = ("original", "oracle")
MODEL_METRICS: dict[str, Direction] = {
    "verbatim_memorization": "lower",
    "unique_forget_knowledge": "lower",
    "shared_knowledge": "higher",
    "unique_retain_knowledge": "higher",
    "downstream_capability": "higher",
    "privacy_leakage": "target",  # the oracle's is 0 by definition
    "retain_deviation": "lower",
    "relearned_unique_forget_knowledge": "lower",
}
DUSK_METRIC_NAMES = frozenset(MODEL_METRICS) | {
    "verbatim_removal",
    "unique_erasure",
    "shared_kept",
    "unique_retain_kept",
    "selective_unlearning",
}


class DuskRunParams(StrictModel):
    """Document sets, evaluation knobs, the relearning attack and the verdict thresholds."""

    dusk: DuskParams = Field(default_factory=DuskParams)
    question: Phrasing = Field(
        default="trained",
        description=(
            "QA probes ask with the first trained question phrasing, or the held-out one "
            "(never trained on, as DUSK's QA is; the tiny model answers it unreliably)."
        ),
    )
    eval_facts: int = Field(
        default=64,
        ge=4,
        le=100_000,
        description="Shared and unique-retain facts scored each (a seeded sample).",
    )
    prefix_tokens: int = Field(default=8, ge=1, le=64, description="VerbMem prompt tokens.")
    max_new_tokens: int = Field(default=48, ge=1, le=256, description="VerbMem tokens decoded.")
    relearn_steps: int = Field(
        default=10, ge=0, le=10_000, description="Relearning attack steps (0: no attack)."
    )
    relearn_learning_rate: float = Field(default=5e-4, gt=0.0, le=1.0)
    removal_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Share of the original-to-oracle gap closed that counts as removed.",
    )
    shared_floor: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="Shared knowledge kept when at least this share of the oracle's.",
    )


DuskSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, DuskRunParams]


def dusk_world_params(size: Size) -> FactsWorldParams:
    """The people of the quick and full worlds (a fifth of them held out)."""
    if size == "quick":
        return FactsWorldParams(people=30, organisations=6, places=6, holdout_fraction=0.2)
    return FactsWorldParams(people=100, organisations=10, places=10, holdout_fraction=0.2)


def _spec(size: Size) -> BenchmarkSpec:
    # llm-restor's quick settings of every method (a later method runs with its defaults)
    known = _method_params()
    names = list(known) if size == "quick" else [*known, *(n for n in METHODS if n not in known)]
    run = DuskRunParams() if size == "quick" else DuskRunParams(dusk=DuskParams(sets=5))
    return facts_spec("llm-dusk", size, names, known, run, world=dusk_world_params(size))


def _question(qa: QA, phrasing: Phrasing) -> str:
    return qa.heldout_question if phrasing == "heldout" else qa.questions[0]


def knowledge(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    phrasing: Phrasing,
) -> float:
    """Mean ROUGE-L recall of each fact's value in the greedy answer to its question."""
    import numpy as np

    from unlearn_llm.data import prompt_text
    from unlearn_llm.metrics.dusk import knowledge_recall
    from unlearn_llm.metrics.generation import greedy_answers

    prompts = [prompt_text(_question(qa, phrasing)) for qa in facts]
    answers = greedy_answers(model, tokenizer, prompts, max_new_tokens=16)
    return float(np.mean(knowledge_recall(answers, [qa.object for qa in facts])))


def _min_k_plus_plus(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]
) -> Any:
    from unlearn_llm.attacks.membership import MinKParams, min_k_plus_plus_attack, token_statistics
    from unlearn_llm.metrics.dusk import MIN_K_PLUS_PLUS_K

    stats = token_statistics(model, tokenizer, texts)
    return min_k_plus_plus_attack(stats, texts, MinKParams(k=MIN_K_PLUS_PLUS_K))


def score_dusk(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    world: DuskWorld,
    shared: Sequence[QA],
    unique_retain: Sequence[QA],
    run: DuskRunParams,
) -> tuple[dict[str, float], dict[str, float]]:
    """The model's five direct DUSK metrics, and its two membership AUCs
    (``forget_holdout``: forget documents against holdout documents in the forget style,
    MUSE's orientation; ``holdout_retain``: retained documents, the positive class,
    against the holdout documents of the retained styles)."""
    import numpy as np

    from unlearn_llm.attacks.membership import mia_auc, muse_auc
    from unlearn_llm.benchmarks.restor import answer_accuracy
    from unlearn_llm.metrics.muse import verbatim_memorisation

    forget_texts = [p.text for p in world.forget_documents]
    verbatim = verbatim_memorisation(
        model,
        tokenizer,
        forget_texts,
        prefix_tokens=run.prefix_tokens,
        max_new_tokens=run.max_new_tokens,
    )
    scores = {
        "verbatim_memorization": float(np.mean(verbatim)),
        "unique_forget_knowledge": knowledge(model, tokenizer, world.unique_forget, run.question),
        "shared_knowledge": knowledge(model, tokenizer, shared, run.question),
        "unique_retain_knowledge": knowledge(model, tokenizer, unique_retain, run.question),
        "downstream_capability": answer_accuracy(model, tokenizer, world.general),
    }
    holdout_forget = [p.text for p in world.holdout_documents[world.forget_set]]
    holdout_retain = [p.text for k in world.retained_sets for p in world.holdout_documents[k]]
    retain_texts = [p.text for p in world.retain_documents]
    aucs = {
        "forget_holdout": muse_auc(
            _min_k_plus_plus(model, tokenizer, forget_texts),
            _min_k_plus_plus(model, tokenizer, holdout_forget),
        ),
        "holdout_retain": mia_auc(
            _min_k_plus_plus(model, tokenizer, retain_texts),
            _min_k_plus_plus(model, tokenizer, holdout_retain),
        ),
    }
    return scores, aucs


def relearned_knowledge(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    world: DuskWorld,
    run: DuskRunParams,
    seed: int,
) -> float:
    """UFK of half the forget set's people after ``relearn_steps`` fine-tuning steps on
    the other half's unique forget facts (values are drawn independently, so only
    knowledge that was hidden, not removed, comes back on the measured half)."""
    import random

    from unlearn_llm.attacks.relearning import RelearningParams, fine_tune

    facts = list(world.unique_forget)
    random.Random(f"dusk-relearn-{seed}").shuffle(facts)
    half = len(facts) // 2
    trained, measured = facts[:half], facts[half:]
    params = RelearningParams(steps=run.relearn_steps, learning_rate=run.relearn_learning_rate)
    tuned = fine_tune(model, tokenizer, trained, params, run.relearn_steps, seed)
    return knowledge(tuned, tokenizer, measured, run.question)


def evaluate_dusk(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    world: DuskWorld,
    shared: Sequence[QA],
    unique_retain: Sequence[QA],
    run: DuskRunParams,
    seed: int,
) -> tuple[dict[str, float], dict[str, float]]:
    """``score_dusk``, and the UFK after the relearning attack when ``relearn_steps``."""
    scores, aucs = score_dusk(model, tokenizer, world, shared, unique_retain, run)
    if run.relearn_steps:
        scores["relearned_unique_forget_knowledge"] = relearned_knowledge(
            model, tokenizer, world, run, seed
        )
    return scores, aucs


def _check(parsed: DuskSpec) -> None:
    holdout = round(parsed.world.people * parsed.world.holdout_fraction)
    if parsed.params.relearn_steps and parsed.world.people - holdout < 4:
        raise ValueError(
            f"world.params.people={parsed.world.people} leaves fewer than 4 trained people; "
            "the relearning attack needs some to train on and some to measure"
        )


def run_dusk(parsed: DuskSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Original and oracle models, then every method on the forgotten document set."""
    import copy
    import random

    import torch

    from unlearn_llm.data import encode_facts, qa_rows
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.metrics.dusk import retain_deviation
    from unlearn_llm.metrics.muse import privleak
    from unlearn_llm.models import build_model, train_to_memorise
    from unlearn_llm.worlds.dusk import build_dusk_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run, methods = parsed.params, parsed.methods
    progress.start(len(parsed.seeds) * (2 + len(methods)), "models scored")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings, timed = phase_timer()
    rows: dict[str, list[dict[str, float]]] = {}

    for seed in parsed.seeds:
        torch.set_num_threads(parsed.model.threads)
        start = time.perf_counter()
        world = build_dusk_world(parsed.world, run.dusk, seed)
        tokenizer = train_tokenizer(world.corpus_world(), vocab_size=parsed.model.vocab_size)
        sampler = random.Random(seed)
        shared = sampler.sample(world.shared, k=min(run.eval_facts, len(world.shared)))
        pool = world.unique_retain
        unique_retain = sampler.sample(pool, k=min(run.eval_facts, len(pool)))
        timed("world", start)

        models: dict[str, Any] = {}
        for label, forgotten in (("original", False), ("oracle", True)):
            start = time.perf_counter()
            facts, passages = world.training_data(forgotten)
            model = build_model(parsed.model, seed)
            log = train_to_memorise(
                model,
                encode_facts(tokenizer, facts, passages),
                parsed.model,
                seed,
                score_rows=qa_rows(facts),
            )
            models[label] = model
            notes.append(
                f"seed {seed}: {label} trained {log.epochs} epochs on {len(facts)} facts and "
                f"{len(passages)} passages (QA exact accuracy {log.accuracy:.2f})."
            )
            timed(f"{label} model", start)

        scores: dict[str, dict[str, float]] = {}
        aucs: dict[str, dict[str, float]] = {}
        for label in REFERENCE_ROWS:
            start = time.perf_counter()
            scores[label], aucs[label] = evaluate_dusk(
                models[label], tokenizer, world, shared, unique_retain, run, seed
            )
            timed("scoring", start)
            progress.advance(1, f"seed {seed}: {label} scored")

        data = make_unlearn_data(
            tokenizer,
            world.unique_forget,
            world.shared + world.unique_retain + world.general,
            world.forget_documents,
            world.retain_documents,
        )
        for method in methods:
            label = method_label(method)
            model = copy.deepcopy(models["original"])
            start = time.perf_counter()
            try:
                method.spec.function(model, data, method.params)
            except ValueError as error:
                # A method whose precondition the overlap breaks (KIF needs forget
                # subjects absent from the retain data; here every forget person is
                # also in the retained sets) is reported, not run.
                notes.append(f"seed {seed}: {label} did not run on the document sets: {error}")
                progress.advance(1, f"seed {seed}: {label} refused the data")
                continue
            timed(f"unlearn:{label}", start)
            start = time.perf_counter()
            scores[label], aucs[label] = evaluate_dusk(
                model, tokenizer, world, shared, unique_retain, run, seed
            )
            timed("scoring", start)
            progress.advance(1, f"seed {seed}: {label} unlearned and scored")

        oracle_auc = aucs["oracle"]
        original_s, oracle_s = scores["original"], scores["oracle"]
        for label, values in scores.items():
            values["privacy_leakage"] = privleak(
                aucs[label]["forget_holdout"], oracle_auc["forget_holdout"]
            )
            values["retain_deviation"] = retain_deviation(
                aucs[label]["holdout_retain"], oracle_auc["holdout_retain"]
            )
            labels = {"seed": str(seed), "method": label}
            for name, value in values.items():
                reference = oracle_s.get(name) if label != "oracle" else None
                unit = "%" if name in ("privacy_leakage", "retain_deviation") else None
                direction = MODEL_METRICS[name]
                metrics.append(metric(name, value, direction, labels, reference, unit))
            if label in REFERENCE_ROWS:
                rows.setdefault(label, []).append(dict(values))
                continue
            derived = _derived(values, original_s, oracle_s)
            for name, value in derived.items():
                metrics.append(metric(name, value, "higher", labels))
            selective = _selective(derived, run)
            metrics.append(metric("selective_unlearning", float(selective), "higher", labels))
            rows.setdefault(label, []).append({**values, **derived})
        notes.append(
            f"seed {seed}: forget set '{world.styles[world.forget_set]}' "
            f"({len(world.forget_documents)} documents, {len(world.unique_forget)} unique "
            f"facts); original VerbMem {original_s['verbatim_memorization']:.2f}, UFK "
            f"{original_s['unique_forget_knowledge']:.2f}, SK {original_s['shared_knowledge']:.2f}"
            f"; oracle {oracle_s['verbatim_memorization']:.2f}, "
            f"{oracle_s['unique_forget_knowledge']:.2f}, {oracle_s['shared_knowledge']:.2f}."
        )

    notes.extend(_verdict(rows, run))
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        notes=notes,
        curves=_curves(rows),
        summary=_summary(rows),
    )


def _derived(
    values: dict[str, float], original: dict[str, float], oracle: dict[str, float]
) -> dict[str, float]:
    """Gap shares against the original and the oracle (left out where the gap is 0)."""
    shares = {
        "verbatim_removal": restoration_share(
            values["verbatim_memorization"],
            original["verbatim_memorization"],
            oracle["verbatim_memorization"],
        ),
        "unique_erasure": restoration_share(
            values["unique_forget_knowledge"],
            original["unique_forget_knowledge"],
            oracle["unique_forget_knowledge"],
        ),
    }
    derived = {name: share for name, share in shares.items() if share is not None}
    for name, column in (
        ("shared_kept", "shared_knowledge"),
        ("unique_retain_kept", "unique_retain_knowledge"),
    ):
        if oracle[column] > 0:
            derived[name] = values[column] / oracle[column]
    return derived


def _selective(derived: dict[str, float], run: DuskRunParams) -> bool:
    """Removes the phrasing and the unique facts while keeping the shared facts."""
    return (
        derived.get("verbatim_removal", 0.0) >= run.removal_threshold
        and derived.get("unique_erasure", 0.0) >= run.removal_threshold
        and derived.get("shared_kept", 0.0) >= run.shared_floor
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _seed_mean(entries: list[dict[str, float]], column: str) -> float | None:
    values = [entry[column] for entry in entries if column in entry]
    return _mean(values) if values else None


def _verdict(rows: dict[str, list[dict[str, float]]], run: DuskRunParams) -> list[str]:
    """The paper's claim, on the seed means of every method: most methods remove the
    forget set's phrasing (verbatim removal at least ``removal_threshold``), and most of
    those are not selective (unique facts erased too, shared facts kept)."""
    methods = {k: v for k, v in rows.items() if k not in REFERENCE_ROWS}
    if not methods:
        return []
    groups: dict[str, list[str]] = {
        "selective": [],
        "phrasing only": [],
        "knowledge only": [],
        "damaging": [],
        "neither": [],
    }
    removes_text_count = 0
    relearned: list[str] = []
    oracle_relearned = _seed_mean(rows.get("oracle", []), "relearned_unique_forget_knowledge")
    for label, entries in methods.items():
        v = _seed_mean(entries, "verbatim_removal") or 0.0
        u = _seed_mean(entries, "unique_erasure") or 0.0
        s = _seed_mean(entries, "shared_kept") or 0.0
        r = _seed_mean(entries, "unique_retain_kept") or 0.0
        text = (
            f"{label} (verbatim removal {v:.2f}, unique erasure {u:.2f}, shared kept "
            f"{s:.2f}, unique retain kept {r:.2f})"
        )
        removes_text = v >= run.removal_threshold
        erases = u >= run.removal_threshold
        removes_text_count += removes_text
        if s < run.shared_floor and (removes_text or erases):
            group = "damaging"
        elif removes_text and erases:
            group = "selective"
        elif removes_text:
            group = "phrasing only"
        elif erases:
            group = "knowledge only"
        else:
            group = "neither"
        groups[group].append(text)
        after = _seed_mean(entries, "relearned_unique_forget_knowledge")
        if group == "selective" and after is not None and oracle_relearned is not None:
            relearned.append(f"{label} {after:.2f}")
    selective = len(groups["selective"])
    reproduced = removes_text_count > len(methods) / 2 and selective < removes_text_count / 2
    notes = [
        f"DUSK claim (most methods remove the surface text but fail to erase the unique "
        f"knowledge without damaging shared content): "
        f"{'reproduced' if reproduced else 'not reproduced'} here: {removes_text_count} of "
        f"{len(methods)} methods remove the forget set's phrasing, {selective} of them "
        f"selectively. "
        + "; ".join(f"{name}: {', '.join(texts) or 'none'}" for name, texts in groups.items())
        + f" (thresholds: gap share >= {run.removal_threshold}, shared kept >= "
        f"{run.shared_floor} of the oracle's)."
    ]
    if relearned:
        notes.append(
            f"Relearning attack on the selective methods: UFK of the measured half after "
            f"{run.relearn_steps} steps on the other half: {', '.join(relearned)} (oracle "
            f"{oracle_relearned:.2f}); well above the oracle means hidden, not erased."
        )
    return notes


def _curves(rows: dict[str, list[dict[str, float]]]) -> list[Curve]:
    def series(x: str, y: str) -> list[Series]:
        out = []
        for label, entries in rows.items():
            xs = [e[x] for e in entries if x in e and y in e]
            ys = [e[y] for e in entries if x in e and y in e]
            out.append(Series(label=label, x=xs, y=ys))
        return out

    return [
        Curve(
            name="dusk-unique-vs-shared",
            title="Unique forget knowledge left against shared knowledge kept",
            x_label="unique forget knowledge (UFK, ROUGE-L recall; oracle: never read)",
            y_label="shared knowledge (SK, ROUGE-L recall)",
            series=series("unique_forget_knowledge", "shared_knowledge"),
        ),
        Curve(
            name="dusk-verbatim-vs-unique",
            title="Forget-set phrasing left against its unique knowledge left",
            x_label="verbatim memorization (VerbMem, ROUGE-L F1 on forget documents)",
            y_label="unique forget knowledge (UFK)",
            series=series("verbatim_memorization", "unique_forget_knowledge"),
        ),
    ]


def _summary(rows: dict[str, list[dict[str, float]]]) -> Table:
    columns = [
        ("VerbMem", "verbatim_memorization"),
        ("UFK", "unique_forget_knowledge"),
        ("SK", "shared_knowledge"),
        ("URK", "unique_retain_knowledge"),
        ("DC", "downstream_capability"),
        ("PrivLeak", "privacy_leakage"),
        ("RD", "retain_deviation"),
        ("UFK relearned", "relearned_unique_forget_knowledge"),
    ]
    table_rows = []
    for label, entries in rows.items():
        cells = [label]
        for header, column in columns:
            value = _seed_mean(entries, column)
            width = 1 if header in ("PrivLeak", "RD") else 2
            cells.append("-" if value is None else f"{value:.{width}f}")
        table_rows.append(cells)
    return Table(
        title="DUSK: the seven metrics per model (seed means; PrivLeak and RD in %)",
        header=["model", *(header for header, _ in columns)],
        rows=table_rows,
    )


LLM_DUSK = facts_benchmark(
    name="llm-dusk",
    summary="Forget one of several overlapping document sets: its phrasing and unique facts go,"
    " the shared facts stay.",
    default_spec=_spec,
    run=run_dusk,
    params_type=DuskRunParams,
    metric_names=DUSK_METRIC_NAMES,
    check=_check,
)
