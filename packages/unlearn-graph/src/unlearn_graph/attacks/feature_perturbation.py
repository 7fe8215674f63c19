r"""Black-box feature perturbation of a few selected nodes (RWCS / GC-RWCS on trained GNNs).

Seed paper: Ma, Ding, Mei, "Towards More Practical Adversarial Attacks on Graph Neural
Networks" (NeurIPS 2020, arXiv:2006.05057). The attacker

1. may touch only inconspicuous nodes: those whose degree is at most the degree of the
   node ranked ``top_share`` of the way down the degree order (`degree_limit`; the paper
   runs 10 % and 30 %);
2. picks ``r`` of them from the graph alone, without the model (`select_attacked_nodes`):
   ``random`` and ``degree`` (largest degree within the limit) baselines, ``rwcs`` (largest
   random-walk column sum $I_j = \sum_i [M^L]_{ij}$, $M = \tilde D^{-1}(A + I)$) and
   ``gc-rwcs`` (the greedy correction for the diminishing return), both from
   ``graph_algos.methods.robustness``;
3. adds one constant vector $\tau$ to the features of every selected node,
   $x'_j = x_j + \tau$ for $j \in S$ (`perturb_nodes`).

The paper builds $\tau$ from the gradient of the trained model's training loss $L$ and
says that only this step sees the model: $\tau_l = \lambda \,
\mathrm{sign}\big(\sum_i \partial L / \partial X_{il}\big)$ on the ``features`` columns of
largest $\big|\sum_i \partial L / \partial X_{il}\big|$ and $0$ elsewhere
(`gradient_perturbation`). `random_perturbation` is our model-free variant (random signs
on random columns), not the paper's. The score is the mis-classification rate of the
clean-trained model on the test nodes (`misclassification_rate`), beside its test loss:
the paper's point is that RWCS raises the loss a lot but the mis-classification rate
little, because the rate shows a diminishing return as $r$ grows.

graph-algos is optional for unlearn-graph: it is imported inside the selectors that need
it, with an error saying so. torch is imported inside the functions too, so that reading
the params here stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    import scipy.sparse as sp
    from torch import Tensor

Selector = Literal["random", "degree", "rwcs", "gc-rwcs"]
SELECTORS: tuple[Selector, ...] = get_args(Selector)


def _robustness() -> Any:
    """graph-algos' RWCS module, or an error saying that these selectors need it."""
    try:
        from graph_algos.methods import robustness
    except ImportError as error:
        raise RuntimeError(
            "the rwcs and gc-rwcs selectors come from graph-algos "
            "(graph_algos.methods.robustness): pip install graph-algos"
        ) from error
    return robustness


