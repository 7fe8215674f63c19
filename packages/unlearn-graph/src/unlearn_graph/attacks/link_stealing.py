"""Link stealing by posterior similarity, aimed at the deleted edges.

He et al., "Stealing Links from Graph Neural Networks" (USENIX Security 2021,
arXiv:2005.02131), Attack-0: an adversary with black-box access queries the model's
posterior $p_u$ for every node and, without training anything, guesses that $(u, v)$ is
an edge when $d(p_u, p_v)$ is small. The attack score of a pair is
$s(u, v) = -d(p_u, p_v)$ and its quality is the AUC of the edges it is asked about
against non-edge pairs. The paper compares eight distances (`DISTANCES`); correlation
distance is its strongest on most datasets and our default.

Aimed at unlearning: the positive pairs are the deleted edges and the negatives are
non-edges. After a true unlearning a deleted edge should be as hard to tell from a
non-edge as it is for the retrain oracle, whose AUC is the target: homophily alone
(neighbours share classes, hence posteriors) keeps it above 0.5.

Two choices of ours, named as such:

* *anchored negatives* (`anchored_non_edges`): each negative keeps one endpoint of a
  positive and takes a random non-neighbour as partner, so both sides of the AUC query
  the same nodes (a deleted node's posterior may differ from others' for reasons that
  are not the edge, e.g. being isolated on the retained graph);
* *profile posteriors* for link predictors (`node_posteriors`): a link model has no
  class posterior, so a node's posterior is its vector of link probabilities to a fixed
  random set of anchor nodes, $p_u = (\\sigma(s(u, a_1)), \\dots, \\sigma(s(u, a_r)))$,
  again obtained by black-box queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    from torch import Tensor

Distance = Literal[
    "cosine",
    "euclidean",
    "correlation",
    "chebyshev",
    "braycurtis",
    "canberra",
    "cityblock",
    "sqeuclidean",
]
DISTANCES: tuple[str, ...] = get_args(Distance)

_EPS = 1e-12


def posterior_distance(first: np.ndarray, second: np.ndarray, metric: Distance) -> np.ndarray:
    """Row-wise distance $d(a_i, b_i)$ between two ``(K, C)`` arrays of posteriors.

    cosine $1 - a \\cdot b / (|a| |b|)$; euclidean $|a - b|_2$; correlation: cosine of
    the centred vectors; chebyshev $\\max |a - b|$; braycurtis
    $\\sum |a - b| / \\sum |a + b|$; canberra $\\sum |a - b| / (|a| + |b|)$ (0/0 terms
    count 0); cityblock $\\sum |a - b|$; sqeuclidean $|a - b|_2^2$.
    """
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"posteriors must be two (K, C) arrays of one shape, got {a.shape} and {b.shape}"
        )
    difference = np.abs(a - b)
    if metric in ("cosine", "correlation"):
        if metric == "correlation":
            a = a - a.mean(1, keepdims=True)
            b = b - b.mean(1, keepdims=True)
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        return np.asarray(1.0 - (a * b).sum(1) / np.maximum(norms, _EPS))
    if metric == "euclidean":
        return np.asarray(np.sqrt((difference**2).sum(1)))
    if metric == "sqeuclidean":
        return np.asarray((difference**2).sum(1))
    if metric == "chebyshev":
        return np.asarray(difference.max(1))
    if metric == "cityblock":
        return np.asarray(difference.sum(1))
    if metric == "braycurtis":
        return np.asarray(difference.sum(1) / np.maximum(np.abs(a + b).sum(1), _EPS))
    if metric == "canberra":
        scale = np.abs(a) + np.abs(b)
        ratio = np.divide(difference, scale, out=np.zeros_like(difference), where=scale > 0)
        return np.asarray(ratio.sum(1))
    raise ValueError(f"unknown distance {metric!r}; accepted: {', '.join(DISTANCES)}")


def link_stealing_scores(
    posteriors: np.ndarray, pairs: np.ndarray, metric: Distance = "correlation"
) -> np.ndarray:
    """Attack-0 score $-d(p_u, p_v)$ of each pair ``(2, K)``: higher means "linked"."""
    p = np.asarray(posteriors)
    edges = np.asarray(pairs)
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ValueError(f"pairs must have shape (2, K), got {edges.shape}")
    if edges.size and (edges.min() < 0 or edges.max() >= p.shape[0]):
        raise ValueError(
            f"pair ids must lie in 0..{p.shape[0] - 1} (one posterior row per node), "
            f"got ids {edges.min()}..{edges.max()}"
        )
    return -posterior_distance(p[edges[0]], p[edges[1]], metric)


class LinkStealingParams(MethodParams):
    """Options of `link_stealing_auc` (its keyword arguments)."""

    metric: Distance = "correlation"


def link_stealing_auc(
    posteriors: np.ndarray,
    positive_pairs: np.ndarray,
    negative_pairs: np.ndarray,
    *,
    metric: Distance = "correlation",
) -> float:
    """AUC of the Attack-0 score separating ``positive_pairs`` (e.g. the deleted edges)
    from ``negative_pairs`` (non-edges), both ``(2, K)``; ties count one half."""
    from unlearn_graph.metrics.utility import link_auroc

    positives = link_stealing_scores(posteriors, positive_pairs, metric)
    negatives = link_stealing_scores(posteriors, negative_pairs, metric)
    return link_auroc(positives, negatives)


def anchored_non_edges(
    anchors: np.ndarray,
    num_nodes: int,
    edges: np.ndarray,
    *,
    per_anchor: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """``(2, per_anchor * K)`` pairs ``(anchor, w)``, ``w`` uniform among the nodes that
    are neither the anchor nor its neighbour in the undirected ``edges`` ``(2, M)``."""
    anchors = np.asarray(anchors, dtype=np.int64)
    if anchors.size and (anchors.min() < 0 or anchors.max() >= num_nodes):
        raise ValueError(
            f"anchors must lie in 0..{num_nodes - 1}, got ids {anchors.min()}..{anchors.max()}"
        )
    if per_anchor < 1:
        raise ValueError(f"per_anchor must be at least 1, got {per_anchor}")
    edges = np.asarray(edges, dtype=np.int64)
    low, high = np.minimum(edges[0], edges[1]), np.maximum(edges[0], edges[1])
    taken = set((low * num_nodes + high).tolist())
    degree = np.bincount(edges.reshape(-1), minlength=num_nodes)
    rng = np.random.default_rng(seed)
    repeated = np.repeat(anchors, per_anchor)
    partners = np.empty_like(repeated)
    for index, anchor in enumerate(repeated.tolist()):
        if degree[anchor] >= num_nodes - 1:
            raise ValueError(f"node {anchor} is linked to every other node: it has no non-edge")
        while True:  # rejection sampling: graphs here are sparse, so this ends fast
            other = int(rng.integers(num_nodes))
            if other != anchor and min(anchor, other) * num_nodes + max(anchor, other) not in taken:
                partners[index] = other
                break
    return np.stack([repeated, partners])


def node_posteriors(
    model: Any, x: Tensor, edge_index: Tensor, anchors: Tensor | None = None
) -> np.ndarray:
    """What the adversary queries: every node's posterior ``(N, C)``.

    Class probabilities for node classifiers; for link predictors the profile of link
    probabilities to ``anchors`` (required then), ``(N, len(anchors))``.
    """
    import torch

    from unlearn_graph.training import predict

    n = x.shape[0]
    if model.task == "node":
        return predict(model, x, edge_index, torch.arange(n)).numpy()
    if anchors is None or anchors.numel() == 0:
        raise ValueError("a link predictor's posteriors need anchor nodes (got none)")
    nodes = torch.arange(n).repeat_interleave(anchors.numel())
    pairs = torch.stack([nodes, anchors.repeat(n)])
    return predict(model, x, edge_index, pairs).numpy().reshape(n, anchors.numel())
