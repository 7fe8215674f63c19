"""Metrics of graph unlearning (numpy in, float out; no torch at import)."""

from unlearn_graph.metrics.cost import Cost, measure_cost
from unlearn_graph.metrics.deletion import deleted_edge_auc
from unlearn_graph.metrics.editing import accuracy_drop, edit_success
from unlearn_graph.metrics.oracle import accuracy_gap, kl_to_oracle
from unlearn_graph.metrics.utility import accuracy, link_auroc

__all__ = [
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
