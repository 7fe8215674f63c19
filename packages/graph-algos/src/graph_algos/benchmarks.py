"""Benchmark recipes of graph-algos, registered under the ``unlearn.benchmarks`` group."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    Heatmap,
    MethodConfig,
    MethodParams,
    MetricValue,
    Progress,
    Series,
    Size,
    StrictModel,
    WorldSpec,
    validate_or_raise,
)

from graph_algos.generators import Subgraph, erdos_renyi, make_subgraph, planted_subgraph
from graph_algos.planted import (
    STATISTICS,
    count_signal_to_noise,
    degree_signal_to_noise,
    detection_power,
    false_alarm_rate,
)

SubgraphName = Literal["clique", "star", "path", "cycle", "tree", "dense"]
TestName = Literal["count-test", "degree-test"]


class PlantedWorld(StrictModel):
    """G(n, q) with and without a planted Γ whose edges have probability p."""

    n: int = Field(ge=10, le=50_000)
    q: float = Field(gt=0.0, lt=1.0)
    p: float = Field(gt=0.0, le=1.0)
    subgraphs: list[SubgraphName] = Field(min_length=1)
    sizes: list[int] = Field(min_length=1, description="Numbers k of vertices of Γ.")

    @model_validator(mode="after")
    def _sizes_fit(self) -> PlantedWorld:
        bad = [k for k in self.sizes if not 3 <= k <= self.n]
        if bad:
            raise ValueError(f"sizes must lie in [3, n={self.n}], got {bad}")
        if self.p <= self.q:
            raise ValueError(f"need p > q for a detectable plant, got p={self.p}, q={self.q}")
        return self


class PlantedRun(StrictModel):
    """Test level and Monte Carlo budget."""

    level: float = Field(default=0.05, gt=0.0, lt=0.5)
    trials: int = Field(default=100, ge=10, description="Planted graphs per (Γ, k) and seed.")
    null_trials: int = Field(
        default=200, ge=20, description="Null graphs per seed, for calibration and again for FAR."
    )


def _planted_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = PlantedWorld(
            n=1000,
            q=0.1,
            p=0.5,
            subgraphs=["clique", "star", "cycle", "dense"],
            sizes=[8, 16, 24, 32, 48, 64, 96, 128, 192, 256],
        )
        run = PlantedRun(trials=100, null_trials=200)
        seeds = [0]
    else:
        world = PlantedWorld(
            n=2000,
            q=0.05,
            p=0.3,
            subgraphs=list(get_args(SubgraphName)),
            sizes=[8, 16, 32, 64, 128, 256, 512, 1024],
        )
        run = PlantedRun(trials=200, null_trials=400)
        seeds = [0, 1, 2]
    return BenchmarkSpec(
        benchmark="planted-quickstart",
        size=size,
        seeds=seeds,
        world=WorldSpec(name="planted-gnq", params=world.model_dump()),
        methods=[MethodConfig(name="count-test"), MethodConfig(name="degree-test")],
        metrics=["detection-power", "false-alarm-rate"],
        params=run.model_dump(),
    )


def _parse(spec: BenchmarkSpec) -> tuple[PlantedWorld, PlantedRun, list[TestName]]:
    if spec.world is None or spec.world.name != "planted-gnq":
        raise ValueError("planted-quickstart needs world.name = 'planted-gnq'")
    world = validate_or_raise(PlantedWorld, spec.world.params, "world.params")
    run = validate_or_raise(PlantedRun, spec.params, "params")
    tests: list[TestName] = []
    for method in spec.methods or [
        MethodConfig(name="count-test"),
        MethodConfig(name="degree-test"),
    ]:
        if method.name not in STATISTICS:
            raise ValueError(
                f"unknown method {method.name!r} for planted-quickstart; "
                f"accepted: {', '.join(STATISTICS)}"
            )
        tests.append(method.name)  # type: ignore[arg-type]
    return world, run, tests


def _check_planted(spec: BenchmarkSpec) -> None:
    _parse(spec)


def _boundary_k(name: str, world: PlantedWorld, test: TestName) -> float | None:
    """Smallest k whose signal-to-noise ratio reaches 1 (the predicted boundary)."""
    for k in np.unique(np.geomspace(3, world.n, 80).astype(int)):
        pattern = make_subgraph(name, int(k), seed=0)
        if test == "count-test":
            snr = count_signal_to_noise(world.n, world.q, world.p, pattern.num_edges)
        else:
            snr = degree_signal_to_noise(world.n, world.q, world.p, pattern.max_degree)
        if snr >= 1.0:
            return float(k)
    return None


def run_planted(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Power and false-alarm rate of the count and degree tests over planted patterns.

    Per seed, each test's cut is calibrated on ``null_trials`` null graphs to the level
    α, its false-alarm rate is measured on as many fresh null graphs, and its power on
    ``trials`` planted graphs per (Γ, k).
    """
    del out_dir  # this recipe writes no artifacts; its plots are returned as curves
    world, run, tests = _parse(spec)
    combos = [(name, k) for name in world.subgraphs for k in world.sizes]
    progress.start(len(spec.seeds) * (2 * run.null_trials + len(combos) * run.trials), "graphs")

    power: dict[tuple[TestName, SubgraphName, int], list[float]] = {}
    alarms: dict[TestName, list[float]] = {test: [] for test in tests}
    for seed in spec.seeds:
        rng = np.random.default_rng(seed)
        null_values = {test: [] for test in tests}  # type: dict[TestName, list[float]]
        fresh_values = {test: [] for test in tests}  # type: dict[TestName, list[float]]
        for target in (null_values, fresh_values):
            for _ in range(run.null_trials):
                graph = erdos_renyi(world.n, world.q, rng)
                for test in tests:
                    target[test].append(STATISTICS[test](graph))
            progress.advance(run.null_trials, f"null graphs, seed {seed}")
        cuts = {
            test: float(np.quantile(null_values[test], 1 - run.level, method="higher"))
            for test in tests
        }
        for test in tests:
            alarms[test].append(false_alarm_rate(np.array(fresh_values[test]) > cuts[test]))
        for name, k in combos:
            pattern = make_subgraph(name, k, rng)
            decisions = {test: [] for test in tests}  # type: dict[TestName, list[bool]]
            for _ in range(run.trials):
                graph = planted_subgraph(world.n, world.q, world.p, pattern, rng).adjacency
                for test in tests:
                    decisions[test].append(STATISTICS[test](graph) > cuts[test])
            for test in tests:
                power.setdefault((test, name, k), []).append(detection_power(decisions[test]))
            progress.advance(run.trials, f"{name} k={k}, seed {seed}")

    metrics: list[MetricValue] = []
    for (test, subgraph, k), values in power.items():
        metrics.append(
            MetricValue(
                name="detection_power",
                value=float(np.mean(values)),
                direction="higher",
                labels={"test": test, "subgraph": subgraph, "k": str(k)},
            )
        )
    for test, values in alarms.items():
        metrics.append(
            MetricValue(
                name="false_alarm_rate",
                value=float(np.mean(values)),
                direction="lower",
                reference=run.level,
                reference_name="nominal level",
                labels={"test": test},
            )
        )

    curves: list[Curve] = []
    notes: list[str] = []
    for name in world.subgraphs:
        series = []
        vlines: dict[str, float] = {}
        first_detected: dict[str, int | None] = {}
        for test in tests:
            ys = [power[(test, name, k)] for k in world.sizes]
            series.append(
                Series(
                    label=test,
                    x=[float(k) for k in world.sizes],
                    y=[float(np.mean(v)) for v in ys],
                    y_err=[float(np.std(v)) for v in ys] if len(spec.seeds) > 1 else None,
                )
            )
            boundary = _boundary_k(name, world, test)
            if boundary is not None:
                vlines[f"{test} SNR=1"] = boundary
            detected = [k for k, v in zip(world.sizes, ys, strict=True) if np.mean(v) >= 0.8]
            first_detected[test] = detected[0] if detected else None
        curves.append(
            Curve(
                name=f"power-{name}",
                title=f"Planted {name} in G(n={world.n}, q={world.q}), p={world.p}",
                x_label="k (vertices of Γ)",
                y_label="detection power",
                series=series,
                hlines={"level α": run.level},
                vlines=vlines,
                log_x=True,
            )
        )
        reached = "; ".join(
            f"{test} from k={k}" if k is not None else f"{test} never"
            for test, k in first_detected.items()
        )
        mean_power = ", ".join(
            f"{test} {np.mean([np.mean(power[(test, name, k)]) for k in world.sizes]):.2f}"
            for test in tests
        )
        notes.append(
            f"{name}: power >= 0.8 reached by {reached} (k <= {max(world.sizes)}); "
            f"mean power over the k grid: {mean_power}."
        )
    return BenchmarkResult(metrics=metrics, curves=curves, notes=notes)


