"""``noisy-label-local``: local clustering with noisy labels, label-weighted flow vs baselines.

F1 against the target cluster as label noise grows, for each method (Back de Luca,
Fountoulakis, Yang, arXiv:2310.08031). Each trial draws a world and a seed node
uniformly from the target cluster; the flow methods' source mass is ``mass_factor`` ×
the target's volume in the graph diffused on (assumed known up to that factor), capped
at 0.8 of the graph's volume (a flow cannot settle above the total volume).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve

from graph_algos.benchmarks._common import mean_metric, mean_series
from graph_algos.methods.local import LabelledSeed
from graph_algos.metrics.local import f1_score
from graph_algos.worlds.noisy_labels import noisy_label_world

LOCAL_METHODS = (
    "weighted-flow",
    "unweighted-flow",
    "labels-only",
    "weighted-acl",
    "unweighted-acl",
)


class NoisyLabelWorldParams(StrictModel):
    """Planted partition (block 0 is the target) with labels flipped at rate η.

    Inside the target a label is 1 with probability 1 − η; outside with probability
    ``false_positive_scale`` · η (outside nodes far outnumber the target, so an equal
    rate would drown the labels).
    """

    cluster_size: int = Field(ge=10, le=10_000)
    clusters: int = Field(ge=2, le=200)
    p_in: float = Field(gt=0.0, le=1.0)
    p_out: float = Field(ge=0.0, lt=1.0)
    noise_levels: list[float] = Field(min_length=2)
    false_positive_scale: float = Field(default=0.25, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _fits(self) -> NoisyLabelWorldParams:
        bad = [eta for eta in self.noise_levels if not 0.0 <= eta <= 0.5]
        if bad:
            raise ValueError(f"noise_levels must lie in [0, 0.5], got {bad}")
        if self.p_out >= self.p_in:
            raise ValueError(
                f"need p_out < p_in for a target cluster, got {self.p_out} >= {self.p_in}"
            )
        return self


class NoisyLabelRun(StrictModel):
    """Worlds drawn per noise level and seed."""

    trials: int = Field(default=4, ge=1, le=500)


def noisy_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = NoisyLabelWorldParams(
            cluster_size=100,
            clusters=10,
            p_in=0.08,
            p_out=0.004,
            noise_levels=[0.0, 0.1, 0.2, 0.3, 0.4],
        )
        run, seeds = NoisyLabelRun(trials=6), [0]
        methods = ["weighted-flow", "unweighted-flow", "labels-only"]
    else:
        world = NoisyLabelWorldParams(
            cluster_size=200,
            clusters=20,
            p_in=0.05,
            p_out=0.002,
            noise_levels=[0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45],
        )
        run, seeds = NoisyLabelRun(trials=10), [0, 1, 2]
        methods = list(LOCAL_METHODS)
    world_part = ("noisy-label-sbm", world)
    return spec_from_parts(
        "noisy-label-local", size, seeds, world=world_part, methods=methods, params=run
    )


def run_noisy(
    parsed: ParsedSpec[NoisyLabelWorldParams, NoParams, NoisyLabelRun],
    progress: Progress,
    out_dir: str,
) -> BenchmarkResult:
    """F1 against the target cluster as label noise grows, for each method.

    Each trial draws a world and a seed node uniformly from the target cluster; the
    source mass is ``mass_factor`` × (target size × mean degree of the target in the
    graph diffused on), i.e. the target's volume is assumed known up to that factor,
    capped at 0.8 of the graph's volume (a flow cannot settle above the total volume).
    """
    del out_dir
    world, run, seeds = parsed.world, parsed.params, parsed.seeds
    methods = [method.name for method in parsed.methods]
    progress.start(len(seeds) * len(world.noise_levels) * run.trials, "worlds")
    scores: dict[tuple[str, float], list[float]] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for eta in world.noise_levels:
            for _ in range(run.trials):
                sample = noisy_label_world(
                    world.cluster_size,
                    world.clusters,
                    world.p_in,
                    world.p_out,
                    1.0 - eta,
                    world.false_positive_scale * eta,
                    rng,
                )
                task = LabelledSeed(int(rng.choice(sample.target)), sample.labels, sample.target)
                for method in parsed.methods:
                    found = method.spec.function(sample.adjacency, task, method.params)
                    scores.setdefault((method.name, eta), []).append(f1_score(found, sample.target))
                progress.advance(1, f"noise {eta}, seed {seed}")

    metrics = [
        mean_metric("f1", values, "higher", {"method": name, "noise": str(eta)})
        for (name, eta), values in scores.items()
    ]
    series = [
        mean_series(
            name,
            world.noise_levels,
            [scores[(name, eta)] for eta in world.noise_levels],
            spread=True,
        )
        for name in methods
    ]
    curves = [
        Curve(
            name="f1-vs-noise",
            title=f"Local clustering with noisy labels ({world.clusters} clusters of "
            f"{world.cluster_size}, p_in={world.p_in}, p_out={world.p_out})",
            x_label="label noise η (flip rate inside the target)",
            y_label="F1 against the target cluster",
            series=series,
        )
    ]
    notes: list[str] = []
    if {"weighted-flow", "unweighted-flow", "labels-only"} <= set(methods):
        beats = [
            eta
            for eta in world.noise_levels
            if np.mean(scores[("weighted-flow", eta)])
            > max(np.mean(scores[("unweighted-flow", eta)]), np.mean(scores[("labels-only", eta)]))
        ]
        notes.append(
            f"weighted flow diffusion has the best F1 of the three at noise levels {beats} "
            f"(of {world.noise_levels})."
        )
    for name in methods:
        mean = np.mean([np.mean(scores[(name, eta)]) for eta in world.noise_levels])
        notes.append(f"{name}: mean F1 over the noise grid {mean:.3f}.")
    return BenchmarkResult(metrics=metrics, curves=curves, notes=notes)
