"""``critical-nodes``: which nodes matter, by every selector, on one graph.

Dismantling (largest component after removing the top k) and spreading (cascade size
from the top k as seeds) for every selector, plus exact vs greedy critical node deletion
on a small G(n, q) and the share of driver nodes of an oriented random graph ("Critical
Nodes Identification in Complex Networks: A Survey", arXiv:2507.06164).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, JsonValue, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue

from graph_algos.benchmarks._common import mean_metric, mean_series
from graph_algos.methods.critical import BetweennessParams
from graph_algos.methods.influence import SpreadEstimator
from graph_algos.methods.selection import NodeSelection
from graph_algos.metrics.critical import (
    cascade_spread,
    driver_node_share,
    greedy_cnd_excess_pairs,
    largest_component_after_removal,
    two_hop_coverage,
)
from graph_algos.worlds.generators import barabasi_albert, erdos_renyi, stochastic_block_model

GraphFamily = Literal["barabasi-albert", "erdos-renyi", "sbm"]
CRITICAL_METHODS = (
    "degree",
    "betweenness",
    "closeness",
    "pagerank",
    "k-core",
    "collective-influence",
    "greedy-cnd",
    "celf",
    "reverse-reachable-sets",
    "rwcs",
    "gc-rwcs",
    "random",
)


class CriticalWorld(StrictModel):
    """The graph the critical nodes are looked for in, and the small graph for the ILP."""

    family: GraphFamily = "barabasi-albert"
    n: int = Field(ge=20, le=20_000)
    m: int = Field(default=2, ge=1, le=20, description="Barabási–Albert edges per new node.")
    mean_degree: float = Field(default=4.0, gt=0.0, le=100.0, description="For erdos-renyi/sbm.")
    ilp_n: int = Field(default=16, ge=6, le=30, description="Nodes of the G(n, q) solved exactly.")
    ilp_q: float = Field(default=0.2, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _fits(self) -> CriticalWorld:
        if self.family == "barabasi-albert" and self.m >= self.n:
            raise ValueError(f"m={self.m} must be below n={self.n}")
        if self.mean_degree >= self.n - 1:
            raise ValueError(f"mean_degree={self.mean_degree} must be below n-1={self.n - 1}")
        return self


class CriticalRun(StrictModel):
    """Budgets and the cascade the selections are judged by."""

    budgets: list[int] = Field(min_length=1, description="Numbers k of nodes removed / seeded.")
    cascade: Literal["ic", "lt"] = "ic"
    probability: float = Field(default=0.05, ge=0.0, le=1.0, description="IC edge probability.")
    spread_samples: int = Field(default=200, ge=10, le=10_000)
    greedy_max_n: int = Field(default=600, ge=10, description="Greedy CND only up to this n.")


def critical_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = CriticalWorld(n=500, m=2)
        run = CriticalRun(budgets=[5, 10, 25, 50], spread_samples=200)
        method_params: dict[str, dict[str, JsonValue]] = {"reverse-reachable-sets": {"sets": 20000}}
        seeds = [0]
    else:
        world = CriticalWorld(n=2000, m=2, ilp_n=20)
        run = CriticalRun(budgets=[10, 20, 50, 100, 200], spread_samples=500, greedy_max_n=2000)
        method_params = {
            "reverse-reachable-sets": {"sets": 100000},
            "betweenness": {"samples": 500},
        }
        seeds = [0, 1]
    return spec_from_parts(
        "critical-nodes",
        size,
        seeds,
        world=("critical-graph", world),
        methods=CRITICAL_METHODS,
        method_params=method_params,
        params=run,
    )


def check_budgets(parsed: ParsedSpec[CriticalWorld, NoParams, CriticalRun]) -> None:
    world, run = parsed.world, parsed.params
    problems = []
    bad = [k for k in run.budgets if not 1 <= k < world.n]
    if bad:
        problems.append(f"params.budgets: must lie in [1, world.params.n={world.n}), got {bad}")
    for index, method in enumerate(parsed.methods):
        params = method.params
        if isinstance(params, BetweennessParams) and (params.samples or 0) > world.n:
            problems.append(
                f"methods[{index}].params.samples: {params.samples} sources exceed the "
                f"world.params.n={world.n} nodes"
            )
    if problems:
        raise SpecError(problems)


def _critical_graph(world: CriticalWorld, rng: np.random.Generator) -> sp.csr_matrix:
    if world.family == "barabasi-albert":
        return barabasi_albert(world.n, world.m, rng)
    q = world.mean_degree / (world.n - 1)
    if world.family == "erdos-renyi":
        return erdos_renyi(world.n, q, rng)
    blocks = 5
    size = world.n // blocks
    inside = min(1.0, 0.8 * world.mean_degree / max(size - 1, 1))
    across = 0.2 * world.mean_degree / max(world.n - size, 1)
    matrix = np.full((blocks, blocks), across)
    np.fill_diagonal(matrix, inside)
    adjacency, _ = stochastic_block_model([size] * blocks, matrix, rng)
    return adjacency


def run_critical(
    parsed: ParsedSpec[CriticalWorld, NoParams, CriticalRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Which nodes matter: dismantling (largest component after removing the top k) and
    spreading (cascade size from the top k as seeds), plus exact vs greedy CND and the
    share of driver nodes.
    """
    del out_dir
    world, run, seeds = parsed.world, parsed.params, parsed.seeds
    methods = [method.name for method in parsed.methods]
    budget = max(run.budgets)
    progress.start(len(seeds) * (len(methods) + 2), "steps")
    lcc: dict[tuple[str, int], list[float]] = {}
    spread: dict[tuple[str, int], list[float]] = {}
    coverage: dict[tuple[str, int], list[float]] = {}
    ilp_gap: list[float] = []
    drivers: list[float] = []
    timings: dict[str, float] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        adjacency = _critical_graph(world, rng)
        estimator = SpreadEstimator(
            adjacency, run.cascade, run.probability, run.spread_samples, int(rng.integers(2**31))
        )
        # One problem for every selector: the random baseline draws from this run's
        # stream, CELF maximises the very estimator the selections are judged by.
        problem = NodeSelection(budget, run.cascade, run.probability, spread=estimator, rng=rng)
        for parsed_method in parsed.methods:
            method = parsed_method.name
            if method == "greedy-cnd" and world.n > run.greedy_max_n:
                progress.advance(1, f"{method} skipped (n > greedy_max_n)")
                continue
            started = time.perf_counter()
            ranking = parsed_method.spec.function(
                adjacency, problem, parsed_method.params, seed=seed
            )
            timings[method] = timings.get(method, 0.0) + time.perf_counter() - started
            for k in run.budgets:
                lcc.setdefault((method, k), []).append(
                    largest_component_after_removal(adjacency, ranking, k)
                )
                spread.setdefault((method, k), []).append(cascade_spread(estimator, ranking[:k]))
                coverage.setdefault((method, k), []).append(
                    two_hop_coverage(adjacency, ranking[:k])
                )
            progress.advance(1, f"{method}, seed {seed}")
        small = erdos_renyi(world.ilp_n, world.ilp_q, rng)
        ilp_gap.append(greedy_cnd_excess_pairs(small, max(1, world.ilp_n // 6)))
        progress.advance(1, f"exact ILP, seed {seed}")
        directed = sp.triu(erdos_renyi(world.n, world.mean_degree / (world.n - 1), rng)).tocsr()
        drivers.append(driver_node_share(directed))
        progress.advance(1, f"driver nodes, seed {seed}")

    share = "share of nodes"
    metrics: list[MetricValue] = []
    for (method, k), values in lcc.items():
        labels = {"method": method, "k": str(k)}
        metrics += [
            mean_metric("largest_component_after_removal", values, "lower", labels, unit=share),
            mean_metric(
                "cascade_spread",
                spread[(method, k)],
                "higher",
                {**labels, "cascade": run.cascade},
                unit=share,
            ),
            mean_metric("two_hop_coverage", coverage[(method, k)], "higher", labels, unit=share),
        ]
    metrics.append(
        mean_metric(
            "greedy_cnd_excess_pairs",
            ilp_gap,
            "lower",
            {"n": str(world.ilp_n), "q": str(world.ilp_q)},
            reference=0.0,
            reference_name="exact ILP optimum",
        )
    )
    graph = f"G(n={world.n}) oriented low→high, mean degree {world.mean_degree}"
    metrics.append(mean_metric("driver_node_share", drivers, "none", {"graph": graph}))
    ran = [m for m in methods if (m, run.budgets[0]) in lcc]

    def curve(
        name: str, title: str, y_label: str, table: dict[tuple[str, int], list[float]]
    ) -> Curve:
        return Curve(
            name=name,
            title=title,
            x_label="k (nodes chosen)",
            y_label=y_label,
            series=[mean_series(m, run.budgets, [table[(m, k)] for k in run.budgets]) for m in ran],
        )

    graph_name = f"{world.family}, n={world.n}"
    curves = [
        curve(
            "dismantling",
            f"Largest component after removing the top k ({graph_name})",
            "largest component / n",
            lcc,
        ),
        curve(
            "spreading",
            f"{run.cascade.upper()} cascade from the top k ({graph_name}, p={run.probability})",
            "expected infected / n",
            spread,
        ),
        curve(
            "coverage", f"Nodes within 2 hops of the top k ({graph_name})", "covered / n", coverage
        ),
    ]
    last = max(run.budgets)
    best_lcc = min(ran, key=lambda m: np.mean(lcc[(m, last)]))
    best_spread = max(ran, key=lambda m: np.mean(spread[(m, last)]))
    notes = [
        f"dismantling at k={last}: best {best_lcc} "
        f"(largest component {np.mean(lcc[(best_lcc, last)]):.3f} of n).",
        f"spreading at k={last}: best {best_spread} "
        f"({np.mean(spread[(best_spread, last)]):.3f} of n infected).",
        f"greedy CND leaves {np.mean(ilp_gap):.2f} more connected pairs than the exact ILP on "
        f"G({world.ilp_n}, {world.ilp_q}) with k={max(1, world.ilp_n // 6)}.",
        f"driver nodes: {np.mean(drivers):.3f} of the nodes of the oriented random graph.",
    ]
    return BenchmarkResult(
        metrics=metrics,
        curves=curves,
        notes=notes,
        timings={f"select {m}": t for m, t in timings.items()},
    )
