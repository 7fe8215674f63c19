"""The ``llm-continual-stream`` benchmark: every method serves a PCH stream of deletion
requests one after the other; F.D. and R.U. after each request.

After FIT (Xu et al., "FIT: Defying Catastrophic Forgetting in Continual LLM
Unlearning", arXiv:2601.21682): the stream (``worlds/pch.py``) mixes personal,
copyright-like and harmful-like requests with near-duplicates of earlier ones. Per
seed: the original model trains on the whole world, the retrain oracle on everything
but the stream's facts; each method starts from a copy of the original and serves the
requests in order (FIT with its memory of the requests served).

**Metrics (the paper's, from its evaluation code).** On a set of facts a model scores
$S = 100\\,(\\bar p \\cdot \\bar r \\cdot \\bar a)^{1/3}$: the mean length-normalised answer
probability $P(a\\mid q)^{1/|a|}$, the mean ROUGE-L F1 (stemmed) of the greedy answer and
the mean teacher-forced token accuracy of the answer. With $A$ the unlearned model's
score and $B$ the oracle's on the same facts,

$$
\\mathrm{F.D.} = \\max\\big(0,\\ 1 - |A_f / B_f - 1|\\big), \\qquad
\\mathrm{R.U.} = \\max\\big(0,\\ 1 - |A_r / B_r - 1|\\big)
$$

on the facts of every request served so far ($f$) and on a fixed sample of retain
facts ($r$): 1 is the oracle's behaviour, from either side (forgetting too little or
too much both lower F.D.). After each request (every ``eval_every``), also MUSE's
sustainability numbers: KnowMem on retain (ROUGE-L F1 of answers to held-out question
phrasings) and VerbMem on the copyright passages served so far. Per-request cost is
the wall time of the method's call. At the end of the stream the relearning attack
(``attacks/relearning.py``: fine-tune on half of each forgotten subject's facts, score
the other half) runs on each method's model and on the oracle, and F.D. is computed on
the held-out half after the attack against the attacked oracle. MUSE's scalability
curve unlearns the first $k$ requests at once (steps scaled by $k$) from the original.

Importing this module does not import torch; ``run_continual`` does.
"""

# Over 600 lines on purpose: the stream, its per-request scoring, relearning and the MUSE
# curves are one recipe read top to bottom; shared pieces already come from _common.py.

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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

from unlearn_llm.attacks.relearning import RelearningParams
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
from unlearn_llm.worlds.facts import FactsWorldParams
from unlearn_llm.worlds.pch import PCHParams, stream_params_for

if TYPE_CHECKING:
    import numpy as np
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.methods._common import UnlearnData
    from unlearn_llm.worlds.facts import QA
    from unlearn_llm.worlds.pch import DeletionRequest, PCHStream

COMPONENTS = ("probability", "rouge_l", "token_accuracy")


class ContinualParams(StrictModel):
    """The stream, how often it is scored, the attack and the scalability sizes."""

    stream: PCHParams = Field(default_factory=PCHParams)
    eval_every: int = Field(default=2, ge=1, le=10_000, description="Requests between scorings.")
    retain_eval_facts: int = Field(default=48, ge=4, le=100_000, description="R.U.'s facts.")
    scalability_requests: list[int] = Field(
        default_factory=lambda: [5, 10],
        description="MUSE scalability: unlearn the first k requests at once, for each k.",
    )
    scalability_methods: list[str] | None = Field(
        default=None, description="Methods the scalability curve runs (None: every method)."
    )
    relearning: RelearningParams = Field(default_factory=RelearningParams)
    method_budget_s: float = Field(
        default=600.0, gt=0.0, description="A method's stream stops after this wall time."
    )
    use_cache: bool = Field(default=True, description="Reuse cached original and oracle.")


ContinualSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, ContinualParams]

CONTINUAL_METRIC_NAMES = frozenset(
    {
        "forget_degree",
        "retain_utility",
        "mean_forget_degree",
        "mean_retain_utility",
        "retain_utility_drop",
        "trade_off",
        "stream_trade_off",
        "per_request_cost_s",
        "stream_time_s",
        "requests_served",
        "requests_filtered",
        "relearned_answer_probability",
        "post_relearning_forget_degree",
        "retain_knowmem",
        "forget_verbmem",
        "scalability_retain_utility",
        "scalability_forget_degree",
    }
)


