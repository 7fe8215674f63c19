"""The ``llm-gone`` benchmark: unlearning facts of a knowledge graph, effect by effect.

GONE (Dahal, Balasubramaniam, Xiong, "GONE: Structural Knowledge Unlearning via
Neighborhood-Expanded Distribution Shaping", arXiv:2603.12275) unlearns knowledge-graph
facts and separates three effects: **direct fact removal**, **reasoning-based leakage**
(multi-hop questions whose path runs through a removed fact) and **catastrophic
forgetting** of facts by their hop distance from a removed fact. The facts world is the
graph (``worlds.hops``: entities are people, places and organisations; a fact joining
two entities is an edge). The recipe, per seed:

1. the forget request: the link facts (``born_in``, ``works_for``) of the first
   ``forget_people`` people of the world's forget split: edges of the graph;
2. **original**: every fact (the llm-facts original, shared through the cache);
   **oracle**: the exact retrain without the forgotten facts (and the biography
   passages that state them);
3. every method unlearns the forgotten facts' QA rows from a copy of the original, all
   other trained facts as retain (NEDS's anchor neighbours are the retain facts one hop
   from them, ``UnlearnData.neighbours``).

Per model (greedy decoding under teacher forcing, as in the other facts benchmarks):

* ``unlearning_efficacy``: $1 - $ exact-answer accuracy on the forgotten facts' rows as
  the original trained on them (every trained phrasing; 1: none is answered any more);
  ``direct_choice_accuracy``: the share whose true value still gets the most probable
  answer sentence among the relation's values (chance is about one in eight);
* ``leakage_2hop``, ``leakage_3hop``: the share of paths of 2 and 3 facts starting with
  a forgotten fact (``fact_paths``: born in a town, the town's region) whose final value
  the model reaches step by step, each step a choice over the relation's values, the
  next step asked about the entity it chose;
* ``hop_accuracy`` (label ``hop`` 1, 2, 3): exact-answer accuracy on a sample of the
  retain facts at that hop distance (``hop_distances``), and ``forgetting`` there, the
  original's accuracy minus the model's;
* ``locality`` (overall and per ``hop``): the share of the neighbour facts' answer tokens
  whose greedy prediction is the original model's (token agreement, as locality is
  scored in knowledge editing); 1 for the original; ``heldout_locality``: the same on
  those facts asked in their held-out phrasing, which no method trains on;
* under the relearning attacks (``relearning``: fine-tune on one of each forget person's
  two facts, score the other; ``relearning-related``: fine-tune on the facts of their
  towns and employers, the graph neighbours), the held-out forgotten facts' answer
  probability and exact accuracy after the attack.

The GONE paper's exact metric formulas were not available to us (only its abstract):
the names follow the paper, the definitions above are ours. Importing this module does
not import torch; ``run_gone`` does.
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
from unlearn_llm.methods import METHODS
from unlearn_llm.models import TinyLlamaParams
from unlearn_llm.worlds.facts import FactsWorldParams

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.data import Batch
    from unlearn_llm.models import Role
    from unlearn_llm.worlds.facts import QA, FactsWorld

GoneAttack = Literal["relearning", "relearning-related"]
GONE_ATTACKS: tuple[GoneAttack, ...] = ("relearning", "relearning-related")
HOPS = (1, 2, 3)
PATH_LENGTHS = (2, 3)
FORGET_RELATIONS = ("born_in", "works_for")
"""The person relations forgotten: the edges from a person to a town and an employer."""


class GoneParams(StrictModel):
    """The forget request, the evaluation samples and the attacks of ``llm-gone``."""

    forget_people: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="People of the forget split whose born_in and works_for facts are removed.",
    )
    eval_facts_per_hop: int = Field(
        default=48, ge=2, le=100_000, description="Retain facts scored at each hop distance."
    )
    attacks: list[GoneAttack] = Field(
        default_factory=lambda: list(GONE_ATTACKS),
        max_length=2,
        description="Relearning attacks run on every model (empty: none).",
    )
    efficacy_floor: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="A method counts as forgetting for the verdict at this efficacy or more.",
    )
    use_cache: bool = Field(default=True, description="Reuse cached originals and oracles.")


GoneSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, GoneParams]

GONE_METRIC_NAMES = frozenset(
    {
        "unlearning_efficacy",
        "direct_choice_accuracy",
        "leakage_2hop",
        "leakage_3hop",
        "hop_accuracy",
        "forgetting",
        "locality",
        "heldout_locality",
        "relearned_forget_answer_probability",
        "relearned_forget_exact_accuracy",
        "unlearning_wall_time",
        "oracle_retrain_wall_time",
    }
)


def _method_params() -> dict[str, dict[str, Any]]:
    """One budget for every method: 48 steps (llm-restor's learning rates, twice its 24
    steps: at 24 NEDS's bounded forget term stops at the oracle's efficacy, see the
    recipe); a method registered later runs with its defaults."""
    light: dict[str, Any] = {"steps": 48, "learning_rate": 5e-4}
    return {
        "gradient-ascent": dict(light),
        "gradient-difference": dict(light),
        "npo": dict(light),
        "simnpo": dict(light),
        "rmu": {"steps": 48, "layer": 1, "learning_rate": 1e-2},
        "neds": dict(light),
        "idk-po": dict(light),
        "task-vector": {"finetune_steps": 48, "learning_rate": 5e-4},
        "sani": {"repair_steps": 48},
    }


QUICK_METHODS = ("gradient-ascent", "gradient-difference", "npo", "simnpo", "rmu", "neds")
FULL_LEFT_OUT: dict[str, str] = {
    "test-time-steering": "hooks the model instead of changing it; llm-facts reports it",
    "kif": (
        "refuses the full request: every token of the 8 forget people's questions also "
        "occurs in the 200-person world's retain rows, so it finds no subject signature "
        "(seen in the first full run, 4 December)"
    ),
    "kif-runtime": "the same subject signature as kif, refused the same way",
}
"""Registered methods the full default spec leaves out, and why (a spec may still name
them: KIF then raises its own error naming the missing signature)."""


def _spec(size: Size) -> BenchmarkSpec:
    known = _method_params()
    names = (
        list(QUICK_METHODS)
        if size == "quick"
        else [*known, *(n for n in METHODS if n not in known and n not in FULL_LEFT_OUT)]
    )
    run = GoneParams() if size == "quick" else GoneParams(forget_people=8, eval_facts_per_hop=96)
    return facts_spec("llm-gone", size, names, known, run)


def _check(parsed: GoneSpec) -> None:
    available = round(parsed.world.people * parsed.world.forget_fraction)
    if parsed.params.forget_people > available:
        raise ValueError(
            f"params.forget_people={parsed.params.forget_people} but the world's forget split "
            f"has {available} people; lower it or raise world.params.forget_fraction"
        )
    labels = [method_label(m) for m in parsed.methods]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise ValueError(f"methods: methods appear twice with the same label: {duplicates}")


def forget_request(world: FactsWorld, people: int) -> list[QA]:
    """The ``born_in`` and ``works_for`` facts of the first ``people`` forget people."""
    chosen = world.forget_subjects[:people]
    return [
        qa
        for qa in world.split("forget")
        if qa.subject in chosen and qa.relation in FORGET_RELATIONS
    ]


def greedy_answers(model: torch.nn.Module, batch: Batch) -> list[torch.Tensor]:
    """Per row, the greedy (argmax) token at each answer position under teacher forcing."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    predicted = logits[:, :-1].argmax(dim=-1)
    mask = batch.labels[:, 1:] != -100
    return [predicted[row][mask[row]] for row in range(len(batch))]


