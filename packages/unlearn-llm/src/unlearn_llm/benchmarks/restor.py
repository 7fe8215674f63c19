"""The ``llm-restor`` benchmark: does unlearning corrupting documents restore the truth?

RESTOR (Rezaei, Chandu, Feizi, Choi, Brahman, Ravichander, "RESTOR: Knowledge Recovery
in Machine Unlearning", arXiv:2411.00204) evaluates unlearning as **restoration**: a
clean model knows some facts; training it further on documents stating wrong facts
about some entities corrupts it; unlearning those documents should forget the wrong
facts and bring back the clean model's correct answers. The recipe, per seed:

1. **clean**: the facts world's original model (every fact; the llm-facts cache);
2. **corrupted**: the clean model trained ``corruption_steps`` more steps on minibatches
   mixing the corrupting documents (``worlds/corruption.py``: the wrong facts as QA
   rows and/or biography passages) with normal data (every other entity's facts);
3. **oracle**: the clean model trained the same steps on the normal data alone (the
   model that never read the corrupting documents);
4. every method unlearns the corrupting documents from a copy of the corrupted model,
   the normal data as its retain set.

Per model, on the corrupted facts (the first trained question phrasing, greedy
decoding under teacher forcing): ``correct_answer_accuracy`` $a$ (the clean model's
answer), ``wrong_answer_rate`` $w$ (the corrupting documents' answer), and the same
two read as a choice over the relation's value set (``correct_choice_accuracy``,
``wrong_choice_rate``: which value gets the most probable answer sentence); on other
entities, ``other_entities_accuracy``. Per method $m$:

$$
\\mathrm{recovery}_m = \\frac{a_m - a_{corrupted}}{a_{clean} - a_{corrupted}}, \\qquad
\\mathrm{forgetting}_m = \\frac{w_{corrupted} - w_m}{w_{corrupted} - w_{clean}}
$$

(1: back to the clean model; 0: still the corrupted one; ``recovery_vs_oracle`` puts
the oracle's accuracy in place of the clean model's). A method **forgets without
recovering** when its forgetting is at least ``forget_threshold`` and its recovery
below ``recover_threshold``: the failure the paper reports for GA and KL.

Importing this module does not import torch; ``run_restor`` does.
"""

# Over 600 lines on purpose: one recipe read top to bottom; corruption world and localisation
# option live here; a split into _common.py is to do.
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

from unlearn_llm.benchmarks._common import (
    facts_benchmark,
    facts_spec,
    metric,
    phase_timer,
    step_budget_params,
)
from unlearn_llm.benchmarks.facts import method_label
from unlearn_llm.methods import METHODS
from unlearn_llm.models import TinyLlamaParams
from unlearn_llm.worlds.corruption import CorruptionParams
from unlearn_llm.worlds.facts import FactsWorldParams

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.data import Batch
    from unlearn_llm.worlds.corruption import CorruptionWorld
    from unlearn_llm.worlds.facts import QA

Documents = Literal["qa", "both"]
REFERENCE_ROWS = ("clean", "corrupted", "oracle")


class RestorParams(StrictModel):
    """Corruption, its training, and the verdict thresholds of the RESTOR benchmark."""

    corruption: CorruptionParams = Field(default_factory=CorruptionParams)
    documents: Documents = Field(
        default="both",
        description="The corrupting documents: the wrong QA rows, or those and wrong passages.",
    )
    corruption_steps: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Steps the corrupted model (and the oracle) train.",
    )
    corruption_learning_rate: float = Field(default=5e-4, gt=0.0, le=1.0)
    corruption_batch_size: int = Field(default=32, ge=2, le=4096)
    corrupt_share: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="Share of each corruption minibatch drawn from the corrupting documents.",
    )
    other_eval_facts: int = Field(
        default=64, ge=4, le=100_000, description="Other entities' facts scored for utility."
    )
    forget_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    recover_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    utility_floor: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description=(
            "A method keeps utility when its other-entities accuracy is at least this "
            "share of the oracle's; one that does not is 'collapsed', not a verdict."
        ),
    )
    localise: bool = Field(
        default=False,
        description=(
            "Unlearn only the wrong values' tokens of the corrupting documents (the "
            "paper's localised unlearning target) instead of the whole documents."
        ),
    )
    use_cache: bool = Field(default=True, description="Reuse the cached clean model.")


RestorSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, RestorParams]

