"""Baselines for edge-dependent node classification: one representation per node.

Each model returns logits ``(P, num_classes)``, one row per incidence of an
`Incidence`, like `unlearn_graph.hyper.conhd.CoNHD`; they differ in what they keep
between layers.

- `WhatsNetLike`, after WHATsNet (Choe, Kim, Shin, Jang, Kim, KDD 2023,
  arXiv:2306.03032): a node embedding $h_v$ and a hyperedge embedding $h_e$. Each layer
  runs a self-attention block (SAB) over the members of every hyperedge,
  $z_{\\cdot,e} = \\operatorname{SAB}(\\{h_u\\}_{u\\in e})$, pools
  $h_e = \\operatorname{mean}_{u\\in e} z_{u,e}$, runs a SAB over every node's
  hyperedges, $y_{v,\\cdot} = \\operatorname{SAB}(\\{h_f\\}_{f\\ni v})$, and updates
  $h_v \\leftarrow \\operatorname{LN}(\\operatorname{ReLU}(W[h_v; \\operatorname{mean}_f
  y_{v,f}]))$. A pair is predicted from $[z_{v,e}; h_e]$ of one more within-hyperedge
  SAB. The edge-dependent $z_{v,e}$ exist only inside a layer: what is carried to the
  next layer is one $h_v$ per node. Departures from WHATsNet: mean pooling instead of
  its PMA (pooling by attention with a learned seed), and no positional encoding of
  the node's centrality order inside the hyperedge.
- `HGNNPairs`: HGNN (Feng, You, Zhang, Ji, Gao, AAAI 2019, arXiv:1809.09401)
  convolutions $X' = D_v^{-1/2} H D_e^{-1} H^\\top D_v^{-1/2} X \\Theta$ (the layer of
  `unlearn_graph.edges.dht.DualHypergraphConv`, here on the hypergraph itself), the
  hyperedge embedding the mean of its members, and a pair predicted from
  $[h_v; h_e]$.
- `NodeOnly`: an MLP of $x_v$ alone, the same label for all of a node's hyperedges:
  the reference that shows how much of the label the hyperedge carries.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from unlearn_graph.edges.dht import DualHypergraphConv
from unlearn_graph.hyper.conhd import Incidence, SetOperator, mlp, segment_mean


class WhatsNetLike(nn.Module):
    """WHATsNet-like node and hyperedge embeddings with within-set attention."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 32,
        layers: int = 2,
        heads: int = 4,
        layer_norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.encode = nn.Linear(in_channels, hidden)
        self.within_hyperedge = nn.ModuleList(
            SetOperator(hidden, "sab", 1, heads, layer_norm) for _ in range(layers + 1)
        )
        self.within_node = nn.ModuleList(
            SetOperator(hidden, "sab", 1, heads, layer_norm) for _ in range(layers)
        )
        self.update = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(layers))
        self.norms = nn.ModuleList(
            nn.LayerNorm(hidden) if layer_norm else nn.Identity() for _ in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = mlp(2 * hidden, hidden, num_classes, 2)

    def _hyperedges(self, nodes: Tensor, incidence: Incidence, layer: int) -> tuple[Tensor, Tensor]:
        within = self.within_hyperedge[layer](nodes[incidence.nodes], incidence.by_hyperedge)
        within = self.dropout(within)
        return within, segment_mean(within, incidence.hyperedges, incidence.num_hyperedges)

    def forward(self, x: Tensor, incidence: Incidence) -> Tensor:
        nodes = torch.relu(self.encode(x))
        for layer, (within_node, update, norm) in enumerate(
            zip(self.within_node, self.update, self.norms, strict=True)
        ):
            _, hyperedges = self._hyperedges(nodes, incidence, layer)
            gathered = self.dropout(
                within_node(hyperedges[incidence.hyperedges], incidence.by_node)
            )
            pooled = segment_mean(gathered, incidence.nodes, incidence.num_nodes)
            nodes = norm(torch.relu(update(torch.cat([nodes, pooled], dim=-1))))
        pairs, hyperedges = self._hyperedges(nodes, incidence, len(self.update))
        return self.head(torch.cat([pairs, hyperedges[incidence.hyperedges]], dim=-1))


class HGNNPairs(nn.Module):
    """HGNN node embeddings, hyperedge = mean of its members, pair from $[h_v; h_e]$."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 32, layers: int = 2):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.encode = nn.Linear(in_channels, hidden)
        self.convs = nn.ModuleList(
            DualHypergraphConv(hidden, hidden, "symmetric") for _ in range(layers)
        )
        self.head = mlp(2 * hidden, hidden, num_classes, 2)

    def forward(self, x: Tensor, incidence: Incidence) -> Tensor:
        nodes = torch.relu(self.encode(x))
        index = torch.stack([incidence.nodes, incidence.hyperedges])
        for conv in self.convs:
            nodes = torch.relu(conv(nodes, index, incidence.num_hyperedges))
        pairs = nodes[incidence.nodes]
        hyperedges = segment_mean(pairs, incidence.hyperedges, incidence.num_hyperedges)
        return self.head(torch.cat([pairs, hyperedges[incidence.hyperedges]], dim=-1))


class NodeOnly(nn.Module):
    """An MLP of the node's features: one prediction per node, repeated per hyperedge."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 32, layers: int = 2):
        super().__init__()
        widths = [in_channels] + [hidden] * layers
        modules: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            modules += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*modules)
        self.head = mlp(hidden, hidden, num_classes, 2)

    def forward(self, x: Tensor, incidence: Incidence) -> Tensor:
        return self.head(self.body(x))[incidence.nodes]


__all__ = ["HGNNPairs", "NodeOnly", "WhatsNetLike"]