def token_agreement(predicted: Sequence[torch.Tensor], reference: Sequence[torch.Tensor]) -> float:
    """Mean over rows of the share of answer positions where the two predictions agree."""
    shares = [float((p == r).float().mean()) for p, r in zip(predicted, reference, strict=True)]
    return sum(shares) / len(shares)


def path_leakage(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    world: FactsWorld,
    paths: Sequence[tuple[QA, ...]],
) -> float:
    """Share of ``paths`` whose final value the model reaches step by step: step 1 chooses
    a value of the first fact's relation for its subject (``restor.value_choice``), each
    later step a value of the next relation for the entity chosen before; a path breaks
    where that entity has no fact of the relation."""
    from unlearn_llm.benchmarks.restor import value_choice
    from unlearn_llm.worlds.hops import fact_index, relation_values

    if not paths:
        raise ValueError("no multi-hop paths to score")
    index = fact_index(world)
    pools: dict[str, list[str]] = {}
    asked: dict[int, QA] = dict(enumerate(path[0] for path in paths))
    hits = 0
    for step in range(max(len(path) for path in paths)):
        rows = sorted(asked)
        if not rows:
            break
        facts = [asked[i] for i in rows]
        values = [
            pools.setdefault(qa.relation, relation_values(world, qa.relation)) for qa in facts
        ]
        following: dict[int, QA] = {}
        for i, value in zip(rows, value_choice(model, tokenizer, facts, values), strict=True):
            path = paths[i]
            if step + 1 == len(path):
                hits += value == path[-1].object
            elif (value, path[step + 1].relation) in index:
                following[i] = index[(value, path[step + 1].relation)]
        asked = following
    return hits / len(paths)