MODEL_METRICS = frozenset(
    {
        "correct_answer_accuracy",
        "wrong_answer_rate",
        "correct_choice_accuracy",
        "wrong_choice_rate",
        "other_entities_accuracy",
    }
)
RESTOR_METRIC_NAMES = MODEL_METRICS | {
    "recovery",
    "recovery_vs_oracle",
    "corruption_forgetting",
    "choice_recovery",
    "choice_forgetting",
    "forgets_without_recovering",
    "best_recovery",
}


def _method_params() -> dict[str, dict[str, Any]]:
    """The quick settings of every method known when this benchmark was written (as in
    llm-facts-full); a method registered later runs with its defaults."""
    # eval_every sets the trajectory's points (forgetting and recovery during unlearning)
    return step_budget_params(24, eval_every=6)


def _spec(size: Size) -> BenchmarkSpec:
    known = _method_params()
    names = list(known) if size == "quick" else [*known, *(n for n in METHODS if n not in known)]
    run = (
        RestorParams()
        if size == "quick"
        else RestorParams(corruption=CorruptionParams(entities=20), other_eval_facts=128)
    )
    return facts_spec("llm-restor", size, names, known, run)


def _check(parsed: RestorSpec) -> None:
    retain_people = round(
        parsed.world.people * (1 - parsed.world.forget_fraction - parsed.world.holdout_fraction)
    )
    wanted = parsed.params.corruption.entities
    if wanted >= retain_people:
        raise ValueError(
            f"params.corruption.entities={wanted} but the world retains about {retain_people} "
            f"people; corrupt fewer than that (raise world.params.people or lower entities)"
        )


def restoration_share(value: float, corrupted: float, reference: float) -> float | None:
    """$(v - v_{corrupted}) / (v_{reference} - v_{corrupted})$: 1 back at the reference, 0
    still corrupted; None when the corruption moved it by less than 1e-6 (nothing to
    restore). Used for recovery (accuracy on the true facts) and, with the wrong-answer
    rate, for forgetting."""
    gap = reference - corrupted
    if abs(gap) <= 1e-6:
        return None
    return (value - corrupted) / gap


def continue_training(
    model: torch.nn.Module,
    corrupting: Batch | None,
    normal: Batch,
    steps: int,
    learning_rate: float,
    batch_size: int,
    corrupt_share: float,
    seed: int,
) -> None:
    """Train ``model`` in place ``steps`` AdamW steps on the answer NLL of minibatches of
    ``batch_size`` rows, ``corrupt_share`` of them from ``corrupting`` (all from
    ``normal`` when it is None: the oracle's steps, the same count and size)."""
    import torch

    from unlearn_llm.data import answer_nll

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    n_corrupt = 0 if corrupting is None else max(1, round(batch_size * corrupt_share))
    model.train()
    for _ in range(steps):
        parts = [normal.subset(_draw(len(normal), batch_size - n_corrupt, generator))]
        if corrupting is not None:
            parts.append(corrupting.subset(_draw(len(corrupting), n_corrupt, generator)))
        loss = answer_nll(model, _concat(parts).trimmed())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()


def localise_to_values(
    tokenizer: PreTrainedTokenizerBase,
    batch: Batch,
    answers: Sequence[str],
    values: Sequence[Sequence[str]],
) -> Batch:
    """``batch`` with the loss kept only on the tokens that spell ``values[i]`` in row
    ``i``'s answer ``answers[i]`` (the rows as ``data.encode`` made them: the answer is
    tokenised as ``" " + answer``, then the end token, which is masked too).

    A token is kept when its characters overlap a value's first occurrence.
    """
    from unlearn_llm.data import IGNORE_INDEX, Batch

    if len(answers) != len(batch) or len(values) != len(batch):
        raise ValueError(
            f"got {len(answers)} answers and {len(values)} value lists for {len(batch)} rows"
        )
    labels = batch.labels.clone()
    for row, (answer, row_values) in enumerate(zip(answers, values, strict=True)):
        text = " " + answer
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        spans = [(text.find(v), text.find(v) + len(v)) for v in row_values if v in text]
        if not spans:
            raise ValueError(f"row {row}: none of the values {list(row_values)} is in {answer!r}")
        start = int((labels[row] != IGNORE_INDEX).nonzero()[0])
        for index, (first, last) in enumerate(encoded["offset_mapping"]):
            if not any(first < end and last > begin for begin, end in spans):
                labels[row, start + index] = IGNORE_INDEX
        labels[row, start + len(encoded["input_ids"])] = IGNORE_INDEX  # the end token
    return Batch(batch.input_ids, batch.attention_mask, labels)


