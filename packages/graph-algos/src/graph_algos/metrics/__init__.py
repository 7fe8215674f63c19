"""The metric functions of graph-algos, one record each, named as benchmarks report them.

A spec's ``metrics:`` selects among these names (each benchmark declares the ones it
reports in ``metric_names``). Metric functions take no options from a spec
(``unlearn_schema.NoParams``). Modules: ``planted``, ``hierarchy``, ``local``,
``critical``. This module imports only the schema.
"""

from unlearn_schema import MetricSpec, Registry

_PLANTED = "arXiv:2503.19069"
_HIERARCHY = "arXiv:2306.00833"
_NOISY_LABELS = "arXiv:2310.08031"
_CRITICAL_SURVEY = "arXiv:2507.06164"
_RWCS = "arXiv:2006.05057"
NO_PARAMS = "unlearn_schema:NoParams"

METRICS = Registry(
    "metric",
    [
        # Planted-subgraph tests.
        MetricSpec(
            name="detection_power",
            params=NO_PARAMS,
            entry="graph_algos.metrics.planted:detection_power",
            summary="Share of planted graphs a test declares planted (its power at level α).",
            paper=_PLANTED,
        ),
        MetricSpec(
            name="false_alarm_rate",
            params=NO_PARAMS,
            entry="graph_algos.metrics.planted:false_alarm_rate",
            summary="Share of null graphs a test wrongly declares planted.",
            paper=_PLANTED,
        ),
        # Hierarchical communities.
        MetricSpec(
            name="exact_recovery",
            params=NO_PARAMS,
            entry="graph_algos.metrics.hierarchy:exact_recovery_by_depth",
            summary="Whether the partition at each depth of the tree is the true one.",
            paper=_HIERARCHY,
        ),
        MetricSpec(
            name="tree_recovery",
            params=NO_PARAMS,
            entry="graph_algos.metrics.hierarchy:tree_recovered",
            summary="Whether the dendrogram over the finest clusters has the true tree's shape.",
            paper=_HIERARCHY,
        ),
        MetricSpec(
            name="dendrogram_inversions",
            params=NO_PARAMS,
            entry="graph_algos.metrics.hierarchy:dendrogram_inversions",
            summary="Parent-child pairs whose parent is higher: a non-monotone dendrogram.",
            paper=_HIERARCHY,
        ),
        # Local clustering.
        MetricSpec(
            name="f1",
            params=NO_PARAMS,
            entry="graph_algos.metrics.local:f1_score",
            summary="F1 of the node set found against the target cluster.",
            paper=_NOISY_LABELS,
        ),
        # Critical nodes.
        MetricSpec(
            name="largest_component_after_removal",
            params=NO_PARAMS,
            entry="graph_algos.metrics.critical:largest_component_after_removal",
            summary="Share of nodes in the largest component after deleting the first k selected.",
            paper=_CRITICAL_SURVEY,
        ),
        MetricSpec(
            name="cascade_spread",
            params=NO_PARAMS,
            entry="graph_algos.metrics.critical:cascade_spread",
            summary="Expected share of nodes a cascade from the selected seeds infects.",
            paper="doi:10.1145/956750.956769",
        ),
        MetricSpec(
            name="two_hop_coverage",
            params=NO_PARAMS,
            entry="graph_algos.metrics.critical:two_hop_coverage",
            summary="Share of nodes within two hops of a selected node.",
            paper=_RWCS,
        ),
        MetricSpec(
            name="greedy_cnd_excess_pairs",
            params=NO_PARAMS,
            entry="graph_algos.metrics.critical:greedy_cnd_excess_pairs",
            summary="Connected pairs greedy deletion leaves above the exact ILP optimum.",
            paper="doi:10.1016/j.cor.2008.08.016",
        ),
        MetricSpec(
            name="driver_node_share",
            params=NO_PARAMS,
            entry="graph_algos.metrics.critical:driver_node_share",
            summary="Share of nodes that must be driven to control a directed network.",
            paper="doi:10.1038/nature10011",
        ),
    ],
)

__all__ = ["METRICS"]
