"""The audit of the ``graph-unlearn-*`` benchmarks: every metric of one unlearned model.

`DeletionEvaluator` fits the membership attack once per deletion problem, on the
original model, and then scores each model (the oracle and every method) on the
retained graph: utility, deleted-edge AUROC/AUPR, membership AUC and member-probability
ratio. `DeletionEvaluator.measure` also times the call that produces the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from unlearn_graph.attacks.membership import (
    attack_features,
    clipped_share,
    fit_membership_attack,
    member_probability_ratio,
    membership_auc,
)
from unlearn_graph.deletion import DeletionProblem
from unlearn_graph.metrics.cost import Cost, measure_cost
from unlearn_graph.metrics.deletion import deleted_edge_auc
from unlearn_graph.metrics.utility import accuracy, link_auroc
from unlearn_graph.tasks import NodeTask
from unlearn_graph.training import predict


class DeletionEvaluator:
    """Metrics of one model on one deletion problem (original model's attack reused)."""

    def __init__(self, problem: DeletionProblem, original: Any, resamples: int, seed: int):
        self.problem, self.resamples, self.seed = problem, resamples, seed
        task = problem.task
        self.labels = task.y.numpy()
        # Non-members for links are real edges never trained on (the test edges).
        nonmembers = task.test_idx if isinstance(task, NodeTask) else task.test_pos
        self.nonmembers = nonmembers
        # The attack learns members vs non-members from the original model on the
        # original graph, as an adversary who saw the model before deletion.
        members = self._features(original, task.train_elements, original_graph=True)
        others = self._features(original, nonmembers, original_graph=True)
        self.attack = fit_membership_attack(members, others, seed=seed)
        self.before = self.attack.member_probability(
            self._features(original, problem.deleted_elements, original_graph=True)
        )

    def _probabilities(self, model: Any, elements: Any, original_graph: bool = False) -> Any:
        task = self.problem.task
        if original_graph:
            return predict(model, task.x, task.edge_index, elements).numpy()
        return predict(model, self.problem.x, self.problem.edge_index, elements).numpy()

    def _features(self, model: Any, elements: Any, original_graph: bool = False) -> Any:
        p = self._probabilities(model, elements, original_graph)
        labels = self.labels[elements.numpy()] if p.ndim == 2 else None
        return attack_features(p, labels)

    def measure(self, unlearn: Callable[[], Any]) -> tuple[dict[str, float], Any, Cost]:
        """Run ``unlearn`` under `measure_cost` and `evaluate` the model it returns; the
        metrics include its ``wall_time`` and ``peak_memory``."""
        model, cost = measure_cost(unlearn)
        metrics, predictions = self.evaluate(model)
        metrics["wall_time"] = cost.wall_s
        metrics["peak_memory"] = cost.peak_mib
        return metrics, predictions, cost

    def evaluate(self, model: Any) -> tuple[dict[str, float], Any]:
        problem = self.problem
        out: dict[str, float] = {}
        if problem.kind == "link":
            assert problem.test_negatives is not None
            pos = self._probabilities(model, problem.test_elements)
            neg = self._probabilities(model, problem.test_negatives)
            out["retained_test_auroc"] = link_auroc(pos, neg)
            deleted = self._probabilities(model, problem.deleted_elements)
            retained = self._probabilities(model, problem.retained_elements)
            auroc, aupr = deleted_edge_auc(
                deleted, retained, resamples=self.resamples, seed=self.seed
            )
            out["deleted_edge_auroc"], out["deleted_edge_aupr"] = auroc, aupr
            predictions = np.r_[pos, neg]
        else:
            predictions = self._probabilities(model, problem.test_elements)
            out["retained_test_accuracy"] = accuracy(
                predictions, self.labels[problem.test_elements.numpy()]
            )
        deleted_features = self._features(model, problem.deleted_elements)
        nonmember_features = self._features(model, self.nonmembers)
        out["mi_auc"] = membership_auc(
            self.attack,
            deleted_features,
            nonmember_features,
            resamples=self.resamples,
            seed=self.seed,
        )
        after = self.attack.member_probability(deleted_features)
        out["mi_member_ratio"] = member_probability_ratio(self.before, after)
        # Not reported: marks the ratio as clipped in the report (leading underscore).
        out["_mi_member_ratio_clipped_share"] = clipped_share(self.before, after)
        return out, predictions
