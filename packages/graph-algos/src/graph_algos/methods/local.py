r"""Local graph clustering with noisy node labels.

Seed paper: Back de Luca, Fountoulakis, Yang, "Local Graph Clustering with Noisy Labels"
(arXiv:2310.08031). Every node carries a binary label $\tilde y_u$, 1 for "in the target
cluster", of which a fraction is wrong. The label-weighted graph keeps the edges and
reweights them,

$$w_{uv} = 1 \text{ if } \tilde y_u = \tilde y_v = 1, \qquad
  w_{uv} = \varepsilon \text{ otherwise},$$

so that a diffusion from a seed of the target cluster flows along edges between
positively labelled nodes and leaks little elsewhere. The cluster is read off the
diffusion by a sweep cut (minimum conductance in the graph that was diffused on).

Registered methods, each ``method(adjacency, task: LabelledSeed, params) -> nodes``:
``weighted-flow`` (the paper's: $\ell_2$ flow diffusion on the label-weighted graph),
``weighted-acl`` (ACL push on it), and the baselines ``unweighted-flow``,
``unweighted-acl`` (the same diffusions on the plain graph) and ``labels-only`` (every
node labelled 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from unlearn_schema import MethodParams, NoParams

from graph_algos.kernels import acl_push, as_csr, degrees, l2_flow_diffusion, sweep_cut

Diffusion = Literal["flow", "acl"]


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


def local_cluster(
    adjacency: sp.spmatrix,
    seed_node: int,
    diffusion: Diffusion = "flow",
    source_mass: float | None = None,
    alpha: float = 0.05,
    epsilon: float = 1e-5,
) -> list[int]:
    r"""Cluster around ``seed_node``: diffuse, then sweep cut.

    ``flow``: $\ell_2$ flow diffusion with ``source_mass`` (default 40 × the seed's
    degree, a rough guess of the cluster volume that the caller should override), sweep
    over the potentials; ``acl``: ACL push with ``alpha`` and ``epsilon``, sweep over
    p/d.
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


# ------------------------------------------------------------------ registry entries


@dataclass(frozen=True)
class LabelledSeed:
    """What a noisy-label method works on: the seed node and every node's noisy label.

    ``target`` is read only to size the flow's source mass: the target's volume in the
    graph diffused on is assumed known up to ``mass_factor`` (as in the paper's
    experiments); the methods never look at which nodes it holds otherwise.
    """

    seed_node: int
    labels: np.ndarray
    target: np.ndarray


class FlowParams(MethodParams):
    r"""$\ell_2$ flow diffusion: source mass = ``mass_factor`` × the target's volume."""

    mass_factor: float = Field(
        default=1.5, gt=0.0, le=20.0, description="Source mass = factor × estimated target volume."
    )


class WeightedFlowParams(FlowParams):
    """Flow diffusion on the label-weighted graph: also the weight ε of the other edges."""

    epsilon: float = Field(
        default=0.05, gt=0.0, le=1.0, description="Weight of non-positive edges."
    )


class ACLParams(MethodParams):
    """ACL push: teleport probability α and tolerance ε (residuals below ε d_u stay)."""

    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="ACL teleport probability.")
    push_epsilon: float = Field(default=1e-4, gt=0.0, lt=1.0, description="ACL tolerance.")


class WeightedACLParams(ACLParams):
    """ACL push on the label-weighted graph: also the weight ε of the other edges."""

    epsilon: float = Field(
        default=0.05, gt=0.0, le=1.0, description="Weight of non-positive edges."
    )


def _flow(graph: sp.spmatrix, task: LabelledSeed, mass_factor: float) -> list[int]:
    volume = len(task.target) * degrees(graph)[task.target].mean()
    # Mass near the whole graph's volume cannot settle; cap it.
    mass = min(mass_factor * volume, 0.8 * graph.sum())
    return local_cluster(graph, task.seed_node, "flow", source_mass=mass)


def weighted_flow(
    adjacency: sp.spmatrix, task: LabelledSeed, params: WeightedFlowParams
) -> list[int]:
    r"""The paper's method: $\ell_2$ flow diffusion on the label-weighted graph, sweep cut."""
    graph = label_weighted_graph(adjacency, task.labels, params.epsilon)
    return _flow(graph, task, params.mass_factor)


def unweighted_flow(adjacency: sp.spmatrix, task: LabelledSeed, params: FlowParams) -> list[int]:
    """Baseline: the same flow diffusion on the plain graph (labels ignored)."""
    return _flow(adjacency, task, params.mass_factor)


def weighted_acl(
    adjacency: sp.spmatrix, task: LabelledSeed, params: WeightedACLParams
) -> list[int]:
    """ACL push on the label-weighted graph, sweep cut over p/d."""
    graph = label_weighted_graph(adjacency, task.labels, params.epsilon)
    return local_cluster(
        graph, task.seed_node, "acl", alpha=params.alpha, epsilon=params.push_epsilon
    )


def unweighted_acl(adjacency: sp.spmatrix, task: LabelledSeed, params: ACLParams) -> list[int]:
    """Baseline: ACL push on the plain graph (labels ignored)."""
    return local_cluster(
        adjacency, task.seed_node, "acl", alpha=params.alpha, epsilon=params.push_epsilon
    )


def labels_only(adjacency: sp.spmatrix, task: LabelledSeed, params: NoParams) -> list[int]:
    """Baseline: the nodes labelled 1, whatever the graph says."""
    del adjacency, params
    return [int(v) for v in np.flatnonzero(task.labels)]
