r"""Label propagation from the noisy training labels (Zhou et al., "Learning with Local
and Global Consistency", NeurIPS 2003), the variant PyG's ``LabelPropagation`` runs:

$$Y^{(t+1)} = \alpha\, D^{-1/2} A D^{-1/2}\, Y^{(t)} + (1 - \alpha)\, Y^{(0)},$$

$Y^{(0)}$ the one-hot observed labels on the training nodes (zero rows elsewhere), each
step's result clipped to $[0, 1]$, $A$ without self-loops. The prediction is the
arg-max of $Y^{(L)}$. Nothing is trained, so it ignores the features.
"""

from __future__ import annotations

import torch
from torch import Tensor

from unlearn_graph.robust.common import Fitted, NoisyNodeTask
from unlearn_graph.robust.params import LabelPropagationParams


def symmetric_propagation(y: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""$D^{-1/2} A D^{-1/2} y$ for directed ``edge_index`` (both directions listed)."""
    source, target = edge_index
    degree = torch.zeros(num_nodes).index_add_(0, target, torch.ones(target.shape[0]))
    scale = degree.clamp_min(1.0).rsqrt()
    weight = (scale[source] * scale[target]).unsqueeze(1)
    return torch.zeros_like(y).index_add_(0, target, weight * y[source])


def label_propagation(noisy: NoisyNodeTask, params: LabelPropagationParams, *, seed: int) -> Fitted:
    """Spread the observed training labels over the graph; ``seed`` is unused (exact)."""
    del seed
    task = noisy.task
    start = torch.zeros(task.num_nodes, task.num_classes)
    start[task.train_idx, noisy.observed[task.train_idx]] = 1.0
    y = start
    for _ in range(params.num_layers):
        spread = symmetric_propagation(y, task.edge_index, task.num_nodes)
        y = (params.alpha * spread + (1.0 - params.alpha) * start).clamp(0.0, 1.0)
    return Fitted(y.argmax(-1))