def _draw(rows: int, count: int, generator: torch.Generator) -> torch.Tensor:
    import torch

    return torch.randint(0, rows, (count,), generator=generator)


def _concat(parts: Sequence[Batch]) -> Batch:
    """Rows of several batches in one (right-padded to the widest)."""
    import torch
    import torch.nn.functional as F

    from unlearn_llm.data import IGNORE_INDEX, Batch

    width = max(int(p.input_ids.shape[1]) for p in parts)

    def pad(tensor: torch.Tensor, value: int) -> torch.Tensor:
        return F.pad(tensor, (0, width - int(tensor.shape[1])), value=value)

    return Batch(
        torch.cat([pad(p.input_ids, 0) for p in parts]),
        torch.cat([pad(p.attention_mask, 0) for p in parts]),
        torch.cat([pad(p.labels, IGNORE_INDEX) for p in parts]),
    )


def value_choice(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    values: Sequence[Sequence[str]],
) -> list[str]:
    """For each fact, the value of ``values[i]`` whose answer sentence is most probable
    after the fact's first trained question (the whole sentence's log-probability)."""
    import torch

    from unlearn_llm.data import encode, prompt_text, sequence_logprob
    from unlearn_llm.worlds.facts import _TEMPLATES

    prompts: list[str] = []
    answers: list[str] = []
    for qa, pool in zip(facts, values, strict=True):
        template = _TEMPLATES[qa.relation][1]
        prompts += [prompt_text(qa.questions[0])] * len(pool)
        answers += [template.format(s=qa.subject, o=value) for value in pool]
    batch = encode(tokenizer, prompts, answers)
    scores: list[torch.Tensor] = []
    with torch.no_grad():
        for start in range(0, len(batch), 256):
            logp, _ = sequence_logprob(model, batch.subset(slice(start, start + 256)).trimmed())
            scores.append(logp)
    flat = torch.cat(scores).tolist()
    chosen: list[str] = []
    offset = 0
    for pool in values:
        part = flat[offset : offset + len(pool)]
        chosen.append(pool[max(range(len(pool)), key=part.__getitem__)])
        offset += len(pool)
    return chosen


def answer_accuracy(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA]
) -> float:
    """Share of ``facts`` whose answer sentence greedy decoding reproduces exactly after
    the first trained question phrasing (``models.exact_answer_accuracy``)."""
    from unlearn_llm.data import encode, prompt_text
    from unlearn_llm.models import exact_answer_accuracy

    batch = encode(
        tokenizer, [prompt_text(qa.questions[0]) for qa in facts], [qa.answer for qa in facts]
    )
    return exact_answer_accuracy(model, batch)


def score_restoration(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    corruption: CorruptionWorld,
    other: Sequence[QA],
) -> dict[str, float]:
    """The five per-model numbers of the module docstring."""
    from unlearn_llm.worlds.corruption import relation_values

    truth, wrong = corruption.true_facts, corruption.wrong_facts
    pools = [relation_values(corruption.world, qa.relation) for qa in truth]
    chosen = value_choice(model, tokenizer, truth, pools)
    n = len(truth)
    return {
        "correct_answer_accuracy": answer_accuracy(model, tokenizer, truth),
        "wrong_answer_rate": answer_accuracy(model, tokenizer, wrong),
        "correct_choice_accuracy": sum(c == t.object for c, t in zip(chosen, truth, strict=True))
        / n,
        "wrong_choice_rate": sum(c == w.object for c, w in zip(chosen, wrong, strict=True)) / n,
        "other_entities_accuracy": answer_accuracy(model, tokenizer, other),
    }