class _Scored:
    """What every model of one seed is scored on (built once per seed)."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        world: FactsWorld,
        forget: list[QA],
        hop_facts: dict[int, list[QA]],
        paths: dict[int, list[tuple[QA, ...]]],
    ) -> None:
        from unlearn_llm.data import encode, encode_facts, prompt_text

        self.tokenizer, self.world, self.forget = tokenizer, world, forget
        self.hop_facts, self.paths = hop_facts, paths
        # the forgotten facts' rows as the original trained on them (every phrasing)
        self.forget_rows = encode_facts(tokenizer, forget)
        self.hop_rows = {
            hop: encode(
                tokenizer,
                [prompt_text(qa.questions[0]) for qa in facts],
                [qa.answer for qa in facts],
            )
            for hop, facts in hop_facts.items()
        }
        # the same facts asked in the phrasing no model trained on
        facts = [qa for hop in sorted(hop_facts) for qa in hop_facts[hop]]
        self.heldout_rows = encode(
            tokenizer,
            [prompt_text(qa.heldout_question) for qa in facts],
            [qa.answer for qa in facts],
        )
        self.original: dict[int, list[torch.Tensor]] = {}
        self.original_heldout: list[torch.Tensor] = []

    def set_original(self, model: torch.nn.Module) -> None:
        self.original = {hop: greedy_answers(model, rows) for hop, rows in self.hop_rows.items()}
        self.original_heldout = greedy_answers(model, self.heldout_rows)

    def score(self, model: torch.nn.Module) -> dict[str, float]:
        from unlearn_llm.benchmarks.restor import value_choice
        from unlearn_llm.models import exact_answer_accuracy
        from unlearn_llm.worlds.hops import relation_values

        pools = [relation_values(self.world, qa.relation) for qa in self.forget]
        chosen = value_choice(model, self.tokenizer, self.forget, pools)
        scores = {
            "unlearning_efficacy": 1.0 - exact_answer_accuracy(model, self.forget_rows),
            "direct_choice_accuracy": sum(
                c == qa.object for c, qa in zip(chosen, self.forget, strict=True)
            )
            / len(self.forget),
        }
        for length, paths in self.paths.items():
            scores[f"leakage_{length}hop"] = path_leakage(model, self.tokenizer, self.world, paths)
        predicted_all: list[torch.Tensor] = []
        reference_all: list[torch.Tensor] = []
        for hop, rows in self.hop_rows.items():
            predicted = greedy_answers(model, rows)
            scores[f"hop_accuracy@{hop}"] = exact_answer_accuracy(model, rows)
            scores[f"locality@{hop}"] = token_agreement(predicted, self.original[hop])
            predicted_all += predicted
            reference_all += self.original[hop]
        scores["locality"] = token_agreement(predicted_all, reference_all)
        heldout = greedy_answers(model, self.heldout_rows)
        scores["heldout_locality"] = token_agreement(heldout, self.original_heldout)
        return scores


def run_gone(parsed: GoneSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Original and oracle, every method on the forgotten facts, each scored effect by effect."""
    import copy
    import random

    import torch

    from unlearn_llm.attacks.recovery import AttackTarget
    from unlearn_llm.attacks.relearning import related_relearning, relearning
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.models import trained_model, training_steps
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.hops import fact_paths, hop_distances, knowledge_graph
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run, methods = parsed.params, parsed.methods
    attack_functions = {"relearning": relearning, "relearning-related": related_relearning}
    progress.start(len(parsed.seeds) * (2 + len(methods)), "models scored")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings, timed = phase_timer()
    rows: dict[str, list[dict[str, float]]] = {}

    for seed in parsed.seeds:
        torch.set_num_threads(parsed.model.threads)
        start = time.perf_counter()
        base_world = build_world(parsed.world, seed)
        # the base world's tokenizer: the llm-facts original of this seed is reused as is
        tokenizer = train_tokenizer(base_world, vocab_size=parsed.model.vocab_size)
        forget = forget_request(base_world, run.forget_people)
        world = base_world.forgetting([qa.key for qa in forget])
        trained_facts = world.split("forget") + world.split("retain") + world.split("general")
        graph = knowledge_graph(trained_facts)
        distances = hop_distances(graph, forget, max_hops=max(HOPS))
        sampler = random.Random(seed)
        hop_facts = {}
        for hop in HOPS:
            at_hop = [qa for qa in world.split("retain") if distances.get(qa.key) == hop]
            if at_hop:
                hop_facts[hop] = sampler.sample(at_hop, k=min(run.eval_facts_per_hop, len(at_hop)))
        paths = {
            length: [path for qa in forget for path in fact_paths(graph, qa, length)]
            for length in PATH_LENGTHS
        }
        paths = {length: found for length, found in paths.items() if found}
        scored = _Scored(tokenizer, world, forget, hop_facts, paths)
        timed("world", start)

        models: dict[str, Any] = {}
        roles: tuple[Role, ...] = ("original", "oracle")
        for role in roles:
            start = time.perf_counter()
            trained = trained_model(world, role, seed, parsed.model, tokenizer, run.use_cache)
            timed(f"{role} model" + (" (cache)" if trained.from_cache else ""), start)
            models[role] = trained.model
            if role == "original":
                original_steps = training_steps(trained.log)
            elif not trained.from_cache:
                metrics.append(
                    metric(
                        "oracle_retrain_wall_time",
                        trained.log["wall_time_s"],
                        "none",
                        {"seed": str(seed)},
                        unit="s",
                    )
                )
        scored.set_original(models["original"])
        scores: dict[str, dict[str, float]] = {}
        for role in ("original", "oracle"):
            start = time.perf_counter()
            scores[role] = scored.score(models[role])
            timed("scoring", start)
            progress.advance(1, f"seed {seed}: {role} scored")

        data = make_unlearn_data(tokenizer, forget, world.split("retain"))
        for method in methods:
            label = method_label(method)
            params = method.params
            if "seed" in type(params).model_fields and "seed" not in method.config.params:
                params = params.model_copy(update={"seed": seed})  # reseed the batches too
            model = copy.deepcopy(models["original"])
            start = time.perf_counter()
            log = method.spec.function(model, data, params)
            timed(f"unlearn:{label}", start)
            metrics.append(
                metric(
                    "unlearning_wall_time",
                    log.wall_time_s,
                    "lower",
                    {"seed": str(seed), "method": label},
                    unit="s",
                )
            )
            models[label] = model
            start = time.perf_counter()
            scores[label] = scored.score(model)
            timed("scoring", start)
            progress.advance(1, f"seed {seed}: {label} unlearned and scored")

        for attack in run.attacks:
            for label, model in models.items():
                start = time.perf_counter()
                target = AttackTarget(
                    model=model,
                    tokenizer=tokenizer,
                    world=world,
                    forget=forget,
                    retain=hop_facts.get(1, []),
                    general=world.split("general"),
                    holdout=world.split("holdout"),
                    seed=seed,
                    original=models["original"],
                    original_training_steps=original_steps,
                )
                outcome = attack_functions[attack](target, None)
                timed(f"attack:{attack}", start)
                scores[label][f"relearned_probability:{attack}"] = outcome.knowledge
                scores[label][f"relearned_accuracy:{attack}"] = outcome.metrics[
                    "heldout_forget_exact_answer_accuracy"
                ]

        oracle = scores["oracle"]
        original = scores["original"]
        for label, values in scores.items():
            rows.setdefault(label, []).append(values)
            for key, value in values.items():
                name, _, qualifier = key.partition("@")
                labels = {"seed": str(seed), "method": label}
                name, _, attack_name = name.partition(":")
                if qualifier:
                    labels["hop"] = qualifier
                if attack_name:
                    labels["attack"] = attack_name
                    name = {
                        "relearned_probability": "relearned_forget_answer_probability",
                        "relearned_accuracy": "relearned_forget_exact_accuracy",
                    }[name]
                reference = oracle[key] if label != "oracle" else None
                direction = _direction(name)
                metrics.append(metric(name, value, direction, labels, reference))
                if name == "hop_accuracy":
                    drop = original[key] - value
                    metrics.append(metric("forgetting", drop, "lower", labels))
        notes.append(
            f"seed {seed}: forgot {len(forget)} facts ({', '.join(FORGET_RELATIONS)} of "
            f"{run.forget_people} people); facts scored per hop: "
            + ", ".join(f"{hop}: {len(facts)}" for hop, facts in hop_facts.items())
            + "; paths scored: "
            + ", ".join(f"{length} facts: {len(found)}" for length, found in paths.items())
            + f"; NEDS anchor neighbours: {0 if data.neighbours is None else len(data.neighbours)}"
            " QA rows."
        )

    means = {label: _means(entries) for label, entries in rows.items()}
    notes.extend(_verdict(means, run.efficacy_floor))
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        notes=notes,
        curves=_curves(means),
        summary=_summary(means, run.attacks),
    )


