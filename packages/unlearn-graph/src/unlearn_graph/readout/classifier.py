"""A graph classifier whose readout is HISTOGRAPH or a last-layer pooling baseline.

``GraphClassifier`` encodes node features to ``hidden`` ($h^{(0)}$), runs ``depth``
GCN or GIN layers (ReLU between them, no residuals and no normalisation, so deep stacks
over-smooth as plain GNNs do) and keeps every layer's output: the history
$(h^{(0)}, \\dots, h^{(L)})$. The readout turns it into one vector per graph:

- ``histograph``: `HistoGraphReadout` over the whole history;
- ``mean`` / ``sum``: $\\frac{1}{|G|}\\sum_n h_n^{(L)}$ / $\\sum_n h_n^{(L)}$;
- ``attention``: global attention pooling of the last layer (Li et al., *Gated Graph
  Sequence Neural Networks*, arXiv:1511.05493): $\\sum_n \\operatorname{softmax}_n
  (w^\\top h_n^{(L)})\\, h_n^{(L)}$ with a learned gate $w$.

A two-layer MLP head maps the graph vector to class logits.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unlearn_graph.config import BackboneConfig
from unlearn_graph.models import make_conv
from unlearn_graph.readout import READOUTS, GraphBackbone, ReadoutName
from unlearn_graph.readout.histograph import HistoGraphReadout, scatter_mean

__all__ = ["READOUTS", "GatePooling", "GraphClassifier"]


class GatePooling(nn.Module):
    """Global attention pooling: a softmax over each graph's nodes of a linear gate."""

    def __init__(self, hidden: int):
        super().__init__()
        self.gate = nn.Linear(hidden, 1)

    def forward(self, nodes: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        from torch_geometric.utils import softmax

        weights = softmax(self.gate(nodes).squeeze(-1), batch, num_nodes=num_graphs)
        total = nodes.new_zeros((num_graphs, nodes.shape[1]))
        return total.index_add_(0, batch, weights.unsqueeze(-1) * nodes)


class GraphClassifier(nn.Module):
    """Encoder, ``depth`` message-passing layers, a readout of the history, an MLP head."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        backbone: GraphBackbone = "gcn",
        depth: int = 4,
        hidden: int = 32,
        readout: ReadoutName = "histograph",
        heads: int = 1,
    ):
        super().__init__()
        if backbone not in ("gcn", "gin"):
            raise ValueError(f"backbone must be 'gcn' or 'gin', got {backbone!r}")
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; accepted: {', '.join(READOUTS)}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.readout_name = readout
        self.encoder = nn.Linear(in_dim, hidden)
        conv_config = BackboneConfig(backbone=backbone, hidden=hidden, num_layers=1)
        self.convs = nn.ModuleList(make_conv(conv_config, hidden, hidden) for _ in range(depth))
        self.histograph = (
            HistoGraphReadout(hidden, depth + 1, heads) if readout == "histograph" else None
        )
        self.gate = GatePooling(hidden) if readout == "attention" else None
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def history(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        """Every layer's node activations, $h^{(0)}$ (the encoded input) to $h^{(L)}$."""
        h = self.encoder(x)
        states = [h]
        for layer, conv in enumerate(self.convs):
            h = conv(h, edge_index)
            if layer < len(self.convs) - 1:
                h = torch.relu(h)
            states.append(h)
        return states

    def embed_graphs(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        """One vector per graph ``(num_graphs, hidden)``."""
        states = self.history(x, edge_index)
        if self.histograph is not None:
            return self.histograph(states, batch, num_graphs)  # the layers, not stacked
        last = states[-1]
        if self.gate is not None:
            return self.gate(last, batch, num_graphs)
        if self.readout_name == "sum":
            return last.new_zeros((num_graphs, last.shape[1])).index_add_(0, batch, last)
        return scatter_mean(last, batch, num_graphs)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return self.head(self.embed_graphs(x, edge_index, batch, num_graphs))