def run_restor(parsed: RestorSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Clean, corrupted and oracle models, then every method on the corrupting documents."""
    import copy
    import random

    import torch

    from unlearn_llm.data import encode_facts, training_pairs
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.models import trained_model
    from unlearn_llm.worlds.corruption import corrupt_world
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run, methods = parsed.params, parsed.methods
    progress.start(len(parsed.seeds) * (3 + len(methods)), "models scored")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings, timed = phase_timer()
    points: dict[str, tuple[list[float], list[float]]] = {}
    paths: dict[tuple[int, str], list[tuple[int, dict[str, float]]]] = {}
    kept: dict[str, list[bool]] = {}
    # per method and seed: (best recovery along the trajectory, choice recovery)
    extra: dict[str, list[tuple[float, float | None]]] = {}
    rows: dict[str, list[dict[str, float]]] = {}
    first_clean: dict[str, float] = {}

    for seed in parsed.seeds:
        torch.set_num_threads(parsed.model.threads)
        start = time.perf_counter()
        world = build_world(parsed.world, seed)
        tokenizer = train_tokenizer(world, vocab_size=parsed.model.vocab_size)
        corruption = corrupt_world(world, run.corruption, seed)
        other_pool = [qa for qa in corruption.normal_facts if qa.relation != "sum"]
        other = random.Random(seed).sample(other_pool, k=min(run.other_eval_facts, len(other_pool)))
        wrong_qa = corruption.wrong_facts
        wrong_passages = corruption.wrong_passages if run.documents == "both" else []
        corrupting = encode_facts(tokenizer, wrong_qa, wrong_passages)
        normal = encode_facts(tokenizer, corruption.normal_facts, corruption.normal_passages)
        timed("world", start)

        start = time.perf_counter()
        clean = trained_model(world, "original", seed, parsed.model, tokenizer, run.use_cache)
        timed("clean model", start)
        models: dict[str, Any] = {"clean": clean.model}
        for label, documents in (("corrupted", corrupting), ("oracle", None)):
            start = time.perf_counter()
            model = copy.deepcopy(clean.model)
            continue_training(
                model,
                documents,
                normal,
                run.corruption_steps,
                run.corruption_learning_rate,
                run.corruption_batch_size,
                run.corrupt_share,
                seed,
            )
            models[label] = model
            timed(f"{label} model", start)

        base = {"seed": str(seed)}
        scores: dict[str, dict[str, float]] = {}
        for label in REFERENCE_ROWS:
            start = time.perf_counter()
            scores[label] = score_restoration(models[label], tokenizer, corruption, other)
            timed("scoring", start)
            progress.advance(1, f"seed {seed}: {label} scored")

        # The forget set is the corrupting documents, exactly as trained on (with
        # ``localise``: only their wrong values' tokens).
        data = make_unlearn_data(
            tokenizer,
            wrong_qa,
            corruption.normal_facts,
            wrong_passages,
            corruption.normal_passages,
        )
        if run.localise:
            _, answers = training_pairs(wrong_qa)
            targets = [[qa.object] for qa in wrong_qa for _ in qa.questions]
            wrong_of: dict[str, list[str]] = {}
            for f in corruption.corrupted:
                wrong_of.setdefault(f.wrong.subject, []).append(f.wrong.object)
            answers += [p.text for p in wrong_passages]
            targets += [wrong_of[p.subject] for p in wrong_passages]
            data.forget = localise_to_values(tokenizer, data.forget, answers, targets)
        for method in methods:
            label = method_label(method)
            model = copy.deepcopy(models["corrupted"])
            path: list[tuple[int, dict[str, float]]] = [(0, scores["corrupted"])]

            def on_step(
                step: int,
                current: Any,
                path: list[Any] = path,
                world: CorruptionWorld = corruption,
                tokenizer: Any = tokenizer,
                other: list[QA] = other,
            ) -> None:
                began = time.perf_counter()
                path.append((step, score_restoration(current, tokenizer, world, other)))
                timed("scoring", began)

            start, scored = time.perf_counter(), timings.get("scoring", 0.0)
            method.spec.function(model, data, method.params, on_step=on_step)
            timed(f"unlearn:{label}", start)
            # the trajectory's scoring is counted under "scoring", not as unlearning
            timings[f"unlearn:{label}"] -= timings.get("scoring", 0.0) - scored
            paths[(seed, label)] = path
            start = time.perf_counter()
            scores[label] = score_restoration(model, tokenizer, corruption, other)
            timed("scoring", start)
            progress.advance(1, f"seed {seed}: {label} unlearned and scored")

        clean_s, corrupted_s, oracle_s = (scores[k] for k in REFERENCE_ROWS)
        if seed == parsed.seeds[0]:
            first_clean = clean_s
        for label, values in scores.items():
            labels = {**base, "method": label}
            for name, value in values.items():
                reference = oracle_s[name] if label != "oracle" else None
                direction: Direction = "lower" if name.startswith("wrong") else "higher"
                metrics.append(metric(name, value, direction, labels, reference))
            if label in ("clean", "corrupted"):
                continue
            shares = {
                "recovery": restoration_share(
                    values["correct_answer_accuracy"],
                    corrupted_s["correct_answer_accuracy"],
                    clean_s["correct_answer_accuracy"],
                ),
                "recovery_vs_oracle": restoration_share(
                    values["correct_answer_accuracy"],
                    corrupted_s["correct_answer_accuracy"],
                    oracle_s["correct_answer_accuracy"],
                ),
                "corruption_forgetting": restoration_share(
                    values["wrong_answer_rate"],
                    corrupted_s["wrong_answer_rate"],
                    clean_s["wrong_answer_rate"],
                ),
                "choice_recovery": restoration_share(
                    values["correct_choice_accuracy"],
                    corrupted_s["correct_choice_accuracy"],
                    clean_s["correct_choice_accuracy"],
                ),
                "choice_forgetting": restoration_share(
                    values["wrong_choice_rate"],
                    corrupted_s["wrong_choice_rate"],
                    clean_s["wrong_choice_rate"],
                ),
            }
            for name, share in shares.items():
                if share is not None:
                    metrics.append(metric(name, share, "higher", labels))
            recovery, forgetting = shares["recovery"], shares["corruption_forgetting"]
            if recovery is None or forgetting is None:
                notes.append(
                    f"seed {seed}: {label}: the corruption did not move the "
                    f"{'accuracy' if recovery is None else 'wrong-answer rate'}; no verdict."
                )
                continue
            keeps = (
                values["other_entities_accuracy"]
                >= run.utility_floor * (oracle_s["other_entities_accuracy"])
            )
            kept.setdefault(label, []).append(keeps)
            hollow = forgetting >= run.forget_threshold and recovery < run.recover_threshold
            metrics.append(
                metric("forgets_without_recovering", float(hollow and keeps), "lower", labels)
            )
            trajectory = [
                restoration_share(
                    point["correct_answer_accuracy"],
                    corrupted_s["correct_answer_accuracy"],
                    clean_s["correct_answer_accuracy"],
                )
                for _, point in paths.get((seed, label), [])
            ]
            best = max([r for r in trajectory if r is not None] + [recovery])
            metrics.append(metric("best_recovery", best, "higher", labels))
            extra.setdefault(label, []).append((best, shares["choice_recovery"]))
            xs, ys = points.setdefault(label, ([], []))
            xs.append(forgetting)
            ys.append(recovery)
            rows.setdefault(label, []).append(
                {**values, "recovery": recovery, "corruption_forgetting": forgetting}
            )
        for label in ("clean", "corrupted"):
            rows.setdefault(label, []).append(scores[label])
        notes.append(
            f"seed {seed}: corruption of {len(corruption.entities)} people "
            f"({len(corruption.corrupted)} facts): correct-answer accuracy clean "
            f"{clean_s['correct_answer_accuracy']:.2f} -> corrupted "
            f"{corrupted_s['correct_answer_accuracy']:.2f} (oracle "
            f"{oracle_s['correct_answer_accuracy']:.2f}); wrong-answer rate clean "
            f"{clean_s['wrong_answer_rate']:.2f} -> corrupted "
            f"{corrupted_s['wrong_answer_rate']:.2f}."
        )

    notes.extend(_verdict(points, kept, extra, run))
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        notes=notes,
        curves=_curves(points, _trajectories(paths, parsed.seeds[0], first_clean)),
        summary=_summary(rows),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _verdict(
    points: dict[str, tuple[list[float], list[float]]],
    kept: dict[str, list[bool]],
    extra: dict[str, list[tuple[float, float | None]]],
    run: RestorParams,
) -> list[str]:
    """The paper's claim (some methods forget the wrong facts without recovering the
    correct ones), checked on the seed means of every method that kept its utility."""
    methods = {k: v for k, v in points.items() if k != "oracle"}
    if not methods:
        return ["no method got a verdict: the corruption moved neither accuracy nor wrong answers"]
    hollow, restored, neither, collapsed = [], [], [], []
    for label, (forgetting, recovery) in methods.items():
        f, r = _mean(forgetting), _mean(recovery)
        best = _mean([b for b, _ in extra.get(label, [])] or [r])
        choice = [c for _, c in extra.get(label, []) if c is not None]
        text = f"{label} (forgetting {f:.2f}, recovery {r:.2f}, best along the way {best:.2f}"
        text += f", choice recovery {_mean(choice):.2f})" if choice else ")"
        if not all(kept.get(label, [True])):
            collapsed.append(text)
        elif f >= run.forget_threshold and r < run.recover_threshold:
            hollow.append(text)
        elif f >= run.forget_threshold:
            restored.append(text)
        else:
            neither.append(text)
    verdict = "reproduced" if hollow else "not reproduced"
    return [
        f"RESTOR claim (methods that forget the wrong facts often do not recover the correct "
        f"ones): {verdict} here: {len(hollow)} of {len(methods)} methods forget without "
        f"recovering while keeping utility: {', '.join(hollow) or 'none'}; forget and "
        f"recover: {', '.join(restored) or 'none'}; do not forget: "
        f"{', '.join(neither) or 'none'}; lose utility (other-entities accuracy under "
        f"{run.utility_floor} of the oracle's in some seed): {', '.join(collapsed) or 'none'} "
        f"(thresholds: forgetting >= {run.forget_threshold}, recovery < {run.recover_threshold})."
    ]


def _trajectories(
    paths: dict[tuple[int, str], list[tuple[int, dict[str, float]]]],
    seed: int,
    clean: dict[str, float],
) -> list[Series]:
    """Per method of ``seed``: choice forgetting (x) and choice recovery (y) at each
    scored unlearning step, from the corrupted model (step 0) on; ``clean`` holds the
    clean model's scores of that seed."""
    series: list[Series] = []
    for (path_seed, label), path in paths.items():
        if path_seed != seed or len(path) < 2:
            continue
        corrupted = path[0][1]
        xs: list[float] = []
        ys: list[float] = []
        for _, point in path:
            f = restoration_share(
                point["wrong_choice_rate"],
                corrupted["wrong_choice_rate"],
                clean["wrong_choice_rate"],
            )
            r = restoration_share(
                point["correct_choice_accuracy"],
                corrupted["correct_choice_accuracy"],
                clean["correct_choice_accuracy"],
            )
            if f is not None and r is not None:
                xs.append(f)
                ys.append(r)
        series.append(Series(label=label, x=xs, y=ys))
    return series