def _method_params() -> dict[str, dict[str, Any]]:
    """Per-request settings of the methods known when this benchmark was written; a
    method registered later runs with its defaults."""
    return {
        **step_budget_params(8, eval_every=1000),
        "fit": {"steps": 8, "learning_rate": 5e-4, "eval_every": 1000},
    }


QUICK_METHODS = ("gradient-ascent", "gradient-difference", "npo", "simnpo", "rmu", "fit")
LEFT_OUT: dict[str, str] = {
    "test-time-steering": "hooks a model once and refuses a second request",
    "kif-runtime": "hooks a model once and refuses a second request",
    "kif": (
        "refuses a request whose forget-question tokens all occur in the retain rows "
        "(the full stream has one)"
    ),
}
"""Methods the stream cannot serve request after request, and why; naming one is an
error (re-steering for every request so far, or skipping a refused request, would be
a different benchmark)."""


def _spec(size: Size) -> BenchmarkSpec:
    known = _method_params()
    names = list(QUICK_METHODS) if size == "quick" else [n for n in METHODS if n not in LEFT_OUT]
    if size == "quick":
        # Within the 3-minute budget from a cold cache on 2 idle cores: the 15-request
        # stream on a 40-person world, a scoring every 5th request on 32 retain facts,
        # the scalability runs (k times the per-request steps) for NPO and FIT only, and
        # both torch threads (146 s idle, 4 December, against 177 s on one thread and
        # 385 s for the earlier 20-request, 60-person spec).
        run = ContinualParams(
            stream=stream_params_for("quick"),
            eval_every=5,
            retain_eval_facts=32,
            scalability_methods=["npo", "fit"],
        )
        world = FactsWorldParams(people=40, organisations=8, places=8, general=20)
    else:
        # Every method on 110 requests: one seed, a scoring every 22nd request and the
        # scalability curve for FIT alone keep it near half an hour of one core (3 seeds,
        # every 5th request and every method's curve: about two hours, estimated).
        run = ContinualParams(
            stream=stream_params_for("full"),
            eval_every=22,
            retain_eval_facts=128,
            scalability_requests=[10, 110],
            scalability_methods=["fit"],
            method_budget_s=600.0,
        )
        world = FactsWorldParams(
            people=200, organisations=20, places=20, general=60, forget_fraction=0.25
        )
    spec = facts_spec("llm-continual-stream", size, names, known, run, world)
    if size == "quick" and spec.model is not None:
        model = spec.model.model_copy(update={"params": {**spec.model.params, "threads": 2}})
        spec = spec.model_copy(update={"model": model})
    return spec.model_copy(update={"seeds": [0]})