def adjacency_matrix(edges: np.ndarray, num_nodes: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency of ``(2, M)`` undirected pairs (each pair once)."""
    import scipy.sparse as sp

    pairs = np.asarray(edges, dtype=np.int64)
    if pairs.ndim != 2 or pairs.shape[0] != 2:
        raise ValueError(f"edges must have shape (2, M), got {pairs.shape}")
    rows = np.r_[pairs[0], pairs[1]]
    cols = np.r_[pairs[1], pairs[0]]
    matrix = sp.csr_matrix(
        (np.ones(rows.size), (rows, cols)), shape=(num_nodes, num_nodes), dtype=np.float64
    )
    matrix.data[:] = 1.0  # duplicate pairs count once
    return matrix


def degree_limit(adjacency: sp.spmatrix, top_share: float) -> int:
    """The largest degree an attacker may touch: the degree of the node at position
    ``floor(n * top_share)`` of the degree order, largest first (the paper's threshold;
    ``top_share`` 0 allows every node)."""
    if not 0.0 <= top_share < 1.0:
        raise ValueError(f"top_share must be in [0, 1), got {top_share}")
    degree = np.diff(adjacency.tocsr().indptr)
    ranked = np.sort(degree)[::-1]
    return int(ranked[int(len(ranked) * top_share)])


def rwcs_importance(adjacency: sp.spmatrix, steps: int) -> np.ndarray:
    r"""$I_j = \sum_i [M^L]_{ij}$ for every node (graph-algos' ``rwcs_scores``)."""
    return np.asarray(_robustness().rwcs_scores(adjacency, steps))


def select_attacked_nodes(
    selector: Selector,
    adjacency: sp.spmatrix,
    budget: int,
    *,
    max_degree: int | None = None,
    steps: int = 4,
    top_per_target: int | None = 30,
    seed: int = 0,
) -> list[int]:
    """``budget`` nodes of degree at most ``max_degree``, most important first (a prefix
    of the list is the selection for a smaller budget).

    ``steps`` is RWCS's walk length L; ``top_per_target`` is GC-RWCS's binarisation (the
    top influencers kept per target, the paper's ``l``; None keeps the whole support of
    $M^L$); ``seed`` draws the random baseline and breaks degree ties.
    """
    matrix = adjacency.tocsr()
    degree = np.diff(matrix.indptr)
    limit = degree.max(initial=0) if max_degree is None else max_degree
    pool = np.flatnonzero(degree <= limit)
    if not 0 <= budget <= pool.size:
        raise ValueError(
            f"budget must be in [0, {pool.size}] (the nodes of degree <= {max_degree}), "
            f"got {budget}"
        )
    rng = np.random.default_rng(seed)
    if selector == "random":
        return [int(v) for v in rng.permutation(pool)[:budget]]
    if selector == "degree":
        order = np.lexsort((rng.random(pool.size), -degree[pool]))
        return [int(v) for v in pool[order][:budget]]
    if selector == "rwcs":
        return list(_robustness().rwcs(matrix, budget, steps=steps, max_degree=max_degree))
    if selector == "gc-rwcs":
        return list(
            _robustness().gc_rwcs(
                matrix, budget, steps=steps, max_degree=max_degree, top_per_target=top_per_target
            )
        )
    raise ValueError(f"unknown selector {selector!r}; accepted: {', '.join(SELECTORS)}")


def gradient_perturbation(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    labels: Tensor,
    train_nodes: Tensor,
    *,
    features: int,
    strength: float,
) -> Tensor:
    r"""The paper's $\tau$: $\lambda\,\mathrm{sign}(\sum_i \partial L/\partial X_{il})$ on the
    ``features`` columns of largest $|\sum_i \partial L/\partial X_{il}|$, else 0, with $L$
    the cross-entropy of ``model`` on ``train_nodes``."""
    import torch

    if not 1 <= features <= x.shape[1]:
        raise ValueError(f"features must be in [1, {x.shape[1]}], got {features}")
    if strength < 0:
        raise ValueError(f"strength (lambda) must be non-negative, got {strength}")
    model.eval()
    inputs = x.detach().clone().requires_grad_(True)
    logits = model.score(inputs, edge_index, train_nodes)
    loss = torch.nn.functional.cross_entropy(logits, labels[train_nodes])
    (gradient,) = torch.autograd.grad(loss, inputs)
    column = gradient.sum(0)
    chosen = torch.topk(column.abs(), features).indices
    tau = torch.zeros(x.shape[1], dtype=x.dtype)
    tau[chosen] = strength * torch.sign(column[chosen])
    return tau


def random_perturbation(num_features: int, *, features: int, strength: float, seed: int) -> Tensor:
    """Model-free variant (ours): $\\pm\\lambda$ with random signs on ``features`` random
    columns, else 0."""
    import torch

    if not 1 <= features <= num_features:
        raise ValueError(f"features must be in [1, {num_features}], got {features}")
    rng = np.random.default_rng(seed)
    tau = np.zeros(num_features, dtype=np.float32)
    chosen = rng.choice(num_features, features, replace=False)
    tau[chosen] = strength * rng.choice([-1.0, 1.0], features)
    return torch.from_numpy(tau)


def perturb_nodes(x: Tensor, nodes: list[int], tau: Tensor) -> Tensor:
    """A copy of ``x`` with ``tau`` added to the rows ``nodes`` (the same vector on each)."""
    import torch

    if tau.shape != (x.shape[1],):
        raise ValueError(f"tau must have shape ({x.shape[1]},), got {tuple(tau.shape)}")
    if nodes and (min(nodes) < 0 or max(nodes) >= x.shape[0]):
        raise ValueError(f"nodes must be in 0..{x.shape[0] - 1}")
    perturbed = x.clone()
    if nodes:
        rows = torch.as_tensor(sorted(set(nodes)), dtype=torch.long)
        perturbed[rows] += tau
    return perturbed


def misclassification_rate(
    model: Any, x: Tensor, edge_index: Tensor, labels: Tensor, nodes: Tensor
) -> tuple[float, float]:
    """(mis-classification rate, mean cross-entropy) of ``model`` on ``nodes``."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = model.score(x, edge_index, nodes)
        wrong = float((logits.argmax(-1) != labels[nodes]).float().mean())
        loss = float(torch.nn.functional.cross_entropy(logits, labels[nodes]))
    return wrong, loss


def select_for_task(
    task: Any, selector: Selector, budget: int, params: FeatureAttackParams, *, seed: int = 0
) -> list[int]:
    """`select_attacked_nodes` on ``task``'s graph with ``params``' degree limit and walk."""
    adjacency = adjacency_matrix(task.edges.numpy(), task.num_nodes)
    return select_attacked_nodes(
        selector,
        adjacency,
        budget,
        max_degree=degree_limit(adjacency, params.degree_top_share),
        steps=params.steps,
        top_per_target=params.top_per_target,
        seed=seed,
    )


class FeatureAttackParams(MethodParams):
    """The attack's knobs: perturbation size and support, degree limit, RWCS walk."""

    def perturbed_features(self, num_features: int) -> int:
        """J = round(feature_share * D), at least 1."""
        return max(1, round(self.feature_share * num_features))

    strength: float = Field(default=1.0, ge=0.0, description="lambda: size of each entry of tau.")
    feature_share: float = Field(
        default=0.25, gt=0.0, le=1.0, description="J / D: share of feature columns perturbed."
    )
    direction: Literal["gradient", "random"] = Field(
        default="gradient",
        description="gradient: the paper's tau from the training-loss gradient; random: ours.",
    )
    degree_top_share: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Nodes above this degree quantile are off limits."
    )
    steps: int = Field(default=4, ge=1, le=8, description="RWCS walk length L.")
    top_per_target: int | None = Field(
        default=30, ge=1, description="GC-RWCS: top influencers kept per target (paper's l)."
    )


def build_perturbation(
    model: Any, task: Any, params: FeatureAttackParams, *, seed: int = 0
) -> Tensor:
    """$\tau$ for ``task`` (a `unlearn_graph.tasks.NodeTask`) as ``params.direction`` says:
    `gradient_perturbation` of ``model`` on the training nodes, or `random_perturbation`."""
    features = params.perturbed_features(task.x.shape[1])
    if params.direction == "gradient":
        return gradient_perturbation(
            model,
            task.x,
            task.edge_index,
            task.y,
            task.train_idx,
            features=features,
            strength=params.strength,
        )
    return random_perturbation(
        task.x.shape[1], features=features, strength=params.strength, seed=seed
    )


def attack_curve(
    model: Any,
    task: Any,
    selector: Selector,
    budgets: list[int],
    params: FeatureAttackParams,
    *,
    tau: Tensor | None = None,
    chosen: list[int] | None = None,
    seed: int = 0,
) -> list[tuple[int, float, float]]:
    """(budget, mis-classification rate, test loss) on ``task``'s test nodes after
    perturbing the first ``budget`` selected nodes, for every budget (0 is the clean
    model). ``task`` is a `unlearn_graph.tasks.NodeTask`; ``tau`` defaults to the one
    ``params.direction`` builds, ``chosen`` to ``selector``'s ranking of the nodes within
    the degree limit (the selection never sees the model, so it can be shared between
    models)."""
    if tau is None:
        tau = build_perturbation(model, task, params, seed=seed)
    if chosen is None:
        chosen = select_for_task(task, selector, max(budgets, default=0), params, seed=seed)
    if max(budgets, default=0) > len(chosen):
        raise ValueError(f"budgets reach {max(budgets)} but only {len(chosen)} nodes are chosen")
    curve = []
    for budget in budgets:
        perturbed = perturb_nodes(task.x, chosen[:budget], tau)
        rate, loss = misclassification_rate(
            model, perturbed, task.edge_index, task.y, task.test_idx
        )
        curve.append((budget, rate, loss))
    return curve