def _curves(
    points: dict[str, tuple[list[float], list[float]]], trajectories: list[Series]
) -> list[Curve]:
    curves: list[Curve] = []
    if trajectories:
        curves.append(
            Curve(
                name="restor-trajectories",
                title="During unlearning: wrong values dropped vs correct values chosen again",
                x_label="choice forgetting (share of the wrong-value preference removed)",
                y_label="choice recovery (share of the correct-value preference back)",
                series=trajectories,
                hlines={"recovery 0.5": 0.5},
                vlines={"forgetting 0.5": 0.5},
            )
        )
    if not points:
        return curves
    return [
        *curves,
        Curve(
            name="restor-forgetting-vs-recovery",
            title="Forgetting of the wrong facts against recovery of the correct ones",
            x_label="corruption forgetting (1: wrong answers gone as in the clean model)",
            y_label="recovery (1: correct answers back as in the clean model)",
            series=[Series(label=label, x=xs, y=ys) for label, (xs, ys) in points.items()],
            hlines={"recovery 0.5": 0.5},
            vlines={"forgetting 0.5": 0.5},
        ),
    ]


def _summary(rows: dict[str, list[dict[str, float]]]) -> Table:
    columns = [
        "correct_answer_accuracy",
        "wrong_answer_rate",
        "correct_choice_accuracy",
        "wrong_choice_rate",
        "other_entities_accuracy",
        "corruption_forgetting",
        "recovery",
    ]
    header = ["model", "correct acc", "wrong rate", "correct choice", "wrong choice"]
    header += ["other acc", "forgetting", "recovery"]
    table_rows = []
    for label, entries in rows.items():
        cells = [label]
        for column in columns:
            values = [entry[column] for entry in entries if column in entry]
            cells.append(f"{_mean(values):.2f}" if values else "-")
        table_rows.append(cells)
    return Table(
        title="RESTOR: accuracy on the corrupted facts before/after unlearning (seed means)",
        header=header,
        rows=table_rows,
    )


LLM_RESTOR = facts_benchmark(
    name="llm-restor",
    summary="Unlearn documents of wrong facts: forgetting them vs recovering the true ones.",
    default_spec=_spec,
    run=run_restor,
    params_type=RestorParams,
    metric_names=RESTOR_METRIC_NAMES,
    check=_check,
)
