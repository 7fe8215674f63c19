"""The attacks of the ``graph-unlearn-*`` benchmarks beside membership inference.

`AttackAudit` fixes, once per deletion problem, what every model is attacked with: the
deleted edges as positives (oriented so that a deleted node comes first), anchored
non-edges as negatives, and for link predictors the anchor nodes of the profile
posteriors. `AttackAudit.attack` runs the link-stealing attack (and, for link
predictors, the direct query of the pair's link probability); `AttackAudit.evaluate`
adds the forget accuracy on the retained graph; `AttackAudit.relearning` fine-tunes a
copy on the retained data and evaluates it at each checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from unlearn_graph.attacks.link_stealing import (
    Distance,
    anchored_non_edges,
    link_stealing_auc,
    node_posteriors,
)
from unlearn_graph.attacks.relearning import forget_accuracy_of, relearn
from unlearn_graph.deletion import DeletionProblem
from unlearn_graph.metrics.utility import link_auroc
from unlearn_graph.tasks import LinkTask
from unlearn_graph.training import predict


class AttackAudit:
    """Link stealing, forget accuracy and relearning of any model on one problem."""

    def __init__(
        self,
        problem: DeletionProblem,
        *,
        relearn_steps: list[int],
        learning_rate: float,
        negatives_per_edge: int,
        profile_anchors: int,
        metric: Distance,
        seed: int,
    ) -> None:
        self.problem, self.seed, self.metric = problem, seed, metric
        self.relearn_steps, self.learning_rate = sorted(set(relearn_steps)), learning_rate
        task = problem.task
        n = task.num_nodes
        pairs = problem.deleted_pairs.numpy()
        dead = problem.deleted_nodes.numpy()
        swap = np.isin(pairs[1], dead) & ~np.isin(pairs[0], dead)
        first = np.where(swap, pairs[1], pairs[0])
        second = np.where(swap, pairs[0], pairs[1])
        self.positives = np.stack([first, second])
        # A negative must be a non-edge of the whole graph, held-out edges included.
        known = [task.edges]
        if isinstance(task, LinkTask):
            known += [task.val_pos, task.test_pos]
        edges = torch.cat(known, 1).numpy()
        self.negatives = (
            anchored_non_edges(first, n, edges, per_anchor=negatives_per_edge, seed=seed)
            if first.size
            else np.zeros((2, 0), dtype=np.int64)
        )
        self.anchors: Tensor | None = None
        if task.kind == "link":
            generator = torch.Generator().manual_seed(seed)
            self.anchors = torch.randperm(n, generator=generator)[: min(profile_anchors, n)]

    def attack(
        self, model: Any, x: Tensor, edge_index: Tensor, forget: bool = False
    ) -> dict[str, float]:
        """Link-stealing AUC of the deleted edges vs the non-edges when the adversary
        queries ``model`` on the graph ``(x, edge_index)`` (none if no edge is
        deleted), and with ``forget`` the forget accuracy, from the same queries."""
        out: dict[str, float] = {}
        problem = self.problem
        forget = forget and problem.num_deleted > 0
        if self.positives.shape[1] == 0 and not forget:
            return out
        # One forward for the posteriors; for links one more for every queried pair.
        # The positives are the deleted edges (a deleted node put first, which only
        # node deletion does: the decoders here are symmetric), so their probabilities
        # serve the forget accuracy too.
        posteriors = node_posteriors(model, x, edge_index, self.anchors)
        if self.positives.shape[1]:
            out["link_stealing_auc"] = link_stealing_auc(
                posteriors, self.positives, self.negatives, metric=self.metric
            )
        if model.task == "link":
            pairs = torch.from_numpy(np.concatenate([self.positives, self.negatives], 1))
            probabilities = predict(model, x, edge_index, pairs).numpy()
            count = self.positives.shape[1]
            out["link_query_auc"] = link_auroc(probabilities[:count], probabilities[count:])
            if forget:
                out["forget_accuracy"] = forget_accuracy_of(probabilities[:count], None)
        elif forget:
            deleted = problem.deleted_elements.numpy()
            labels = problem.task.y.numpy()[deleted]
            out["forget_accuracy"] = forget_accuracy_of(posteriors[deleted], labels)
        return out

    def evaluate(self, model: Any) -> dict[str, float]:
        """`attack` on the retained graph, with the forget accuracy."""
        problem = self.problem
        return self.attack(model, problem.x, problem.edge_index, forget=True)

    def relearning(self, model: Any) -> dict[int, dict[str, float]]:
        """`evaluate` after each of ``relearn_steps`` steps of `relearn` (one run)."""
        if not self.relearn_steps:
            return {}
        checkpoints = set(self.relearn_steps)
        trace: dict[int, dict[str, float]] = {}

        def record(step: int, relearned: Any) -> None:
            if step in checkpoints:
                trace[step] = self.evaluate(relearned)

        relearn(
            model,
            self.problem,
            steps=self.relearn_steps[-1],
            learning_rate=self.learning_rate,
            seed=self.seed,
            after_step=record,
        )
        return trace
