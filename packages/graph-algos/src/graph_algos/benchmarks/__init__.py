"""The benchmark recipes of graph-algos: one module each, declared here, registered as entry points.

- ``planted_quickstart``: ``planted-quickstart``, the count and degree tests (the README's job);
- ``planted_power``: ``planted-power``, power curves over (n, q, Γ, k) and the scan test;
- ``hierarchy_phase``: ``hierarchy-phase``, bottom-up vs top-down phase diagrams;
- ``noisy_label_local``: ``noisy-label-local``, label-weighted flow diffusion vs baselines;
- ``critical_nodes``: ``critical-nodes``, every selector on dismantling and spreading;
- ``graph_db_tutorial``: ``graph-db-tutorial``, the graph-database tutorial's operations
  by our kernels, networkx and Cypher on LadybugDB;
- ``speed``: ``graph-algos-speed``, the kernels timed against networkx and igraph.

A module holds its recipe: the world and run parameters, the default spec and the ``run``
function, top to bottom. What a spec of each benchmark may contain (its `Benchmark`
declaration: name, summary, types, method and metric names) is listed below, one record
per benchmark, as the package's methods are listed in `graph_algos.methods`. ``_common``
holds the method-list check and the metric helpers they share. Each module imports only
numpy/scipy/pydantic and the package, so listing and validating stay fast.
"""

from __future__ import annotations

from unlearn_schema.plugins import Benchmark, NoParams

from graph_algos.benchmarks._common import method_check
from graph_algos.benchmarks.critical_nodes import (
    CRITICAL_METHODS,
    CriticalRun,
    CriticalWorld,
    check_budgets,
    critical_spec,
    run_critical,
)
from graph_algos.benchmarks.graph_db_tutorial import METRIC_NAMES as TUTORIAL_METRICS
from graph_algos.benchmarks.graph_db_tutorial import (
    TutorialGraph,
    TutorialRun,
    run_tutorial,
    tutorial_spec,
)
from graph_algos.benchmarks.hierarchy_phase import (
    HIERARCHY_METHODS,
    HierarchyRun,
    HierarchyWorld,
    hierarchy_spec,
    run_hierarchy,
)
from graph_algos.benchmarks.noisy_label_local import (
    LOCAL_METHODS,
    NoisyLabelRun,
    NoisyLabelWorldParams,
    noisy_spec,
    run_noisy,
)
from graph_algos.benchmarks.planted_power import (
    POWER_TESTS,
    PlantedPowerWorld,
    planted_power_spec,
    run_planted_power,
)
from graph_algos.benchmarks.planted_quickstart import (
    TESTS,
    PlantedRun,
    PlantedWorld,
    planted_spec,
    run_planted,
)
from graph_algos.benchmarks.speed import METRIC_NAMES, SpeedGraphs, SpeedRun, run_speed, speed_spec
from graph_algos.methods import METHODS

PLANTED_QUICKSTART: Benchmark[PlantedWorld, NoParams, PlantedRun] = Benchmark(
    name="planted-quickstart",
    summary="Count vs degree test for planted cliques, stars, cycles, dense subgraphs in G(n, q).",
    default_spec=planted_spec,
    run=run_planted,
    params_type=PlantedRun,
    worlds={"planted-gnq": PlantedWorld},
    methods=METHODS,
    method_names=TESTS,
    metric_names=frozenset({"detection_power", "false_alarm_rate"}),
    check=method_check(TESTS),
    quick_budget_s=60.0,
)


PLANTED_POWER: Benchmark[PlantedPowerWorld, NoParams, PlantedRun] = Benchmark(
    name="planted-power",
    summary="Power curves of count, degree and scan tests over (n, q, Γ, k), thresholds drawn.",
    default_spec=planted_power_spec,
    run=run_planted_power,
    params_type=PlantedRun,
    worlds={"planted-grid": PlantedPowerWorld},
    methods=METHODS,
    method_names=POWER_TESTS,
    metric_names=frozenset({"detection_power", "false_alarm_rate"}),
    check=method_check(POWER_TESTS),
    quick_budget_s=120.0,
)


HIERARCHY_PHASE: Benchmark[HierarchyWorld, NoParams, HierarchyRun] = Benchmark(
    name="hierarchy-phase",
    summary="Bottom-up vs top-down hierarchical community detection on hierarchical SBMs.",
    default_spec=hierarchy_spec,
    run=run_hierarchy,
    params_type=HierarchyRun,
    worlds={"hierarchical-sbm": HierarchyWorld},
    methods=METHODS,
    method_names=HIERARCHY_METHODS,
    metric_names=frozenset({"exact_recovery", "tree_recovery", "dendrogram_inversions"}),
    check=method_check(HIERARCHY_METHODS),
    quick_budget_s=90.0,
)


NOISY_LABEL_LOCAL: Benchmark[NoisyLabelWorldParams, NoParams, NoisyLabelRun] = Benchmark(
    name="noisy-label-local",
    summary="Local clustering with noisy labels: label-weighted flow diffusion vs baselines.",
    default_spec=noisy_spec,
    run=run_noisy,
    params_type=NoisyLabelRun,
    worlds={"noisy-label-sbm": NoisyLabelWorldParams},
    methods=METHODS,
    method_names=LOCAL_METHODS,
    metric_names=frozenset({"f1"}),
    check=method_check(LOCAL_METHODS),
    quick_budget_s=120.0,
)


CRITICAL_NODES: Benchmark[CriticalWorld, NoParams, CriticalRun] = Benchmark(
    name="critical-nodes",
    summary="Centralities, critical node deletion, influence maximisation, RWCS: dismantle/spread.",
    default_spec=critical_spec,
    run=run_critical,
    params_type=CriticalRun,
    worlds={"critical-graph": CriticalWorld},
    methods=METHODS,
    method_names=CRITICAL_METHODS,
    metric_names=frozenset(
        {
            "largest_component_after_removal",
            "cascade_spread",
            "two_hop_coverage",
            "greedy_cnd_excess_pairs",
            "driver_node_share",
        }
    ),
    check=method_check(CRITICAL_METHODS, check_budgets),
    quick_budget_s=120.0,
)


GRAPH_DB_TUTORIAL: Benchmark[TutorialGraph, NoParams, TutorialRun] = Benchmark(
    name="graph-db-tutorial",
    summary="Graph-DB tutorial operations: our kernels vs networkx vs Cypher on LadybugDB.",
    default_spec=tutorial_spec,
    run=run_tutorial,
    params_type=TutorialRun,
    worlds={"planted-partition": TutorialGraph},
    metric_names=TUTORIAL_METRICS,
    max_seeds=1,
    quick_budget_s=180.0,
)


GRAPH_ALGOS_SPEED: Benchmark[SpeedGraphs, NoParams, SpeedRun] = Benchmark(
    name="graph-algos-speed",
    summary="PageRank, components, betweenness, local diffusions vs networkx and igraph.",
    default_spec=speed_spec,
    run=run_speed,
    params_type=SpeedRun,
    worlds={"speed-graphs": SpeedGraphs},
    metric_names=METRIC_NAMES,
    max_seeds=1,
    kind="speed",
    quick_budget_s=60.0,
)


__all__ = [
    "CRITICAL_NODES",
    "GRAPH_ALGOS_SPEED",
    "GRAPH_DB_TUTORIAL",
    "HIERARCHY_PHASE",
    "NOISY_LABEL_LOCAL",
    "PLANTED_POWER",
    "PLANTED_QUICKSTART",
]
