"""The ``llm-copy-suppression`` benchmark: negative heads, their OV circuits, self-repair.

Checks the claims of McDougall et al., "Copy Suppression: Comprehensively Understanding
an Attention Head" (arXiv:2310.04625), on a model small enough to read head by head:
an attention-only transformer trained from scratch on the copy world of ``circuits/``
(no-repeat bigram walks, half of them followed by a noisy copy of their first half;
cached). For every head $(l, h)$ it measures, on held-out sequences:

1. **Ablation effect**: the mean change of $\\log p(t)$ of the naively copied token $t$
   when the head alone is mean- (or zero-) ablated, at two kinds of position: ``copy``
   (the copy half, where induction's prediction is right ``1 - copy_noise`` of the
   time) and ``walk`` (the walk's favourite next token is already in context, so it is
   never right). A **negative head** is one whose ablation raises $\\log p(t)$ by more
   than ``negative_threshold`` nats and whose direct effect on $t$ is negative.
2. **Direct logit attribution** of the head to $t$ (exact here: no LayerNorm, no MLPs).
3. **OV copy-suppression score** $\\mathrm{CS}_k$: the share of tokens whose own logit is
   among the $k$ most lowered outputs of $W_E W_V W_O W_U$ (the paper's 84.70 % for
   GPT-2's L10H7 at $k = 10$ of 50257), and the mirror copying score.
4. **Self-repair**: ablate the strongest copier (the head outside the last layer whose
   ablation lowers $\\log p(t)$ most at ``copy`` positions) and measure how much every
   later head's direct effect changes; the share of the copier's direct effect that is
   repaired, and the share of that repair given by negative heads.

Heatmaps per (layer, head): ablation effect at each kind of position, CS_k, the copying
score, and the compensation after the copier's ablation. Importing this module does not
import torch; ``run_copy_suppression`` does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Heatmap,
    MetricValue,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
    Table,
)
from unlearn_schema.recipes import spec_from_parts

from unlearn_llm.benchmarks._common import metric
from unlearn_llm.circuits.params import (
    Ablation,
    AttentionOnlyParams,
    CopyWorldParams,
    TargetKind,
    attention_model_params_for,
    copy_world_params_for,
)

if TYPE_CHECKING:
    import torch

    from unlearn_llm.circuits.model import Head

WORLD_NAME = "copy-world"
MODEL_NAME = "attention-only-tiny"
TARGET_KINDS: tuple[TargetKind, ...] = ("copy", "walk")


class CopySuppressionParams(StrictModel):
    """Evaluation size, the ablation, and the thresholds of the copy-suppression run."""

    eval_sequences: int = Field(default=512, ge=8, le=100_000, description="Held-out sequences.")
    ablation: Ablation = Field(default="mean", description="'mean' or 'zero' ablation of a head.")
    negative_threshold: float = Field(
        default=0.01,
        ge=0.0,
        le=10.0,
        description="Nats the copied token's log-probability must rise for a negative head.",
    )
    ov_bottom_k: int = Field(
        default=1, ge=1, le=4096, description="k of the OV copy-suppression score CS_k."
    )
    use_cache: bool = Field(default=True, description="Reuse a cached trained model.")


CopySpec = ParsedSpec[CopyWorldParams, AttentionOnlyParams, CopySuppressionParams]

METRIC_NAMES = frozenset(
    {
        "training_final_loss",
        "eval_loss",
        "naive_token_probability",
        "ablation_logprob_change",
        "direct_logit_attribution",
        "copy_suppression_score",
        "copying_score",
        "negative_head_count",
        "negative_head_copy_suppression_score",
        "other_head_copy_suppression_score",
        "copier_direct_effect",
        "copier_total_effect",
        "self_repair",
        "repaired_share",
        "negative_heads_share_of_repair",
        "compensation",
    }
)


def _spec(size: Size) -> BenchmarkSpec:
    run = CopySuppressionParams(eval_sequences=512 if size == "quick" else 2048)
    return spec_from_parts(
        "llm-copy-suppression",
        size,
        world=(WORLD_NAME, copy_world_params_for(size)),
        model=(MODEL_NAME, attention_model_params_for(size)),
        params=run,
    )


def _check(parsed: CopySpec) -> None:
    if parsed.params.ov_bottom_k > parsed.world.vocab_size:
        raise ValueError(
            f"params.ov_bottom_k {parsed.params.ov_bottom_k} must be at most the world's "
            f"vocab_size {parsed.world.vocab_size}"
        )
    if parsed.model.layers < 2:
        raise ValueError(
            f"model.layers {parsed.model.layers}: self-repair needs a head after the copier, "
            "so at least 2 layers"
        )


def _head_label(head: Head) -> str:
    return f"L{head[0]}H{head[1]}"


def _heatmap(name: str, title: str, z_label: str, values: torch.Tensor) -> Heatmap:
    layers, heads = values.shape
    return Heatmap(
        name=name,
        title=title,
        x_label="head",
        y_label="layer",
        z_label=z_label,
        x=[float(h) for h in range(heads)],
        y=[float(layer) for layer in range(layers)],
        z=[[float(v) for v in row] for row in values.tolist()],
    )


def run_copy_suppression(parsed: CopySpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Train (or load) the model, then ablate, attribute and score every head."""
    import numpy as np
    import torch

    from unlearn_llm.circuits.analysis import (
        SelfRepair,
        ablation_effects,
        all_heads,
        direct_logit_attribution,
        negative_heads,
        ov_scores,
        self_repair,
        targets_of,
    )
    from unlearn_llm.circuits.model import trained_copy_model

    del out_dir
    run, seed = parsed.params, parsed.seeds[0]
    timings: dict[str, float] = {}
    metrics: list[MetricValue] = []
    notes: list[str] = []
    heatmaps: list[Heatmap] = []
    progress.start(2 + len(TARGET_KINDS) + 2, "copy-suppression phases")

    start = time.perf_counter()
    trained = trained_copy_model(parsed.model, parsed.world, seed, run.use_cache)
    model = trained.model
    timings["train" if not trained.from_cache else "load"] = time.perf_counter() - start
    progress.advance(1, "model " + ("loaded" if trained.from_cache else "trained"))
    metrics.append(metric("training_final_loss", trained.log["final_loss"], "lower", {}))

    start = time.perf_counter()
    batch = trained.world.sample(run.eval_sequences, np.random.default_rng([seed, 2, 31337]))
    with torch.no_grad():
        logits = model(batch.tokens[:, :-1])
        eval_loss = float(
            torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), batch.tokens[:, 1:].reshape(-1)
            )
        )
    metrics.append(metric("eval_loss", eval_loss, "lower", {}))
    vocab = parsed.world.vocab_size
    notes.append(
        f"model {'loaded from cache' if trained.from_cache else 'trained'}: "
        f"{parsed.model.layers} layers x {parsed.model.heads} heads, d_model "
        f"{parsed.model.d_model}, {parsed.model.steps} steps; training loss "
        f"{trained.log['first_loss']:.3f} -> {trained.log['final_loss']:.3f}, held-out loss "
        f"{eval_loss:.3f} nats (uniform: {np.log(vocab):.3f})."
    )

    heads = all_heads(model)
    effects: dict[str, torch.Tensor] = {}
    attribution: dict[str, torch.Tensor] = {}
    for kind in TARGET_KINDS:
        at = targets_of(batch, kind)
        with torch.no_grad():
            forward = model.run(at.tokens)
            probability = forward.logits[at.rows, at.positions].softmax(-1)
            naive = float(probability.gather(1, at.target[:, None]).mean())
            attribution[kind] = direct_logit_attribution(model, forward, at).mean(dim=2)
        effects[kind] = ablation_effects(model, at, run.ablation).logprob
        labels: dict[str, str] = {"positions": kind}
        metrics.append(metric("naive_token_probability", naive, "none", labels))
        for head in heads:
            head_labels = {**labels, "head": _head_label(head)}
            metrics += [
                metric("ablation_logprob_change", float(effects[kind][head]), "none", head_labels),
                metric(
                    "direct_logit_attribution", float(attribution[kind][head]), "none", head_labels
                ),
            ]
        heatmaps.append(
            _heatmap(
                f"ablation-effect-{kind}",
                f"Change of log p(naively copied token) when one head is {run.ablation}-ablated "
                f"({kind} positions)",
                "delta log p (nats)",
                effects[kind],
            )
        )
        notes.append(
            f"{kind} positions: {len(at)} in {run.eval_sequences} sequences; the model gives the "
            f"naively copied token p = {naive:.3f} on average."
        )
        timings[f"ablation:{kind}"] = time.perf_counter() - start
        start = time.perf_counter()
        progress.advance(1, f"{kind} ablations")

    k = run.ov_bottom_k
    suppression, copying = ov_scores(model, k)
    heatmaps += [
        _heatmap(
            "ov-copy-suppression-score",
            f"OV copy-suppression score CS_{k} (own logit among the {k} most lowered)",
            f"CS_{k}",
            suppression,
        ),
        _heatmap(
            "ov-copying-score",
            f"OV copying score (own logit among the {k} most raised)",
            f"copying_{k}",
            copying,
        ),
    ]
    for head in heads:
        labels = {"head": _head_label(head), "k": str(k)}
        metrics += [
            metric("copy_suppression_score", float(suppression[head]), "none", labels),
            metric("copying_score", float(copying[head]), "none", labels),
        ]
    timings["ov-scores"] = time.perf_counter() - start
    progress.advance(1, "OV scores")

    chance = k / vocab
    found: dict[str, list[Head]] = {}
    for kind in TARGET_KINDS:
        found[kind] = negative_heads(effects[kind], run.negative_threshold, attribution[kind])
        labels = {"positions": str(kind)}
        metrics.append(metric("negative_head_count", len(found[kind]), "none", labels))
        others = [h for h in heads if h not in found[kind]]
        if found[kind]:
            mean_cs = float(np.mean([float(suppression[h]) for h in found[kind]]))
            metrics.append(
                metric(
                    "negative_head_copy_suppression_score",
                    mean_cs,
                    "none",
                    labels,
                    reference=chance,
                    reference_name=f"chance k/V = {k}/{vocab}",
                )
            )
        if others:
            metrics.append(
                metric(
                    "other_head_copy_suppression_score",
                    float(np.mean([float(suppression[h]) for h in others])),
                    "none",
                    labels,
                    reference=chance,
                    reference_name=f"chance k/V = {k}/{vocab}",
                )
            )
        listed = ", ".join(
            f"{_head_label(h)} (+{float(effects[kind][h]):.3f} nats, CS_{k} "
            f"{float(suppression[h]):.2f})"
            for h in found[kind]
        )
        notes.append(
            f"negative heads at {kind} positions (ablation raises log p of the copied token by "
            f"> {run.negative_threshold:g} nats, direct effect < 0): {listed or 'none'}; "
            f"CS_{k} chance level {chance:.3f}."
        )

    start = time.perf_counter()
    repairs: dict[str, SelfRepair] = {}
    upstream = [h for h in heads if h[0] < model.layer_count - 1]
    for kind in TARGET_KINDS:
        # the copier: the head with the largest direct effect towards the copied token
        # among those with a later layer to repair it
        copier = max(upstream, key=lambda h: float(attribution[kind][h]))
        repair = self_repair(model, targets_of(batch, kind), copier, run.ablation)
        repairs[kind] = repair
        labels = {"copier": _head_label(copier), "positions": str(kind)}
        repaired_by_negative = repair.share_of_repair(found[kind])
        metrics += [
            metric("copier_direct_effect", repair.direct_effect, "none", labels, unit="logit"),
            metric("copier_total_effect", repair.total_effect, "none", labels, unit="logit"),
            metric("self_repair", repair.self_repair, "none", labels, unit="logit"),
            metric("repaired_share", repair.repaired_share, "none", labels),
            metric("negative_heads_share_of_repair", repaired_by_negative, "none", labels),
        ]
        downstream = [h for h in heads if h[0] > copier[0]]
        for head in downstream:
            metrics.append(
                metric(
                    "compensation",
                    float(repair.compensation[head]),
                    "none",
                    {**labels, "head": _head_label(head)},
                    unit="logit",
                )
            )
        heatmaps.append(
            _heatmap(
                f"self-repair-compensation-{kind}",
                f"Change of each head's direct effect on the copied token when the copier "
                f"{_head_label(copier)} is {run.ablation}-ablated ({kind} positions)",
                "delta DLA (logit)",
                repair.compensation,
            )
        )
        ranked = sorted(downstream, key=lambda h: -float(repair.compensation[h]))
        top = ", ".join(
            f"{_head_label(h)} {float(repair.compensation[h]):+.3f}" for h in ranked[:3]
        )
        notes.append(
            f"self-repair at {kind} positions: {run.ablation}-ablating the copier "
            f"{_head_label(copier)} (largest direct effect outside the last layer) removes a "
            f"direct effect of {repair.direct_effect:+.3f} logits; the centred logit of the "
            f"copied token falls by {repair.total_effect:+.3f}, so self-repair DE - TE = "
            f"{repair.self_repair:+.3f} ({repair.repaired_share:.0%} of the direct effect"
            + (
                "; below 0: downstream heads lose with it, they read the copier"
                if repair.self_repair < 0
                else ""
            )
            + f"); largest compensations {top}; negative heads give {repaired_by_negative:.0%} "
            "of it."
        )
    timings["self-repair"] = time.perf_counter() - start
    progress.advance(1, "self-repair")

    rows = []
    for head in heads:
        negative = [kind for kind in TARGET_KINDS if head in found[kind]]
        compensations = [
            f"{float(repairs[kind].compensation[head]):+.3f}"
            if head[0] > repairs[kind].copier[0]
            else ""
            for kind in TARGET_KINDS
        ]
        rows.append(
            [
                _head_label(head),
                f"{float(effects['copy'][head]):+.3f}",
                f"{float(effects['walk'][head]):+.3f}",
                f"{float(attribution['copy'][head]):+.2f}",
                f"{float(attribution['walk'][head]):+.2f}",
                f"{float(suppression[head]):.2f}",
                f"{float(copying[head]):.2f}",
                ", ".join(negative) or "-",
                *compensations,
            ]
        )
    summary = Table(
        title=(
            f"Per head: {run.ablation}-ablation effect on log p(copied token), direct logit "
            f"attribution, OV scores (k = {k}), negative at which positions, compensation "
            "after ablating the copier"
        ),
        header=[
            "head",
            "ablation dlogp (copy)",
            "ablation dlogp (walk)",
            "DLA (copy)",
            "DLA (walk)",
            f"CS_{k}",
            f"copying_{k}",
            "negative at",
            *(
                f"compensation for {_head_label(repairs[kind].copier)} ({kind})"
                for kind in TARGET_KINDS
            ),
        ],
        rows=rows,
    )
    progress.advance(1, "done")
    return BenchmarkResult(
        metrics=metrics, heatmaps=heatmaps, timings=timings, notes=notes, summary=summary
    )


LLM_COPY_SUPPRESSION: Benchmark[CopyWorldParams, AttentionOnlyParams, CopySuppressionParams] = (
    Benchmark(
        name="llm-copy-suppression",
        summary=(
            "Copy suppression (arXiv:2310.04625) in a tiny attention-only transformer: negative "
            "heads by ablation, OV copy-suppression score, self-repair after ablating a copier."
        ),
        default_spec=_spec,
        run=run_copy_suppression,
        params_type=CopySuppressionParams,
        worlds={WORLD_NAME: CopyWorldParams},
        models={MODEL_NAME: AttentionOnlyParams},
        metric_names=METRIC_NAMES,
        max_seeds=1,
        check=_check,
        kind="quality",
        quick_budget_s=180.0,
    )
)