PLANTED_QUICKSTART = Benchmark(
    name="planted-quickstart",
    summary="Count vs degree test for planted cliques, stars, cycles, dense subgraphs in G(n, q).",
    default_spec=_planted_spec,
    run=run_planted,
    check=_check_planted,
    quick_budget_s=60.0,
)


# ----------------------------------------------------------------- shared helpers


def _method_names(spec: BenchmarkSpec, accepted: tuple[str, ...], benchmark: str) -> list[str]:
    names = [m.name for m in spec.methods] or list(accepted)
    bad = [name for name in names if name not in accepted]
    if bad:
        raise ValueError(
            f"unknown method {bad[0]!r} for {benchmark}; accepted: {', '.join(accepted)}"
        )
    return names


def _world(spec: BenchmarkSpec, name: str, benchmark: str) -> WorldSpec:
    if spec.world is None or spec.world.name != name:
        got = spec.world.name if spec.world else None
        raise ValueError(f"{benchmark} needs world.name = {name!r}, got {got!r}")
    return spec.world


# --------------------------------------------------------- hierarchical communities

HierarchyMethod = Literal["bottom-up", "top-down"]
HIERARCHY_METHODS: tuple[str, ...] = get_args(HierarchyMethod)


class HierarchyWorld(StrictModel):
    """Hierarchical SBM on a full binary tree of depth L, swept over two knobs.

    Level probabilities: depth 0 (across the root) = ``cousin_probability``; depth ℓ
    for 0 < ℓ < L = cousin + ℓ · gap; depth L (inside a leaf) = one of
    ``leaf_probabilities``. ``gaps`` is the x axis of the phase diagram.
    """

    community_size: int = Field(ge=10, le=5000)
    depth: int = Field(default=2, ge=2, le=4)
    cousin_probability: float = Field(ge=0.0, le=1.0)
    gaps: list[float] = Field(min_length=2)
    leaf_probabilities: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _probabilities_fit(self) -> HierarchyWorld:
        for gap in self.gaps:
            if gap < 0:
                raise ValueError(f"gaps must be non-negative, got {gap}")
            for leaf in self.leaf_probabilities:
                levels = self.levels(leaf, gap)
                if not all(0.0 <= p <= 1.0 for p in levels):
                    raise ValueError(
                        f"gap={gap}, leaf={leaf} give level probabilities {levels} outside [0, 1]"
                    )
                if levels[-1] <= levels[-2]:
                    raise ValueError(
                        f"leaf probability {leaf} must exceed the sibling probability "
                        f"{levels[-2]} (cousin + (depth-1)·gap) for leaf communities to exist"
                    )
        return self

    def levels(self, leaf: float, gap: float) -> list[float]:
        inner = [self.cousin_probability + level * gap for level in range(self.depth)]
        return [*inner, leaf]


class BottomUpParams(MethodParams):
    """Bottom-up: the number of finest communities (None: Bethe-Hessian estimate)."""

    communities: int | None = Field(default=None, ge=2, le=256)


