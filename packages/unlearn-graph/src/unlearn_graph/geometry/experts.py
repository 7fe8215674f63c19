r"""Graph encoders in one geometry each: GraphShaper's experts and the single-geometry baselines.

Every expert maps the node features $X$ to one tangent vector at the origin per node
(``(N, hidden)``), so experts of different geometries can be fused and compared in one
space. $\hat A = D^{-1/2}(A + I)D^{-1/2}$ is the GCN propagation matrix.

- `EuclideanExpert`: the GCN of Kipf & Welling (arXiv:1609.02907),
  $H^{(l+1)} = \sigma(\hat A H^{(l)} W^{(l)} + b^{(l)})$.
- `StereographicExpert` with curvature $\kappa$ ($< 0$ hyperbolic, the Poincaré ball;
  $> 0$ spherical), a tangent-space GCN in the manner of HGCN (Chami et al.,
  arXiv:1910.12933) and $\kappa$-GCN (Bachmann et al., arXiv:1911.05076), maps at the
  origin (`unlearn_graph.geometry.manifolds`): $h^{(0)} = \exp_0^\kappa(x)$, then per layer
  the Möbius linear map and bias $m = \exp_0^\kappa(W \log_0^\kappa h) \oplus_\kappa
  \exp_0^\kappa(b)$, aggregation in the tangent space $h = \exp_0^\kappa(\hat A
  \log_0^\kappa m)$, and the nonlinearity $h = \exp_0^\kappa(\sigma(\log_0^\kappa h))$
  between layers; it returns $\log_0^\kappa h^{(L)}$.
- `TextExpert`: an MLP on the features alone (no graph), the text-only reference.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor, nn

from unlearn_graph.geometry.manifolds import exp0, log0, mobius_add


def propagation_matrix(edge_index: Tensor, num_nodes: int) -> Tensor:
    """$\\hat A = D^{-1/2}(A + I)D^{-1/2}$ as a sparse ``(N, N)`` tensor (directed
    ``edge_index`` listing both directions of every edge)."""
    loops = torch.arange(num_nodes)
    rows = torch.cat([edge_index[0], loops])
    cols = torch.cat([edge_index[1], loops])
    degree = torch.zeros(num_nodes).index_add_(0, rows, torch.ones(rows.numel()))
    values = degree[rows].rsqrt() * degree[cols].rsqrt()
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (num_nodes, num_nodes), check_invariants=False
    ).coalesce()


class EuclideanExpert(nn.Module):
    """A GCN; its output is its own tangent vector (flat space)."""

    def __init__(self, in_dim: int, hidden: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        widths = [in_dim] + [hidden] * num_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.dropout = dropout

    def forward(self, x: Tensor, propagation: Tensor) -> Tensor:
        h = x
        for index, layer in enumerate(self.layers):
            assert isinstance(layer, nn.Linear)
            h = torch.sparse.mm(propagation, h @ layer.weight.T) + layer.bias
            if index < len(self.layers) - 1:
                h = nn.functional.dropout(torch.relu(h), self.dropout, self.training)
        return h


class StereographicExpert(nn.Module):
    """A tangent-space GCN on the $\\kappa$-stereographic space of ``curvature``."""

    def __init__(
        self, in_dim: int, hidden: int, num_layers: int, dropout: float, curvature: float
    ) -> None:
        super().__init__()
        if curvature == 0:
            raise ValueError("curvature 0 is the Euclidean expert; give a curvature != 0")
        widths = [in_dim] + [hidden] * num_layers
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in pairwise(widths))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(b)) for b in widths[1:])
        self.dropout, self.curvature = dropout, curvature

    def forward(self, x: Tensor, propagation: Tensor) -> Tensor:
        k = self.curvature
        h = exp0(x, k)
        for index, (layer, bias) in enumerate(zip(self.layers, self.biases, strict=True)):
            moved = mobius_add(exp0(layer(log0(h, k)), k), exp0(bias, k), k)
            h = exp0(torch.sparse.mm(propagation, log0(moved, k)), k)
            if index < len(self.layers) - 1:
                tangent = nn.functional.dropout(torch.relu(log0(h, k)), self.dropout, self.training)
                h = exp0(tangent, k)
        return log0(h, k)


class TextExpert(nn.Module):
    """An MLP on the node features alone (the graph is ignored)."""

    def __init__(self, in_dim: int, hidden: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        widths = [in_dim] + [hidden] * num_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.dropout = dropout

    def forward(self, x: Tensor, propagation: Tensor) -> Tensor:
        del propagation
        h = x
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index < len(self.layers) - 1:
                h = nn.functional.dropout(torch.relu(h), self.dropout, self.training)
        return h