def _direction(name: str) -> Any:
    if name in ("unlearning_efficacy", "hop_accuracy", "locality", "heldout_locality"):
        return "higher"
    return "lower"


def _means(entries: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in entries[0] if all(k in e for e in entries)]
    return {k: sum(e[k] for e in entries) / len(entries) for k in keys}


def _verdict(means: dict[str, dict[str, float]], floor: float) -> list[str]:
    """The paper's claim (NEDS: efficacy 1.000, locality 0.839, better than the other
    methods), checked on the seed means: locality on both the trained and the held-out
    phrasing (NEDS's neighbour KL trains on the former)."""
    if "neds" not in means:
        return ["GONE claim not checked: NEDS was not among the methods run."]
    neds = means["neds"]
    others = {k: v for k, v in means.items() if k not in ("original", "oracle", "neds")}
    forgetting = {k: v for k, v in others.items() if v["unlearning_efficacy"] >= floor}
    kinds = ("locality", "heldout_locality")
    beaten = [k for k, v in forgetting.items() if any(v[c] >= neds[c] for c in kinds)]
    baselines = [k for k in ("gradient-ascent", "npo") if k in others]
    above_baselines = all(neds[c] > others[k][c] for k in baselines for c in kinds)
    efficacy, locality = neds["unlearning_efficacy"], neds["locality"]
    if efficacy >= 0.999 and not beaten:
        verdict = "reproduced"
    elif efficacy >= floor and above_baselines:
        verdict = "partly reproduced"
    else:
        verdict = "refuted"
    listing = ", ".join(
        f"{k} {v['unlearning_efficacy']:.3f}/{v['locality']:.3f}/{v['heldout_locality']:.3f}"
        for k, v in others.items()
    )
    oracle = means.get("oracle", {})
    leak = ", ".join(
        f"{k.removeprefix('leakage_')} {neds[k]:.2f} (oracle {oracle.get(k, float('nan')):.2f})"
        for k in neds
        if k.startswith("leakage_")
    )
    return [
        f"GONE claim (NEDS reaches unlearning efficacy 1.000 and locality 0.839, better than "
        f"the other methods): {verdict} here: NEDS efficacy {efficacy:.3f}, locality "
        f"{locality:.3f} (oracle locality {oracle.get('locality', float('nan')):.3f}; "
        f"held-out phrasing {neds['heldout_locality']:.3f}); "
        f"others (efficacy/locality/held-out locality): {listing}; methods at efficacy "
        f">= {floor} with either locality at least NEDS's: {', '.join(beaten) or 'none'}; "
        f"NEDS leakage {leak}."
    ]