def _check(parsed: ContinualSpec) -> None:
    refused = sorted({m.name for m in parsed.methods} & set(LEFT_OUT))
    if refused:
        raise ValueError(
            "the stream serves one request per call; leave out "
            + "; ".join(f"{name} (it {LEFT_OUT[name]})" for name in refused)
        )
    people = parsed.world.people - round(parsed.world.people * parsed.world.holdout_fraction)
    if parsed.params.stream.personal > people - max(4, people // 4):
        raise ValueError(
            f"params.stream.personal={parsed.params.stream.personal} but the world trains "
            f"about {people} people and a quarter must stay retained; raise world.params.people"
        )
    total = parsed.params.stream.requests
    bad = [k for k in parsed.params.scalability_requests if not 1 <= k <= total]
    if bad:
        raise ValueError(
            f"params.scalability_requests {bad} outside 1..{total} (the stream's requests)"
        )


def symmetric_ratio(value: float, reference: float) -> float | None:
    """$\\max(0, 1 - |v / r - 1|)$: 1 at the reference, 0 at twice it or at 0; ``None``
    when the reference is not positive (the ratio is undefined)."""
    if reference <= 0.0:
        return None
    return max(0.0, 1.0 - abs(value / reference - 1.0))


def combined_score(components: dict[str, float]) -> float:
    """$S = 100 (\\bar p\\, \\bar r\\, \\bar a)^{1/3}$: the cube root of the means' product."""
    product = 1.0
    for name in COMPONENTS:
        product *= max(0.0, components[name])
    return 100.0 * product ** (1.0 / 3.0)


def fact_components(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA]
) -> dict[str, np.ndarray]:
    """Per fact, after its first trained question phrasing: the length-normalised answer
    probability $P(a\\mid q)^{1/|a|}$ and the teacher-forced token accuracy of the answer
    (one forward pass), and the ROUGE-L F1 (stemmed) of the greedy answer."""
    import numpy as np
    import torch
    from rouge_score import rouge_scorer

    from unlearn_llm.data import encode, next_token_logprobs, prompt_text
    from unlearn_llm.metrics.evaluate import greedy_answers

    prompts = [prompt_text(qa.questions[0]) for qa in facts]
    batch = encode(tokenizer, prompts, [qa.answer for qa in facts])
    probability: list[float] = []
    accuracy: list[float] = []
    with torch.no_grad():
        for start in range(0, len(batch), 256):
            part = batch.subset(slice(start, start + 256)).trimmed()
            logp, targets, mask = next_token_logprobs(model, part)
            token_logp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            count = mask.sum(dim=1).clamp(min=1)
            probability += torch.exp((token_logp * mask).sum(dim=1) / count).tolist()
            hits = (logp.argmax(dim=-1) == targets) & mask
            accuracy += (hits.sum(dim=1) / count).tolist()
    answers = greedy_answers(model, tokenizer, prompts)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [
        scorer.score(qa.answer, answer)["rougeL"].fmeasure
        for qa, answer in zip(facts, answers, strict=True)
    ]
    return {
        "probability": np.asarray(probability, dtype=float),
        "rouge_l": np.asarray(rouge, dtype=float),
        "token_accuracy": np.asarray(accuracy, dtype=float),
    }


def mean_components(per_fact: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(per_fact[name].mean()) for name in COMPONENTS}


def knowledge_rouge(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA]
) -> float:
    """MUSE KnowMem: mean ROUGE-L F1 of answers to the held-out question phrasings."""
    from unlearn_llm.data import prompt_text
    from unlearn_llm.metrics.evaluate import greedy_answers
    from unlearn_llm.metrics.muse import rouge_l_f1

    answers = greedy_answers(model, tokenizer, [prompt_text(qa.heldout_question) for qa in facts])
    return float(rouge_l_f1(answers, [qa.answer for qa in facts]).mean())


def request_data(
    tokenizer: PreTrainedTokenizerBase, requests: Sequence[DeletionRequest], retain: Any
) -> UnlearnData:
    """A method's input for ``requests`` served at once: their distinct facts and passages
    as the forget rows, ``retain`` (encoded once) as the retain rows."""
    from unlearn_llm.data import encode_facts, encode_idk
    from unlearn_llm.methods._common import UnlearnData

    facts = list({qa.key: qa for r in requests for qa in r.facts}.values())
    passages = list({p.text: p for r in requests for p in r.passages}.values())
    return UnlearnData(
        forget=encode_facts(tokenizer, facts, passages),
        retain=retain,
        forget_idk=encode_idk(tokenizer, facts),
    )