class TopDownParams(MethodParams):
    """Top-down: smallest part that may still be split, and the deepest split."""

    min_size: int = Field(default=8, ge=2, le=10_000)
    max_depth: int = Field(default=12, ge=1, le=30)


class HierarchyRun(StrictModel):
    """Monte Carlo budget of the hierarchy sweep."""

    trials: int = Field(default=4, ge=1, le=200)


def _hierarchy_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = HierarchyWorld(
            community_size=100,
            depth=3,
            cousin_probability=0.02,
            gaps=[0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02],
            leaf_probabilities=[0.2, 0.3],
        )
        run = HierarchyRun(trials=8)
        seeds = [0]
    else:
        world = HierarchyWorld(
            community_size=150,
            depth=3,
            cousin_probability=0.02,
            gaps=[0.0, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05],
            leaf_probabilities=[0.15, 0.2, 0.3],
        )
        run = HierarchyRun(trials=10)
        seeds = [0, 1]
    return BenchmarkSpec(
        benchmark="hierarchy-phase",
        size=size,
        seeds=seeds,
        world=WorldSpec(name="hierarchical-sbm", params=world.model_dump()),
        methods=[MethodConfig(name=name) for name in HIERARCHY_METHODS],
        metrics=["exact-recovery", "tree-recovery", "dendrogram-inversions"],
        params=run.model_dump(),
    )


def _parse_hierarchy(
    spec: BenchmarkSpec,
) -> tuple[HierarchyWorld, HierarchyRun, dict[str, BottomUpParams | TopDownParams]]:
    world_spec = _world(spec, "hierarchical-sbm", "hierarchy-phase")
    world = validate_or_raise(HierarchyWorld, world_spec.params, "world.params")
    run = validate_or_raise(HierarchyRun, spec.params, "params")
    _method_names(spec, HIERARCHY_METHODS, "hierarchy-phase")
    configs = spec.methods or [MethodConfig(name=name) for name in HIERARCHY_METHODS]
    methods: dict[str, BottomUpParams | TopDownParams] = {}
    for config in configs:
        source = f"methods[{config.name}].params"
        if config.name == "bottom-up":
            methods[config.name] = validate_or_raise(BottomUpParams, config.params, source)
        else:
            methods[config.name] = validate_or_raise(TopDownParams, config.params, source)
    return world, run, methods


