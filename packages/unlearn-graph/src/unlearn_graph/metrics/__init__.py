"""Metrics of graph unlearning (numpy in, float out; no torch), registered as ``METRICS``.

Each record names a metric function and the type of its options: the params' fields are
the function's keyword arguments, so ``spec.function(*arrays, **params.model_dump())``
calls it (``seed``, where a metric resamples, is a keyword-only extra). The metric
modules import no torch, so their params classes sit next to their functions. The
functions are also importable from here (``from unlearn_graph.metrics import
link_auroc``); they load on first use, so reading the registry imports only the schema.
These are the functions the benchmarks compute their reported values with; the names a
spec's ``metrics:`` selects are the benchmark's reported names (``deleted_edge_auroc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearn_schema import MetricSpec, Registry

from unlearn_graph._lazy import lazy_attributes

if TYPE_CHECKING:
    from unlearn_graph.metrics.cost import Cost, measure_cost
    from unlearn_graph.metrics.deletion import deleted_edge_auc
    from unlearn_graph.metrics.editing import accuracy_drop, edit_success
    from unlearn_graph.metrics.oracle import accuracy_gap, kl_to_oracle
    from unlearn_graph.metrics.utility import accuracy, link_auroc

_NO_PARAMS = "unlearn_schema:NoParams"
GNNDELETE_PAPER = "arXiv:2302.13406"

METRICS = Registry(
    "metric",
    [
        MetricSpec(
            name="deleted-edge-auc",
            params="unlearn_graph.metrics.deletion:DeletedEdgeAUCParams",
            entry="unlearn_graph.metrics.deletion:deleted_edge_auc",
            summary="Retained vs deleted training edges (reported as deleted_edge_auroc/_aupr).",
            paper=GNNDELETE_PAPER,
        ),
        MetricSpec(
            name="link-auroc",
            params=_NO_PARAMS,
            entry="unlearn_graph.metrics.utility:link_auroc",
            summary="Test edges vs sampled non-edges (reported as retained_test_auroc).",
        ),
        MetricSpec(
            name="node-accuracy",
            params=_NO_PARAMS,
            entry="unlearn_graph.metrics.utility:accuracy",
            summary="Share of test nodes predicted right (reported as retained_test_accuracy).",
        ),
        MetricSpec(
            name="kl-to-oracle",
            params="unlearn_graph.metrics.oracle:KLToOracleParams",
            entry="unlearn_graph.metrics.oracle:kl_to_oracle",
            summary="Mean KL from the retrain oracle's predictions (reported as kl_to_oracle).",
        ),
        MetricSpec(
            name="accuracy-gap",
            params=_NO_PARAMS,
            entry="unlearn_graph.metrics.oracle:accuracy_gap",
            summary="Utility difference to the oracle (reported as utility_gap_to_oracle).",
        ),
        MetricSpec(
            name="edit-success",
            params=_NO_PARAMS,
            entry="unlearn_graph.metrics.editing:edit_success",
            summary="Share of edited nodes now predicted as desired (reported as edit_success).",
            paper="arXiv:2305.15529",
        ),
        MetricSpec(
            name="accuracy-drop",
            params=_NO_PARAMS,
            entry="unlearn_graph.metrics.editing:accuracy_drop",
            summary="Accuracy lost on the nodes an edit left alone (reported as accuracy_drop).",
            paper="arXiv:2305.15529",
        ),
        MetricSpec(
            name="cost",
            params="unlearn_graph.metrics.cost:CostParams",
            entry="unlearn_graph.metrics.cost:measure_cost",
            summary="Wall time, peak extra memory of a call (reported as wall_time, peak_memory).",
        ),
    ],
)

__getattr__ = lazy_attributes(
    __name__,
    {
        "Cost": "cost",
        "measure_cost": "cost",
        "deleted_edge_auc": "deletion",
        "accuracy_drop": "editing",
        "edit_success": "editing",
        "accuracy_gap": "oracle",
        "kl_to_oracle": "oracle",
        "accuracy": "utility",
        "link_auroc": "utility",
    },
)


__all__ = [
    "METRICS",
    "Cost",
    "accuracy",
    "accuracy_drop",
    "accuracy_gap",
    "deleted_edge_auc",
    "edit_success",
    "kl_to_oracle",
    "link_auroc",
    "measure_cost",
]