class _Scorer:
    """Scores models against the oracle on the stream's prefixes and the retain sample."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        stream: PCHStream,
        oracle: torch.nn.Module,
        retain_eval: list[QA],
    ) -> None:
        self.tokenizer = tokenizer
        self.stream = stream
        self.retain_eval = retain_eval
        every = stream.forgotten(len(stream.requests) - 1)
        per_fact = fact_components(oracle, tokenizer, every)
        self.oracle_fact = {
            qa.key: {name: float(per_fact[name][i]) for name in COMPONENTS}
            for i, qa in enumerate(every)
        }
        self.oracle_retain = combined_score(
            mean_components(fact_components(oracle, tokenizer, retain_eval))
        )

    def oracle_forget(self, facts: Sequence[QA]) -> float:
        means = {
            n: sum(self.oracle_fact[qa.key][n] for qa in facts) / len(facts) for n in COMPONENTS
        }
        return combined_score(means)

    def score(self, model: torch.nn.Module, upto: int) -> dict[str, float]:
        from unlearn_llm.metrics.muse import verbatim_memorisation

        facts = self.stream.forgotten(upto)
        forget = combined_score(mean_components(fact_components(model, self.tokenizer, facts)))
        retain = combined_score(
            mean_components(fact_components(model, self.tokenizer, self.retain_eval))
        )
        result = {"forget_score": forget, "retain_score": retain}
        fd = symmetric_ratio(forget, self.oracle_forget(facts))
        ru = symmetric_ratio(retain, self.oracle_retain)
        result["forget_degree"] = fd if fd is not None else float("nan")
        result["retain_utility"] = ru if ru is not None else float("nan")
        result["retain_knowmem"] = knowledge_rouge(model, self.tokenizer, self.retain_eval)
        copyright_passages = [
            p.text
            for r in self.stream.requests[: upto + 1]
            if r.kind == "copyright"
            for p in r.passages
        ]
        if copyright_passages:
            verb = verbatim_memorisation(
                model, self.tokenizer, list(dict.fromkeys(copyright_passages))
            )
            result["forget_verbmem"] = float(verb.mean())
        return result


def _relearned(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: list[QA],
    params: RelearningParams,
    seed: int,
) -> tuple[float, dict[str, float]]:
    """Held-out forget answer probability after the relearning attack, and the held-out
    facts' mean components (for F.D. against the attacked oracle)."""
    from unlearn_llm.attacks.relearning import fine_tune, split_forget_facts

    train, heldout = split_forget_facts(facts, params.train_fraction, seed)
    tuned = fine_tune(model, tokenizer, train, params, params.steps, seed)
    per_fact = fact_components(tuned, tokenizer, heldout)
    return float(per_fact["probability"].mean()), mean_components(per_fact)