def run_hierarchy(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Exact recovery per level, tree recovery and inversions of bottom-up vs top-down.

    For every (leaf probability, gap) cell, ``trials`` hierarchical SBMs per seed are
    clustered by each method; a cell's value is the share of graphs recovered exactly.
    """
    from graph_algos.generators import hierarchical_sbm
    from graph_algos.hierarchy import (
        bottom_up,
        exact_recovery_by_depth,
        leaf_divergence_ratio,
        linkage_gap_boundary,
        top_down,
        tree_recovered,
    )

    del out_dir
    world, run, methods = _parse_hierarchy(spec)
    cells = [(leaf, gap) for leaf in world.leaf_probabilities for gap in world.gaps]
    progress.start(len(spec.seeds) * len(cells) * run.trials, "graphs")
    recovery: dict[tuple[str, float, float], list[list[bool]]] = {}
    trees: dict[tuple[str, float, float], list[bool]] = {}
    inversions: dict[str, list[int]] = {m: [] for m in methods}
    for seed in spec.seeds:
        rng = np.random.default_rng(seed)
        for leaf, gap in cells:
            for _ in range(run.trials):
                levels = world.levels(leaf, gap)
                adjacency, labels = hierarchical_sbm(world.community_size, levels, rng)
                graph_seed = int(rng.integers(2**31))
                for method, params in methods.items():
                    if isinstance(params, BottomUpParams):
                        tree = bottom_up(adjacency, k=params.communities, seed=graph_seed)
                    else:
                        tree = top_down(
                            adjacency,
                            min_size=params.min_size,
                            max_depth=params.max_depth,
                            seed=graph_seed,
                        )
                    recovered = exact_recovery_by_depth(tree, labels, world.depth)
                    recovery.setdefault((method, leaf, gap), []).append(recovered)
                    trees.setdefault((method, leaf, gap), []).append(
                        tree_recovered(tree, labels, world.depth)
                    )
                    inversions[method].append(tree.inversions())
                progress.advance(1, f"leaf p={leaf}, gap={gap}, seed {seed}")

    metrics: list[MetricValue] = []
    for (method, leaf, gap), rows in recovery.items():
        by_level = np.mean(np.array(rows, dtype=float), axis=0)
        cell = {"method": method, "leaf_p": str(leaf), "gap": str(gap)}
        for level, value in enumerate(by_level, start=1):
            metrics.append(
                MetricValue(
                    name="exact_recovery",
                    value=float(value),
                    direction="higher",
                    labels={**cell, "level": str(level)},
                )
            )
        metrics.append(
            MetricValue(
                name="tree_recovery",
                value=float(np.mean(trees[(method, leaf, gap)])),
                direction="higher",
                labels=cell,
            )
        )
    for method, counts in inversions.items():
        metrics.append(
            MetricValue(
                name="dendrogram_inversions",
                value=float(np.mean(counts)),
                direction="lower",
                labels={"method": method},
            )
        )

    curves: list[Curve] = []
    heatmaps: list[Heatmap] = []
    notes: list[str] = []
    boundaries = {
        level: linkage_gap_boundary(world.cousin_probability, world.community_size, level)
        for level in range(1, world.depth + 1)
    }
    for level in range(1, world.depth + 1):
        boundary = boundaries[level]
        for method in methods:
            heatmaps.append(
                Heatmap(
                    name=f"phase-diagram-level{level}-{method}",
                    title=f"{method}: share of graphs with the depth-{level} partition exact",
                    x_label="gap between successive level probabilities",
                    y_label="leaf (within-community) probability",
                    z_label="share exact",
                    x=list(world.gaps),
                    y=list(world.leaf_probabilities),
                    z=[
                        [
                            float(np.mean([r[level - 1] for r in recovery[(method, leaf, gap)]]))
                            for gap in world.gaps
                        ]
                        for leaf in world.leaf_probabilities
                    ],
                    z_range=(0.0, 1.0),
                    contours={
                        "linkage SNR = 1": [(boundary, leaf) for leaf in world.leaf_probabilities]
                    }
                    if level < world.depth and world.gaps[0] <= boundary <= world.gaps[-1]
                    else {},
                )
            )
            series = [
                Series(
                    label=f"leaf p={leaf}",
                    x=list(world.gaps),
                    y=[
                        float(np.mean([r[level - 1] for r in recovery[(method, leaf, gap)]]))
                        for gap in world.gaps
                    ],
                )
                for leaf in world.leaf_probabilities
            ]
            curves.append(
                Curve(
                    name=f"phase-level{level}-{method}",
                    title=f"{method}: exact recovery at depth {level} "
                    f"(n={world.community_size * 2**world.depth}, "
                    f"cousin p={world.cousin_probability})",
                    x_label="gap between successive level probabilities",
                    y_label=f"share of graphs with depth-{level} partition exact",
                    series=series,
                )
            )
    for level in range(1, world.depth):
        wins = [
            (leaf, gap)
            for leaf, gap in cells
            if len(methods) == 2
            and np.mean([r[level - 1] for r in recovery[("bottom-up", leaf, gap)]]) >= 0.9
            and np.mean([r[level - 1] for r in recovery[("top-down", leaf, gap)]]) < 0.5
        ]
        losses = [
            (leaf, gap)
            for leaf, gap in cells
            if len(methods) == 2
            and np.mean([r[level - 1] for r in recovery[("top-down", leaf, gap)]]) >= 0.9
            and np.mean([r[level - 1] for r in recovery[("bottom-up", leaf, gap)]]) < 0.5
        ]
        if len(methods) == 2:
            notes.append(
                f"depth {level}: bottom-up recovers (>= 90%) where top-down fails (< 50%) in "
                f"{len(wins)} of {len(cells)} cells {wins}; the reverse in {len(losses)} cells."
            )
    for level in range(1, world.depth):
        for leaf in world.leaf_probabilities:
            onsets = []
            for method in methods:
                reached = [
                    gap
                    for gap in world.gaps
                    if np.mean([r[level - 1] for r in recovery[(method, leaf, gap)]]) >= 0.9
                ]
                onsets.append(f"{method} from gap {reached[0]}" if reached else f"{method} never")
            notes.append(
                f"depth {level}, leaf p={leaf}: exact recovery in >= 90% of graphs "
                + "; ".join(onsets)
                + "."
            )
    for level in range(1, world.depth):
        boundary = boundaries[level]
        notes.append(
            f"depth {level}: the linkage step's signal-to-noise reaches one at gap "
            f"{boundary:.4f} (sqrt(2q(1-q))/s; drawn on the phase diagrams)."
        )
    ratios = {
        (leaf, gap): leaf_divergence_ratio(world.levels(leaf, gap), world.community_size)
        for leaf, gap in cells
    }
    below = [cell for cell, ratio in ratios.items() if ratio <= 1.0]
    notes.append(
        "finest communities: min Chernoff-Hellinger divergence / log n between leaves is "
        f"{min(ratios.values()):.2f}-{max(ratios.values()):.2f} over the grid; "
        + (
            "above one everywhere, so the leaves are exactly recoverable in every cell and "
            "what separates the methods is how they merge them."
            if not below
            else f"at or below one in {len(below)} of {len(cells)} cells (leaf p, gap) "
            f"{below}, where even the finest communities are not exactly recoverable."
        )
    )
    for method in methods:
        notes.append(
            f"{method}: {np.mean(inversions[method]):.3f} dendrogram inversions per graph "
            "on average."
        )
    return BenchmarkResult(metrics=metrics, curves=curves, heatmaps=heatmaps, notes=notes)


def _check_hierarchy(spec: BenchmarkSpec) -> None:
    _parse_hierarchy(spec)


HIERARCHY_PHASE = Benchmark(
    name="hierarchy-phase",
    summary="Bottom-up vs top-down hierarchical community detection on hierarchical SBMs.",
    default_spec=_hierarchy_spec,
    run=run_hierarchy,
    check=_check_hierarchy,
    quick_budget_s=90.0,
)


# ------------------------------------------------------- local clustering, noisy labels

LocalMethod = Literal[
    "weighted-flow", "unweighted-flow", "labels-only", "weighted-acl", "unweighted-acl"
]
LOCAL_METHODS: tuple[str, ...] = get_args(LocalMethod)


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


class LocalMethodParams(MethodParams):
    """Knobs of the diffusions: edge weight ε off the positive labels, source mass."""

    epsilon: float = Field(
        default=0.05, gt=0.0, le=1.0, description="Weight of non-positive edges."
    )
    mass_factor: float = Field(
        default=1.5, gt=0.0, le=20.0, description="Source mass = factor × estimated target volume."
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="ACL teleport probability.")
    push_epsilon: float = Field(default=1e-4, gt=0.0, lt=1.0, description="ACL tolerance.")


class NoisyLabelRun(StrictModel):
    trials: int = Field(default=4, ge=1, le=500)


def _noisy_spec(size: Size) -> BenchmarkSpec:
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
    return BenchmarkSpec(
        benchmark="noisy-label-local",
        size=size,
        seeds=seeds,
        world=WorldSpec(name="noisy-label-sbm", params=world.model_dump()),
        methods=[MethodConfig(name=name) for name in methods],
        metrics=["f1-score"],
        params=run.model_dump(),
    )


def _parse_noisy(
    spec: BenchmarkSpec,
) -> tuple[NoisyLabelWorldParams, NoisyLabelRun, dict[str, LocalMethodParams]]:
    world_spec = _world(spec, "noisy-label-sbm", "noisy-label-local")
    world = validate_or_raise(NoisyLabelWorldParams, world_spec.params, "world.params")
    run = validate_or_raise(NoisyLabelRun, spec.params, "params")
    _method_names(spec, LOCAL_METHODS, "noisy-label-local")
    configs = spec.methods or [MethodConfig(name=name) for name in LOCAL_METHODS]
    methods = {
        m.name: validate_or_raise(LocalMethodParams, m.params, f"methods[{m.name}].params")
        for m in configs
    }
    return world, run, methods


def run_noisy(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """F1 against the target cluster as label noise grows, for each method.

    Each trial draws a world and a seed node uniformly from the target cluster; the
    source mass is ``mass_factor`` × (target size × mean degree of the target in the
    graph diffused on), i.e. the target's volume is assumed known up to that factor,
    capped at 0.8 of the graph's volume (a flow cannot settle above the total volume).
    """
    from graph_algos.kernels import degrees
    from graph_algos.local import f1_score, label_weighted_graph, local_cluster, noisy_label_world

    del out_dir
    world, run, methods = _parse_noisy(spec)
    progress.start(len(spec.seeds) * len(world.noise_levels) * run.trials, "worlds")
    scores: dict[tuple[str, float], list[float]] = {}
    for seed in spec.seeds:
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
                start = int(rng.choice(sample.target))
                for name, params in methods.items():
                    if name == "labels-only":
                        found = np.flatnonzero(sample.labels).tolist()
                    else:
                        graph = (
                            label_weighted_graph(sample.adjacency, sample.labels, params.epsilon)
                            if name.startswith("weighted")
                            else sample.adjacency
                        )
                        if name.endswith("flow"):
                            volume = world.cluster_size * degrees(graph)[sample.target].mean()
                            # Mass near the whole graph's volume cannot settle; cap it.
                            mass = min(params.mass_factor * volume, 0.8 * graph.sum())
                            found = local_cluster(graph, start, "flow", source_mass=mass)
                        else:
                            found = local_cluster(
                                graph, start, "acl", alpha=params.alpha, epsilon=params.push_epsilon
                            )
                    scores.setdefault((name, eta), []).append(f1_score(found, sample.target))
                progress.advance(1, f"noise {eta}, seed {seed}")

    metrics = [
        MetricValue(
            name="f1",
            value=float(np.mean(values)),
            direction="higher",
            labels={"method": name, "noise": str(eta)},
        )
        for (name, eta), values in scores.items()
    ]
    series = [
        Series(
            label=name,
            x=list(world.noise_levels),
            y=[float(np.mean(scores[(name, eta)])) for eta in world.noise_levels],
            y_err=[float(np.std(scores[(name, eta)])) for eta in world.noise_levels],
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


def _check_noisy(spec: BenchmarkSpec) -> None:
    _parse_noisy(spec)


NOISY_LABEL_LOCAL = Benchmark(
    name="noisy-label-local",
    summary="Local clustering with noisy labels: label-weighted flow diffusion vs baselines.",
    default_spec=_noisy_spec,
    run=run_noisy,
    check=_check_noisy,
    quick_budget_s=120.0,
)


# ----------------------------------------------------------- planted-subgraph power

PowerTest = Literal["count-test", "degree-test", "scan-test"]
POWER_TESTS: tuple[str, ...] = get_args(PowerTest)


class PlantedPowerWorld(StrictModel):
    """A grid over (n, q) for the count and degree tests, and a small-n scan grid.

    Every (Γ, n, q) gets a power curve over ``sizes``; the scan test runs only on the
    ``scan_n`` graphs, over ``scan_sizes`` (its cost is n!/(n−k)! placements).
    """

    ns: list[int] = Field(min_length=1)
    qs: list[float] = Field(min_length=1)
    p: float = Field(gt=0.0, le=1.0)
    subgraphs: list[SubgraphName] = Field(min_length=1)
    sizes: list[int] = Field(min_length=2)
    scan_n: int = Field(default=12, ge=5, le=16)
    scan_q: float = Field(default=0.08, gt=0.0, lt=1.0)
    scan_p: float = Field(default=1.0, gt=0.0, le=1.0)
    scan_subgraphs: list[SubgraphName] = Field(default=["cycle", "clique"], min_length=1)
    scan_sizes: list[int] = Field(default=[3, 4, 5], min_length=1)

    @model_validator(mode="after")
    def _fits(self) -> PlantedPowerWorld:
        for n in self.ns:
            if not 10 <= n <= 50_000:
                raise ValueError(f"ns must lie in [10, 50000], got {n}")
            bad = [k for k in self.sizes if not 3 <= k <= n]
            if bad:
                raise ValueError(f"sizes must lie in [3, n={n}], got {bad}")
        for q in self.qs:
            if not 0.0 < q < self.p:
                raise ValueError(f"each q must lie in (0, p={self.p}), got {q}")
        bad = [k for k in self.scan_sizes if not 3 <= k <= min(6, self.scan_n)]
        if bad:
            raise ValueError(f"scan_sizes must lie in [3, min(6, scan_n)], got {bad}")
        if self.scan_q >= self.scan_p:
            raise ValueError(f"need scan_q < scan_p, got {self.scan_q} >= {self.scan_p}")
        return self


def _planted_power_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = PlantedPowerWorld(
            ns=[300, 1000],
            qs=[0.05, 0.2],
            p=0.5,
            subgraphs=["clique", "star"],
            sizes=[8, 16, 32, 64, 128],
        )
        run = PlantedRun(trials=40, null_trials=80)
        seeds = [0]
    else:
        # Sized for the nightly run: about 10 minutes on 2 cores.
        world = PlantedPowerWorld(
            ns=[1000, 3000],
            qs=[0.02, 0.1],
            p=0.5,
            subgraphs=["clique", "star", "tree", "dense"],
            sizes=[8, 16, 32, 64, 128, 256, 512],
            scan_n=13,
        )
        run = PlantedRun(trials=100, null_trials=200)
        seeds = [0]
    return BenchmarkSpec(
        benchmark="planted-power",
        size=size,
        seeds=seeds,
        world=WorldSpec(name="planted-grid", params=world.model_dump()),
        methods=[MethodConfig(name=name) for name in POWER_TESTS],
        metrics=["detection-power", "false-alarm-rate"],
        params=run.model_dump(),
    )


def _parse_power(spec: BenchmarkSpec) -> tuple[PlantedPowerWorld, PlantedRun, list[str]]:
    world_spec = _world(spec, "planted-grid", "planted-power")
    world = validate_or_raise(PlantedPowerWorld, world_spec.params, "world.params")
    run = validate_or_raise(PlantedRun, spec.params, "params")
    return world, run, _method_names(spec, POWER_TESTS, "planted-power")


def _power_grid(
    statistics: Mapping[str, Callable[[sp.spmatrix], float]],
    n: int,
    q: float,
    p: float,
    patterns: list[Subgraph],
    run: PlantedRun,
    rng: np.random.Generator,
) -> tuple[dict[tuple[str, str, int], float], dict[str, float]]:
    """Calibrate each statistic on null graphs, then measure power per pattern."""
    null: dict[str, list[float]] = {name: [] for name in statistics}
    fresh: dict[str, list[float]] = {name: [] for name in statistics}
    for target in (null, fresh):
        for _ in range(run.null_trials):
            graph = erdos_renyi(n, q, rng)
            for name, statistic in statistics.items():
                target[name].append(statistic(graph))
    cuts = {
        name: float(np.quantile(values, 1 - run.level, method="higher"))
        for name, values in null.items()
    }
    alarms = {name: float(np.mean(np.array(fresh[name]) > cuts[name])) for name in statistics}
    power: dict[tuple[str, str, int], float] = {}
    for pattern in patterns:
        hits = {name: 0 for name in statistics}
        for _ in range(run.trials):
            graph = planted_subgraph(n, q, p, pattern, rng).adjacency
            for name, statistic in statistics.items():
                hits[name] += statistic(graph) > cuts[name]
        for name in statistics:
            power[(name, pattern.name, pattern.k)] = hits[name] / run.trials
    return power, alarms


def run_planted_power(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Power curves of the count, degree and scan tests over (n, q, Γ, k) at level α.

    Thresholds drawn on each curve: the k at which the count and degree signal-to-noise
    ratios of the paper's dense-regime analysis reach one (and, for the scan grid, our
    union-bound scan boundary).
    """
    from graph_algos.planted import (
        edge_count,
        max_degree,
        scan_signal_to_noise,
        scan_statistic,
    )

    del out_dir
    world, run, tests = _parse_power(spec)
    big = [t for t in tests if t != "scan-test"]
    cells = [(n, q) for n in world.ns for q in world.qs] if big else []
    scan_on = "scan-test" in tests
    per_cell = 2 * run.null_trials + len(world.subgraphs) * len(world.sizes) * run.trials
    per_scan = 2 * run.null_trials + len(world.scan_subgraphs) * len(world.scan_sizes) * run.trials
    total = len(spec.seeds) * (len(cells) * per_cell + (per_scan if scan_on else 0))
    progress.start(total, "graphs")
    base_statistics = {"count-test": edge_count, "degree-test": max_degree}

    power: dict[tuple[str, int, float, str, int], list[float]] = {}
    alarms: dict[tuple[str, int, float], list[float]] = {}
    for seed in spec.seeds:
        rng = np.random.default_rng(seed)
        for n, q in cells:
            patterns = [
                make_subgraph(name, k, rng) for name in world.subgraphs for k in world.sizes
            ]
            statistics = {t: base_statistics[t] for t in big}
            cell_power, cell_alarms = _power_grid(statistics, n, q, world.p, patterns, run, rng)
            for (test, name, k), value in cell_power.items():
                power.setdefault((test, n, q, name, k), []).append(value)
            for test, value in cell_alarms.items():
                alarms.setdefault((test, n, q), []).append(value)
            progress.advance(per_cell, f"n={n}, q={q}, seed {seed}")
        if scan_on:
            for name in world.scan_subgraphs:
                for k in world.scan_sizes:
                    pattern = make_subgraph(name, k, rng)
                    scan_statistics: dict[str, Callable[[sp.spmatrix], float]] = {
                        "scan-test": lambda g, pattern=pattern: scan_statistic(g, pattern),  # type: ignore[misc]
                        **{t: base_statistics[t] for t in big},
                    }
                    cell_power, cell_alarms = _power_grid(
                        scan_statistics,
                        world.scan_n,
                        world.scan_q,
                        world.scan_p,
                        [pattern],
                        run,
                        rng,
                    )
                    for (test, pname, pk), value in cell_power.items():
                        power.setdefault((test, world.scan_n, world.scan_q, pname, pk), []).append(
                            value
                        )
                    for test, value in cell_alarms.items():
                        key = (f"{test} ({name}, k={k})", world.scan_n, world.scan_q)
                        alarms.setdefault(key, []).append(value)
            progress.advance(per_scan, f"scan grid, seed {seed}")

    metrics: list[MetricValue] = []
    for (test, n, q, name, k), values in power.items():
        metrics.append(
            MetricValue(
                name="detection_power",
                value=float(np.mean(values)),
                direction="higher",
                labels={"test": test, "n": str(n), "q": str(q), "subgraph": name, "k": str(k)},
            )
        )
    for (test, n, q), values in alarms.items():
        metrics.append(
            MetricValue(
                name="false_alarm_rate",
                value=float(np.mean(values)),
                direction="lower",
                reference=run.level,
                reference_name="nominal level",
                labels={"test": test, "n": str(n), "q": str(q)},
            )
        )

    curves: list[Curve] = []
    notes: list[str] = []
    for n, q in cells:
        for name in world.subgraphs:
            planted = PlantedWorld(n=n, q=q, p=world.p, subgraphs=[name], sizes=[3])
            vlines = {}
            for test in big:
                boundary = _boundary_k(name, planted, test)  # type: ignore[arg-type]
                if boundary is not None:
                    vlines[f"{test} SNR=1"] = boundary
            series = [
                Series(
                    label=test,
                    x=[float(k) for k in world.sizes],
                    y=[float(np.mean(power[(test, n, q, name, k)])) for k in world.sizes],
                )
                for test in big
            ]
            curves.append(
                Curve(
                    name=f"power-{name}-n{n}-q{q}",
                    title=f"Planted {name} in G(n={n}, q={q}), p={world.p}",
                    x_label="k (vertices of Γ)",
                    y_label="detection power",
                    series=series,
                    hlines={"level α": run.level},
                    vlines=vlines,
                    log_x=True,
                )
            )
            agree = []
            for test in big:
                boundary = vlines.get(f"{test} SNR=1")
                above = [k for k in world.sizes if boundary is not None and k >= 2 * boundary]
                if above:
                    mean_above = np.mean([np.mean(power[(test, n, q, name, k)]) for k in above])
                    agree.append(f"{test} power {mean_above:.2f} at k >= 2x its SNR=1 point")
            if agree:
                notes.append(f"{name}, n={n}, q={q}: " + "; ".join(agree) + ".")
    if scan_on:
        for name in world.scan_subgraphs:
            series = [
                Series(
                    label=test,
                    x=[float(k) for k in world.scan_sizes],
                    y=[
                        float(np.mean(power[(test, world.scan_n, world.scan_q, name, k)]))
                        for k in world.scan_sizes
                    ],
                )
                for test in ["scan-test", *big]
            ]
            snr_k = [
                k
                for k in range(3, world.scan_n + 1)
                if scan_signal_to_noise(
                    world.scan_n,
                    world.scan_q,
                    world.scan_p,
                    make_subgraph(name, k, 0).num_edges,
                    k,
                )
                >= 1.0
            ]
            curves.append(
                Curve(
                    name=f"scan-{name}",
                    title=f"Scan vs count/degree: planted {name} in "
                    f"G(n={world.scan_n}, q={world.scan_q}), p={world.scan_p}",
                    x_label="k (vertices of Γ)",
                    y_label="detection power",
                    series=series,
                    hlines={"level α": run.level},
                    vlines={"scan union-bound SNR=1": float(snr_k[0])} if snr_k else {},
                )
            )
            scan_mean = np.mean(
                [
                    np.mean(power[("scan-test", world.scan_n, world.scan_q, name, k)])
                    for k in world.scan_sizes
                ]
            )
            others = ", ".join(
                f"{t} "
                + format(
                    np.mean(
                        [
                            np.mean(power[(t, world.scan_n, world.scan_q, name, k)])
                            for k in world.scan_sizes
                        ]
                    ),
                    ".2f",
                )
                for t in big
            )
            notes.append(
                f"scan grid, {name}: mean power scan-test {scan_mean:.2f}"
                + (f", {others}" if others else "")
                + "."
            )
    return BenchmarkResult(metrics=metrics, curves=curves, notes=notes)


def _check_power(spec: BenchmarkSpec) -> None:
    _parse_power(spec)


PLANTED_POWER = Benchmark(
    name="planted-power",
    summary="Power curves of count, degree and scan tests over (n, q, Γ, k), thresholds drawn.",
    default_spec=_planted_power_spec,
    run=run_planted_power,
    check=_check_power,
    quick_budget_s=120.0,
)


# ------------------------------------------------------------------- critical nodes

GraphFamily = Literal["barabasi-albert", "erdos-renyi", "sbm"]
CRITICAL_METHODS: tuple[str, ...] = (
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
    budgets: list[int] = Field(min_length=1, description="Numbers k of nodes removed / seeded.")
    cascade: Literal["ic", "lt"] = "ic"
    probability: float = Field(default=0.05, ge=0.0, le=1.0, description="IC edge probability.")
    spread_samples: int = Field(default=200, ge=10, le=10_000)
    rr_sets: int = Field(default=3000, ge=100, le=1_000_000)
    betweenness_samples: int | None = Field(default=None, ge=1)
    greedy_max_n: int = Field(default=600, ge=10, description="Greedy CND only up to this n.")


def _critical_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = CriticalWorld(n=500, m=2)
        run = CriticalRun(budgets=[5, 10, 25, 50], spread_samples=200, rr_sets=20000)
        seeds = [0]
    else:
        world = CriticalWorld(n=2000, m=2, ilp_n=20)
        run = CriticalRun(
            budgets=[10, 20, 50, 100, 200],
            spread_samples=500,
            rr_sets=100000,
            betweenness_samples=500,
            greedy_max_n=2000,
        )
        seeds = [0, 1]
    return BenchmarkSpec(
        benchmark="critical-nodes",
        size=size,
        seeds=seeds,
        world=WorldSpec(name="critical-graph", params=world.model_dump()),
        methods=[MethodConfig(name=name) for name in CRITICAL_METHODS],
        metrics=["largest-component-after-removal", "cascade-spread", "driver-node-share"],
        params=run.model_dump(),
    )


def _parse_critical(spec: BenchmarkSpec) -> tuple[CriticalWorld, CriticalRun, list[str]]:
    world_spec = _world(spec, "critical-graph", "critical-nodes")
    world = validate_or_raise(CriticalWorld, world_spec.params, "world.params")
    run = validate_or_raise(CriticalRun, spec.params, "params")
    bad = [k for k in run.budgets if not 1 <= k < world.n]
    if bad:
        raise ValueError(f"budgets must lie in [1, n={world.n}), got {bad}")
    if run.betweenness_samples is not None and run.betweenness_samples > world.n:
        raise ValueError(f"betweenness_samples={run.betweenness_samples} exceeds n={world.n} nodes")
    return world, run, _method_names(spec, CRITICAL_METHODS, "critical-nodes")


def _critical_graph(world: CriticalWorld, rng: np.random.Generator) -> sp.csr_matrix:
    from graph_algos.generators import barabasi_albert, stochastic_block_model

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


def run_critical(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Which nodes matter: dismantling (largest component after removing the top k) and
    spreading (cascade size from the top k as seeds), plus exact vs greedy CND and the
    share of driver nodes.
    """
    from graph_algos.critical import (
        CENTRALITIES,
        SpreadEstimator,
        celf,
        centrality,
        driver_nodes,
        exact_critical_nodes,
        greedy_critical_nodes,
        largest_component_after_removal,
        pairwise_connectivity,
        reverse_reachable_seeds,
        top_k,
    )
    from graph_algos.robustness import covered_targets, gc_rwcs, rwcs

    del out_dir
    world, run, methods = _parse_critical(spec)
    budget = max(run.budgets)
    progress.start(len(spec.seeds) * (len(methods) + 2), "steps")
    lcc: dict[tuple[str, int], list[float]] = {}
    spread: dict[tuple[str, int], list[float]] = {}
    coverage: dict[tuple[str, int], list[float]] = {}
    ilp_gap: list[float] = []
    drivers: list[float] = []
    timings: dict[str, float] = {}
    import time

    for seed in spec.seeds:
        rng = np.random.default_rng(seed)
        adjacency = _critical_graph(world, rng)
        estimator = SpreadEstimator(
            adjacency, run.cascade, run.probability, run.spread_samples, int(rng.integers(2**31))
        )
        for method in methods:
            started = time.perf_counter()
            if method in CENTRALITIES:
                samples = run.betweenness_samples if method == "betweenness" else None
                ranking = top_k(centrality(adjacency, method, seed=seed, samples=samples), budget)
            elif method == "greedy-cnd":
                if world.n > run.greedy_max_n:
                    progress.advance(1, f"{method} skipped (n > greedy_max_n)")
                    continue
                ranking = greedy_critical_nodes(adjacency, budget)
            elif method == "celf":
                ranking = celf(estimator, world.n, budget)
            elif method == "reverse-reachable-sets":
                ranking, _ = reverse_reachable_seeds(
                    adjacency, budget, run.cascade, run.probability, run.rr_sets, seed
                )
            elif method == "rwcs":
                ranking = rwcs(adjacency, budget)
            elif method == "gc-rwcs":
                ranking = gc_rwcs(adjacency, budget)
            else:
                ranking = [int(v) for v in rng.permutation(world.n)[:budget]]
            timings[method] = timings.get(method, 0.0) + time.perf_counter() - started
            for k in run.budgets:
                lcc.setdefault((method, k), []).append(
                    largest_component_after_removal(adjacency, ranking, k)
                )
                spread.setdefault((method, k), []).append(estimator(ranking[:k]) / world.n)
                coverage.setdefault((method, k), []).append(
                    covered_targets(adjacency, ranking[:k]) / world.n
                )
            progress.advance(1, f"{method}, seed {seed}")
        small = erdos_renyi(world.ilp_n, world.ilp_q, rng)
        k_small = max(1, world.ilp_n // 6)
        _, optimum = exact_critical_nodes(small, k_small)
        greedy_value = pairwise_connectivity(small, greedy_critical_nodes(small, k_small))
        ilp_gap.append(greedy_value - optimum)
        progress.advance(1, f"exact ILP, seed {seed}")
        directed = sp.triu(erdos_renyi(world.n, world.mean_degree / (world.n - 1), rng)).tocsr()
        drivers.append(len(driver_nodes(directed)) / world.n)
        progress.advance(1, f"driver nodes, seed {seed}")

    metrics: list[MetricValue] = []
    for (method, k), values in lcc.items():
        labels = {"method": method, "k": str(k)}
        metrics.append(
            MetricValue(
                name="largest_component_after_removal",
                value=float(np.mean(values)),
                direction="lower",
                unit="share of nodes",
                labels=labels,
            )
        )
        metrics.append(
            MetricValue(
                name="cascade_spread",
                value=float(np.mean(spread[(method, k)])),
                direction="higher",
                unit="share of nodes",
                labels={**labels, "cascade": run.cascade},
            )
        )
        metrics.append(
            MetricValue(
                name="two_hop_coverage",
                value=float(np.mean(coverage[(method, k)])),
                direction="higher",
                unit="share of nodes",
                labels=labels,
            )
        )
    metrics.append(
        MetricValue(
            name="greedy_cnd_excess_pairs",
            value=float(np.mean(ilp_gap)),
            direction="lower",
            reference=0.0,
            reference_name="exact ILP optimum",
            labels={"n": str(world.ilp_n), "q": str(world.ilp_q)},
        )
    )
    metrics.append(
        MetricValue(
            name="driver_node_share",
            value=float(np.mean(drivers)),
            direction="none",
            labels={"graph": f"G(n={world.n}) oriented low→high, mean degree {world.mean_degree}"},
        )
    )
    ran = [m for m in methods if (m, run.budgets[0]) in lcc]

    def curve(
        name: str, title: str, y_label: str, table: dict[tuple[str, int], list[float]]
    ) -> Curve:
        return Curve(
            name=name,
            title=title,
            x_label="k (nodes chosen)",
            y_label=y_label,
            series=[
                Series(
                    label=m,
                    x=[float(k) for k in run.budgets],
                    y=[float(np.mean(table[(m, k)])) for k in run.budgets],
                )
                for m in ran
            ],
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


def _check_critical(spec: BenchmarkSpec) -> None:
    _parse_critical(spec)


CRITICAL_NODES = Benchmark(
    name="critical-nodes",
    summary="Centralities, critical node deletion, influence maximisation, RWCS: dismantle/spread.",
    default_spec=_critical_spec,
    run=run_critical,
    check=_check_critical,
    quick_budget_s=120.0,
)
