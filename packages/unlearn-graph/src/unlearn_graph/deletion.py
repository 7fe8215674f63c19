"""Deletion requests on a graph task: validation, the retained graph, and edge sampling.

The requests are the schema's `unlearn_schema.EdgeDeletionRequest`,
`unlearn_schema.NodeDeletionRequest` and
`unlearn_schema.NodeFeatureDeletionRequest`. `apply_requests` checks every
id against the task (ranges, existence, not deleting the whole training set) and raises
``ValueError`` naming the bad value before any model is touched. Edge sampling follows
the GNNDelete protocol (Cheng et al., ICLR 2023, arXiv:2302.13406): "in" edges lie in the
2-hop neighbourhood of the test elements, "out" edges outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from unlearn_schema.requests import (
    EdgeDeletionRequest,
    ForgetRequest,
    NodeDeletionRequest,
    NodeFeatureDeletionRequest,
)

from unlearn_graph.splits import edge_deletion_candidates
from unlearn_graph.splits import nodes_within as nodes_within  # re-exported: methods use it
from unlearn_graph.tasks import LinkTask, NodeTask, Task, both_directions

GRAPH_REQUEST_KINDS = ("graph_edges", "graph_nodes", "graph_node_features")


@dataclass
class DeletionProblem:
    """A task after deletion: the retained graph and the deleted and retained elements.

    ``deleted_elements`` and ``retained_elements`` are node ids (node tasks) or ``(2, K)``
    pairs (link tasks) of the training set. ``deleted_pairs`` are all removed edges,
    ``deleted_nodes`` the deleted nodes, ``affected_nodes`` every node where the graph
    changed (edge endpoints, deleted nodes, nodes whose features were deleted) and
    ``feature_nodes`` the nodes whose features were deleted.
    """

    task: Task
    x: Tensor
    edges: Tensor
    retained_elements: Tensor
    deleted_elements: Tensor
    deleted_pairs: Tensor
    deleted_nodes: Tensor
    affected_nodes: Tensor
    feature_nodes: Tensor
    test_elements: Tensor
    test_negatives: Tensor | None

    @property
    def kind(self) -> str:
        return self.task.kind

    @property
    def edge_index(self) -> Tensor:
        return both_directions(self.edges)

    @property
    def labels(self) -> Tensor | None:
        return self.task.y if isinstance(self.task, NodeTask) else None

    @property
    def num_deleted(self) -> int:
        return int(self.deleted_elements.shape[-1])

    def require_deleted_elements(self, method: str) -> None:
        """Raise ``ValueError`` naming ``method`` if no training element is deleted
        (the methods that learn from the deleted elements need some)."""
        if self.num_deleted == 0:
            raise ValueError(
                f"{method} needs deleted training elements; these requests delete none "
                "(feature or structure only): use GNNDelete, GIF or retraining"
            )


def _keys(edges: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(edges[0], edges[1]) * n + np.maximum(edges[0], edges[1])


def _check_node(node: int, n: int, what: str) -> None:
    if node >= n:
        raise ValueError(f"{what} {node} is out of range: the graph has {n} nodes (ids 0..{n - 1})")


def apply_requests(task: Task, requests: Sequence[ForgetRequest]) -> DeletionProblem:
    """Validate ``requests`` against ``task`` and build the `DeletionProblem`."""
    if not requests:
        raise ValueError("no deletion request given; pass at least one graph request")
    n = task.num_nodes
    train_edges = task.edges.numpy()
    train_keys = _keys(train_edges, n)
    key_to_position = {int(k): i for i, k in enumerate(train_keys.tolist())}
    held_out: dict[int, str] = {}
    if isinstance(task, LinkTask):
        for name, pairs in (("validation", task.val_pos), ("test", task.test_pos)):
            for k in _keys(pairs.numpy(), n).tolist():
                held_out[int(k)] = name
    removed_edge = np.zeros(train_edges.shape[1], dtype=bool)
    deleted_nodes: set[int] = set()
    feature_nodes: set[int] = set()
    x = task.x.clone()
    for request in requests:
        if isinstance(request, EdgeDeletionRequest):
            if not request.undirected:
                raise ValueError(
                    "graphs in unlearn-graph are undirected; an EdgeDeletionRequest with "
                    "undirected=false is not supported (set undirected=true)"
                )
            for u, v in request.edges:
                _check_node(u, n, "edge endpoint")
                _check_node(v, n, "edge endpoint")
                key = min(u, v) * n + max(u, v)
                if key not in key_to_position:
                    where = held_out.get(key)
                    if where is not None:
                        raise ValueError(
                            f"edge ({u}, {v}) is a held-out {where} edge, not a training edge; "
                            "only training edges can be deleted"
                        )
                    raise ValueError(f"edge ({u}, {v}) does not exist in the training graph")
                removed_edge[key_to_position[key]] = True
        elif isinstance(request, NodeDeletionRequest):
            for node in request.nodes:
                _check_node(node, n, "node")
                deleted_nodes.add(node)
        elif isinstance(request, NodeFeatureDeletionRequest):
            columns = request.features
            width = x.shape[1]
            for column in columns or []:
                if column >= width:
                    raise ValueError(
                        f"feature column {column} is out of range: nodes have {width} "
                        f"features (columns 0..{width - 1})"
                    )
            for node in request.nodes:
                _check_node(node, n, "node")
                feature_nodes.add(node)
                if columns is None:
                    x[node] = 0.0
                else:
                    x[node, columns] = 0.0
        else:
            raise ValueError(
                f"request kind {request.kind!r} does not apply to graphs; "
                f"accepted kinds: {', '.join(GRAPH_REQUEST_KINDS)}"
            )
    dead = np.array(sorted(deleted_nodes), dtype=np.int64)
    if dead.size:
        removed_edge |= np.isin(train_edges[0], dead) | np.isin(train_edges[1], dead)
    deleted_pairs = train_edges[:, removed_edge]
    retained_edges = train_edges[:, ~removed_edge]
    affected = np.unique(np.r_[deleted_pairs.reshape(-1), dead, sorted(feature_nodes)])

    test_negatives: Tensor | None = None
    if isinstance(task, NodeTask):
        train = task.train_idx.numpy()
        is_deleted = np.isin(train, dead)
        retained_elements = torch.from_numpy(train[~is_deleted])
        deleted_elements = torch.from_numpy(train[is_deleted])
        test = task.test_idx.numpy()
        test_elements = torch.from_numpy(test[~np.isin(test, dead)])
        if retained_elements.numel() == 0:
            raise ValueError(
                f"the requests delete all {train.size} training nodes; at least one must remain"
            )
    else:
        retained_elements = torch.from_numpy(np.ascontiguousarray(retained_edges))
        deleted_elements = torch.from_numpy(np.ascontiguousarray(deleted_pairs))
        if retained_edges.shape[1] == 0:
            raise ValueError(
                f"the requests delete all {train_edges.shape[1]} training edges; "
                "at least one must remain"
            )

        def alive(pairs: Tensor) -> Tensor:
            p = pairs.numpy()
            keep = ~(np.isin(p[0], dead) | np.isin(p[1], dead))
            return torch.from_numpy(np.ascontiguousarray(p[:, keep]))

        test_elements = alive(task.test_pos)
        test_negatives = alive(task.test_neg)
    return DeletionProblem(
        task=task,
        x=x,
        edges=torch.from_numpy(np.ascontiguousarray(retained_edges)),
        retained_elements=retained_elements,
        deleted_elements=deleted_elements,
        deleted_pairs=torch.from_numpy(np.ascontiguousarray(deleted_pairs)),
        deleted_nodes=torch.from_numpy(dead),
        affected_nodes=torch.from_numpy(affected.astype(np.int64)),
        feature_nodes=torch.tensor(sorted(feature_nodes), dtype=torch.int64),
        test_elements=test_elements,
        test_negatives=test_negatives,
    )


def _test_sources(task: Task) -> np.ndarray:
    """The nodes of the test elements (link endpoints, or test nodes)."""
    if isinstance(task, LinkTask):
        return np.unique(task.test_pos.numpy().reshape(-1))
    return task.test_idx.numpy()


def sample_edge_deletion(
    task: Task, count: int, where: Literal["in", "out"] = "out", seed: int = 0
) -> EdgeDeletionRequest:
    """Pick ``count`` training edges to delete, inside ("in") or outside ("out") the 2-hop
    neighbourhood of the test elements (GNNDelete's D_f sampling)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    edges = task.edges.numpy()
    candidates = edge_deletion_candidates(edges, task.num_nodes, _test_sources(task), where)
    if candidates.size < count:
        raise ValueError(
            f"asked for {count} '{where}' edges but only {candidates.size} training edges lie "
            f"{'inside' if where == 'in' else 'outside'} the 2-hop neighbourhood of the test set"
        )
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(candidates, size=count, replace=False))
    return EdgeDeletionRequest(edges=[(int(edges[0, i]), int(edges[1, i])) for i in chosen])


def sample_node_deletion(task: Task, count: int, seed: int = 0) -> NodeDeletionRequest:
    """Pick ``count`` nodes to delete: training nodes (node tasks) or any nodes with at
    least one training edge (link tasks)."""
    if isinstance(task, NodeTask):
        pool = task.train_idx.numpy()
    else:
        pool = np.unique(task.edges.numpy().reshape(-1))
    if not 1 <= count < pool.size:
        raise ValueError(f"count must lie in [1, {pool.size - 1}] for this task, got {count}")
    rng = np.random.default_rng(seed)
    return NodeDeletionRequest(nodes=sorted(int(v) for v in rng.choice(pool, count, replace=False)))