def run_continual(parsed: ContinualSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Original and oracle, then every method on the stream, scored after each request."""
    import copy
    import random

    import torch

    from unlearn_llm.data import encode_facts
    from unlearn_llm.methods.fit import fit_memory
    from unlearn_llm.models import trained_model
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.pch import build_pch_stream
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run, methods = parsed.params, parsed.methods
    scal_methods = [
        m for m in methods if run.scalability_methods is None or m.name in run.scalability_methods
    ]
    total_requests = run.stream.requests
    evals = len([t for t in range(total_requests) if _is_eval(t, run.eval_every, total_requests)])
    progress.start(
        len(parsed.seeds)
        * (len(methods) * evals + len(scal_methods) * len(run.scalability_requests)),
        "scorings",
    )
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings, timed = phase_timer()
    curves: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    finals: dict[str, list[dict[str, float]]] = {}

    for seed in parsed.seeds:
        torch.set_num_threads(parsed.model.threads)
        began = time.perf_counter()
        base = build_world(parsed.world, seed)
        stream = build_pch_stream(base, run.stream, seed)
        world = stream.world
        tokenizer = train_tokenizer(world, vocab_size=parsed.model.vocab_size)
        timed("world", began)
        began = time.perf_counter()
        original = trained_model(world, "original", seed, parsed.model, tokenizer, run.use_cache)
        timed("original model", began)
        began = time.perf_counter()
        oracle = trained_model(world, "oracle", seed, parsed.model, tokenizer, run.use_cache)
        timed("oracle model", began)

        began = time.perf_counter()
        pool = [qa for qa in world.split("retain") if qa.relation != "sum"]
        retain_eval = random.Random(seed).sample(pool, k=min(run.retain_eval_facts, len(pool)))
        retain_batch = encode_facts(tokenizer, world.split("retain"), world.passage_split("retain"))
        scorer = _Scorer(tokenizer, stream, oracle.model, retain_eval)
        everything = stream.forgotten(total_requests - 1)
        oracle_attacked = _relearned(oracle.model, tokenizer, everything, run.relearning, seed)
        original_scores = scorer.score(original.model, total_requests - 1)
        timed("scoring", began)
        base_labels = {"seed": str(seed)}
        for name in ("forget_degree", "retain_utility"):
            metrics.append(
                metric(name, original_scores[name], "higher", {**base_labels, "method": "original"})
            )
        metrics.append(
            metric(
                "relearned_answer_probability",
                oracle_attacked[0],
                "lower",
                {**base_labels, "method": "oracle"},
            )
        )
        notes.append(
            f"seed {seed}: stream of {total_requests} requests ("
            + ", ".join(
                f"{sum(r.kind == k and not r.redundant for r in stream.requests)} {k}"
                for k in ("personal", "copyright", "harmful")
            )
            + f", {sum(r.redundant for r in stream.requests)} near-duplicates); "
            f"{len(everything)} facts; oracle score on them "
            f"{scorer.oracle_forget(everything):.1f}, "
            f"original's {original_scores['forget_score']:.1f}; retain score oracle "
            f"{scorer.oracle_retain:.1f}, original {original_scores['retain_score']:.1f}."
        )

        for method in methods:
            label = method_label(method)
            function = method.spec.function
            model = copy.deepcopy(original.model)
            costs: list[float] = []
            points: list[tuple[int, dict[str, float]]] = []
            stopped = False
            for t, request in enumerate(stream.requests):
                data = request_data(tokenizer, [request], retain_batch)
                began = time.perf_counter()
                function(model, data, method.params)
                costs.append(time.perf_counter() - began)
                if _is_eval(t, run.eval_every, total_requests):
                    began = time.perf_counter()
                    points.append((t + 1, scorer.score(model, t)))
                    timed("scoring", began)
                    progress.advance(1, f"seed {seed}: {label} request {t + 1}")
                if sum(costs) > run.method_budget_s and t + 1 < total_requests:
                    notes.append(
                        f"seed {seed}: {label} stopped after {t + 1} of {total_requests} "
                        f"requests: its unlearning took {sum(costs):.0f} s, over "
                        f"method_budget_s={run.method_budget_s:.0f}."
                    )
                    stopped = True
                    if not points or points[-1][0] != t + 1:
                        points.append((t + 1, scorer.score(model, t)))
                    break
            timings[f"stream:{label}"] = timings.get(f"stream:{label}", 0.0) + sum(costs)
            labels = {**base_labels, "method": label}
            last = points[-1][1]
            served = points[-1][0]
            fds = [p["forget_degree"] for _, p in points]
            rus = [p["retain_utility"] for _, p in points]
            summary = {
                "forget_degree": last["forget_degree"],
                "retain_utility": last["retain_utility"],
                "mean_forget_degree": sum(fds) / len(fds),
                "mean_retain_utility": sum(rus) / len(rus),
                "retain_utility_drop": rus[0] - rus[-1],
                "trade_off": _harmonic(last["forget_degree"], last["retain_utility"]),
                "stream_trade_off": _harmonic(sum(fds) / len(fds), sum(rus) / len(rus)),
                "per_request_cost_s": sum(costs) / len(costs),
                "stream_time_s": sum(costs),
                "requests_served": float(served),
                "retain_knowmem": last["retain_knowmem"],
            }
            if "forget_verbmem" in last:
                summary["forget_verbmem"] = last["forget_verbmem"]
            if method.name == "fit":
                memory = fit_memory(model)
                summary["requests_filtered"] = float(
                    sum(1 for d in memory.decisions if d.kept == 0)
                )
                chosen = [d.algorithm for d in memory.decisions if d.algorithm is not None]
                notes.append(
                    f"seed {seed}: {label}: {int(summary['requests_filtered'])} requests "
                    f"filtered whole ({sum(r.redundant for r in stream.requests[:served])} "
                    f"near-duplicates served); rows kept {sum(d.kept for d in memory.decisions)}"
                    f" of {sum(d.rows for d in memory.decisions)}; algorithms "
                    + ", ".join(f"{a} x{chosen.count(a)}" for a in sorted(set(chosen)))
                    + "; importance "
                    + ", ".join(
                        f"{d.importance:.2f}" for d in memory.decisions if d.importance is not None
                    )[:400]
                )
            if not stopped:
                began = time.perf_counter()
                probability, components = _relearned(
                    model, tokenizer, everything, run.relearning, seed
                )
                summary["relearned_answer_probability"] = probability
                post = symmetric_ratio(
                    combined_score(components), combined_score(oracle_attacked[1])
                )
                if post is not None:
                    summary["post_relearning_forget_degree"] = post
                timed("relearning", began)
            for name, value in summary.items():
                direction: Direction = "lower" if name in _LOWER else "higher"
                unit = "s" if name.endswith("_s") else None
                metrics.append(metric(name, value, direction, labels, unit=unit))
            finals.setdefault(label, []).append(summary)
            for key in ("forget_degree", "retain_utility", "retain_knowmem", "forget_verbmem"):
                xs = [float(n) for n, p in points if key in p]
                ys = [p[key] for _, p in points if key in p]
                if seed == parsed.seeds[0] and xs:
                    curves.setdefault(key, {})[label] = (xs, ys)

        for method in scal_methods:
            label = method_label(method)
            for k in run.scalability_requests:
                model = copy.deepcopy(original.model)
                data = request_data(tokenizer, stream.requests[:k], retain_batch)
                params = _scaled(method.params, k)
                began = time.perf_counter()
                method.spec.function(model, data, params)
                timed(f"scalability:{label}", began)
                began = time.perf_counter()
                point = scorer.score(model, k - 1)
                timed("scoring", began)
                labels = {**base_labels, "method": label, "requests": str(k)}
                metrics.append(
                    metric("scalability_retain_utility", point["retain_utility"], "higher", labels)
                )
                metrics.append(
                    metric("scalability_forget_degree", point["forget_degree"], "higher", labels)
                )
                if seed == parsed.seeds[0]:
                    xs, ys = curves.setdefault("scalability", {}).setdefault(label, ([], []))
                    xs.append(float(k))
                    ys.append(point["retain_knowmem"])
                progress.advance(1, f"seed {seed}: {label} scalability k={k}")

    notes.extend(_verdict(finals))
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        notes=notes,
        curves=_curves(curves),
        summary=_summary(finals),
    )


_LOWER = frozenset(
    {
        "retain_utility_drop",
        "per_request_cost_s",
        "stream_time_s",
        "relearned_answer_probability",
        "forget_verbmem",
    }
)


def _is_eval(t: int, every: int, total: int) -> bool:
    return (t + 1) % every == 0 or t + 1 == total


def _harmonic(a: float, b: float) -> float:
    return 0.0 if a + b <= 0 else 2 * a * b / (a + b)


def _scaled(params: Any, k: int) -> Any:
    """``params`` with its step counts times ``k`` (the same updates per request as the
    stream gives, all at once: MUSE's scalability trains the same epochs on more data)."""
    update = {
        name: getattr(params, name) * k
        for name in ("steps", "finetune_steps", "repair_steps")
        if isinstance(getattr(params, name, None), int)
    }
    return params.model_copy(update=update)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _verdict(finals: dict[str, list[dict[str, float]]]) -> list[str]:
    """FIT's claim (it degrades less over the stream than the plain methods, with the
    best F.D./R.U. trade-off, and resists relearning), checked on the seed means of the
    whole stream (mean R.U. and the stream trade-off over every scored request); the
    last request's numbers are given beside them."""
    if "fit" not in finals:
        return ["no FIT run in this spec: the paper's claim is not checked"]
    plain = {k: v for k, v in finals.items() if k != "fit"}
    if not plain:
        return ["FIT ran alone: nothing to compare it with"]

    def m(label: str, key: str) -> float:
        return _mean([s[key] for s in finals[label] if key in s])

    kept_more = [k for k in plain if m("fit", "mean_retain_utility") >= m(k, "mean_retain_utility")]
    best_trade = all(m("fit", "stream_trade_off") >= m(k, "stream_trade_off") for k in plain)
    degrades_less = len(kept_more) == len(plain)
    verdict = (
        "reproduced"
        if degrades_less and best_trade
        else "partly reproduced"
        if degrades_less or best_trade
        else "refuted"
    )
    relearn = [k for k in plain if "relearned_answer_probability" in finals[k][0]]
    resists = [
        k
        for k in relearn
        if m("fit", "relearned_answer_probability") <= m(k, "relearned_answer_probability")
    ]
    last_best = all(m("fit", "trade_off") >= m(k, "trade_off") for k in plain)
    rows = "; ".join(
        f"{k}: mean F.D. {m(k, 'mean_forget_degree'):.2f}, mean R.U. "
        f"{m(k, 'mean_retain_utility'):.2f}, stream trade-off {m(k, 'stream_trade_off'):.2f}, "
        f"last F.D. {m(k, 'forget_degree'):.2f}, last R.U. {m(k, 'retain_utility'):.2f}, "
        f"relearned P {m(k, 'relearned_answer_probability'):.2f}"
        for k in finals
    )
    return [
        f"FIT claim (degrades less over the stream than the plain methods, best F.D./R.U. "
        f"trade-off): {verdict} here. FIT's mean R.U. over the stream "
        f"{m('fit', 'mean_retain_utility'):.2f} is at least that of {len(kept_more)} of "
        f"{len(plain)} plain methods; its stream trade-off "
        f"{m('fit', 'stream_trade_off'):.2f} is {'the best' if best_trade else 'not the best'}"
        f" (at the last request alone {'the best' if last_best else 'not the best'}: "
        f"{m('fit', 'trade_off'):.2f}). Relearning: FIT's held-out forget answer probability "
        f"after the attack {m('fit', 'relearned_answer_probability'):.2f} is at most that of "
        f"{len(resists)} of {len(relearn)} plain methods. Per method: {rows}."
    ]


def _curves(curves: dict[str, dict[str, tuple[list[float], list[float]]]]) -> list[Curve]:
    titles = {
        "forget_degree": ("F.D. after each request (1: as the retrain oracle)", "F.D."),
        "retain_utility": ("R.U. after each request (1: as the retrain oracle)", "R.U."),
        "retain_knowmem": (
            "MUSE sustainability: retain KnowMem along the stream",
            "retain KnowMem (ROUGE-L F1)",
        ),
        "forget_verbmem": (
            "MUSE VerbMem on the copyright passages served so far",
            "forget VerbMem (ROUGE-L F1)",
        ),
        "scalability": (
            "MUSE scalability: retain KnowMem after unlearning k requests at once",
            "retain KnowMem (ROUGE-L F1)",
        ),
    }
    out: list[Curve] = []
    for key, (title, y_label) in titles.items():
        if key not in curves:
            continue
        out.append(
            Curve(
                name=f"continual-{key.replace('_', '-')}",
                title=title,
                x_label="requests unlearned" if key == "scalability" else "requests served",
                y_label=y_label,
                series=[Series(label=k, x=xs, y=ys) for k, (xs, ys) in curves[key].items()],
            )
        )
    return out


def _summary(finals: dict[str, list[dict[str, float]]]) -> Table:
    columns = [
        "mean_forget_degree",
        "mean_retain_utility",
        "stream_trade_off",
        "forget_degree",
        "retain_utility",
        "relearned_answer_probability",
        "per_request_cost_s",
    ]
    header = ["method", "mean F.D.", "mean R.U.", "stream trade-off", "last F.D.", "last R.U."]
    header += ["relearned P", "s/request"]
    rows = []
    for label, entries in finals.items():
        cells = [label]
        for column in columns:
            values = [e[column] for e in entries if column in e]
            cells.append(f"{_mean(values):.3f}" if values else "-")
        rows.append(cells)
    return Table(
        title="Continual stream: means over the scored requests and the last one (seed means)",
        header=header,
        rows=rows,
    )


LLM_CONTINUAL_STREAM = facts_benchmark(
    name="llm-continual-stream",
    summary="A PCH stream of deletion requests served in order: F.D. and R.U. per request.",
    default_spec=_spec,
    run=run_continual,
    params_type=ContinualParams,
    metric_names=CONTINUAL_METRIC_NAMES,
    check=_check,
)
