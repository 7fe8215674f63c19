"""Local graph clustering with noisy node labels.

Seed paper: Back de Luca, Fountoulakis, Yang, "Local Graph Clustering with Noisy Labels"
(arXiv:2310.08031). Every node carries a binary label ỹ_u, 1 for "in the target
cluster", of which a fraction is wrong. The label-weighted graph keeps the edges and
reweights them,

    w_uv = 1  if ỹ_u = ỹ_v = 1,   w_uv = ε  otherwise,

so that a diffusion from a seed of the target cluster flows along edges between
positively labelled nodes and leaks little elsewhere. The cluster is read off the
diffusion by a sweep cut (minimum conductance in the graph that was diffused on).

Baselines: the same diffusion on the unweighted graph, and the labels alone (every
node labelled 1 in the graph).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from graph_algos.generators import SeedLike, as_rng, stochastic_block_model
from graph_algos.kernels import acl_push, as_csr, l2_flow_diffusion, sweep_cut

Diffusion = Literal["flow", "acl"]


def noisy_labels(
    target: np.ndarray,
    n: int,
    true_positive_rate: float,
    false_positive_rate: float,
    seed: SeedLike = None,
) -> np.ndarray:
    """Binary labels: 1 with probability ``true_positive_rate`` inside the target cluster
    and with probability ``false_positive_rate`` outside it."""
    for name, value in (
        ("true_positive_rate", true_positive_rate),
        ("false_positive_rate", false_positive_rate),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    rng = as_rng(seed)
    inside = np.zeros(n, dtype=bool)
    inside[target] = True
    draws = rng.random(n)
    return np.where(inside, draws < true_positive_rate, draws < false_positive_rate).astype(
        np.int64
    )


def label_weighted_graph(
    adjacency: sp.spmatrix, labels: np.ndarray, epsilon: float = 0.05
) -> sp.csr_matrix:
    """Edges between two nodes labelled 1 keep weight 1; all others get weight ε."""
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(f"epsilon must be in (0, 1], got {epsilon}")
    matrix = as_csr(adjacency).tocoo()
    if labels.shape != (matrix.shape[0],):
        raise ValueError(
            f"labels must have one entry per node ({matrix.shape[0]}), got {labels.shape}"
        )
    both = (labels[matrix.row] == 1) & (labels[matrix.col] == 1)
    weights = np.where(both, 1.0, epsilon)
    return sp.csr_matrix((weights, (matrix.row, matrix.col)), shape=matrix.shape)


def f1_score(predicted: np.ndarray | list[int], target: np.ndarray | list[int]) -> float:
    """F1 of a predicted node set against the target node set (0 when either is empty)."""
    found, truth = set(np.asarray(predicted).tolist()), set(np.asarray(target).tolist())
    hits = len(found & truth)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(found), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


def local_cluster(
    adjacency: sp.spmatrix,
    seed_node: int,
    diffusion: Diffusion = "flow",
    source_mass: float | None = None,
    alpha: float = 0.05,
    epsilon: float = 1e-5,
) -> list[int]:
    """Cluster around ``seed_node``: diffuse, then sweep cut.

    ``flow``: ℓ2 flow diffusion with ``source_mass`` (default 40 × the seed's degree, a
    rough guess of the cluster volume that the caller should override), sweep over the
    potentials; ``acl``: ACL push with ``alpha`` and ``epsilon``, sweep over p/d.
    """
    matrix = as_csr(adjacency)
    if diffusion == "flow":
        if source_mass is None:
            source_mass = 40.0 * float(matrix[seed_node].sum())
        scores = l2_flow_diffusion(matrix, seed_node, source_mass).scores
        return sweep_cut(matrix, scores, degree_normalized=False).nodes
    if diffusion == "acl":
        scores = acl_push(matrix, seed_node, alpha, epsilon).scores
        return sweep_cut(matrix, scores).nodes
    raise ValueError(f"unknown diffusion {diffusion!r}; accepted: flow, acl")


@dataclass(frozen=True)
class NoisyLabelWorld:
    """A planted-partition graph whose block 0 is the target cluster, with noisy labels."""

    adjacency: sp.csr_matrix
    target: np.ndarray
    labels: np.ndarray


def noisy_label_world(
    cluster_size: int,
    clusters: int,
    p_in: float,
    p_out: float,
    true_positive_rate: float,
    false_positive_rate: float,
    seed: SeedLike = None,
) -> NoisyLabelWorld:
    """``clusters`` blocks of ``cluster_size`` nodes (in-block p_in, across p_out); labels
    flag block 0 with the given true and false positive rates."""
    rng = as_rng(seed)
    matrix = np.full((clusters, clusters), p_out)
    np.fill_diagonal(matrix, p_in)
    adjacency, blocks = stochastic_block_model([cluster_size] * clusters, matrix, rng)
    target = np.flatnonzero(blocks == 0)
    labels = noisy_labels(target, len(blocks), true_positive_rate, false_positive_rate, rng)
    return NoisyLabelWorld(adjacency, target, labels)