def _curves(means: dict[str, dict[str, float]]) -> list[Curve]:
    hop_series = [
        Series(
            label=label,
            x=[float(h) for h in HOPS if f"hop_accuracy@{h}" in values],
            y=[values[f"hop_accuracy@{h}"] for h in HOPS if f"hop_accuracy@{h}" in values],
        )
        for label, values in means.items()
    ]
    return [
        Curve(
            name="gone-forgetting-by-hop",
            title="Accuracy on retained facts by hop distance from the removed facts",
            x_label="hop distance from a removed fact",
            y_label="exact-answer accuracy",
            series=hop_series,
        ),
        Curve(
            name="gone-efficacy-vs-locality",
            title="Unlearning efficacy against locality (token agreement with the original)",
            x_label="unlearning efficacy (1: no forgotten fact answered)",
            y_label="locality on facts 1-3 hops away",
            series=[
                Series(label=label, x=[v["unlearning_efficacy"]], y=[v["locality"]])
                for label, v in means.items()
            ],
        ),
    ]


def _summary(means: dict[str, dict[str, float]], attacks: Sequence[str]) -> Table:
    columns = ["unlearning_efficacy", "direct_choice_accuracy"]
    columns += [f"leakage_{n}hop" for n in PATH_LENGTHS]
    columns += [f"hop_accuracy@{h}" for h in HOPS] + ["locality", "heldout_locality"]
    columns += [f"relearned_accuracy:{a}" for a in attacks]
    header = ["model", "efficacy", "direct choice"]
    header += [f"leak {n}-hop" for n in PATH_LENGTHS]
    header += [f"acc hop {h}" for h in HOPS] + ["locality", "held-out locality"]
    header += [f"acc after {a}" for a in attacks]
    table_rows = [
        [label, *(f"{v[c]:.3f}" if c in v else "-" for c in columns)] for label, v in means.items()
    ]
    return Table(
        title="GONE: direct removal, multi-hop leakage, forgetting by hop (seed means)",
        header=header,
        rows=table_rows,
    )


LLM_GONE = facts_benchmark(
    name="llm-gone",
    summary="Forget knowledge-graph facts: direct removal, multi-hop leakage, forgetting by hop.",
    default_spec=_spec,
    run=run_gone,
    params_type=GoneParams,
    metric_names=GONE_METRIC_NAMES,
    check=_check,
)
