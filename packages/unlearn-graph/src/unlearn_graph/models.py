"""GCN, GraphSAGE, GAT and GIN backbones (torch-geometric layers) with task heads.

A :class:`GraphModel` embeds nodes with ``num_layers`` message-passing layers, then
reads out either class logits (a linear head on a node's embedding) or a link logit
(the dot product of the two endpoint embeddings). ``layer_hook`` lets a method
transform each layer's output (GNNDelete's deletion operators use it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor, nn

from unlearn_graph.config import BackboneConfig

LayerHook = Callable[[int, Tensor], Tensor]


def make_conv(config: BackboneConfig, in_dim: int, out_dim: int) -> nn.Module:
    """One message-passing layer of the chosen backbone."""
    from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv

    if config.backbone == "gcn":
        return GCNConv(in_dim, out_dim)
    if config.backbone == "sage":
        return SAGEConv(in_dim, out_dim)
    if config.backbone == "gat":
        return GATConv(in_dim, out_dim // config.heads, heads=config.heads)
    mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))
    return GINConv(mlp)


class GraphModel(nn.Module):
    """A backbone plus a readout for ``task`` ("node" or "link")."""

    def __init__(
        self, in_dim: int, config: BackboneConfig, task: str, num_classes: int | None = None
    ) -> None:
        super().__init__()
        if task not in ("node", "link"):
            raise ValueError(f"task must be 'node' or 'link', got {task!r}")
        if task == "node" and (num_classes is None or num_classes < 2):
            raise ValueError(f"node classification needs num_classes >= 2, got {num_classes}")
        self.config = config
        self.task = task
        self.in_dim = in_dim
        self.num_classes = num_classes
        dims = [in_dim] + [config.hidden] * config.num_layers
        self.convs = nn.ModuleList(make_conv(config, a, b) for a, b in itertools.pairwise(dims))
        self.head = (
            nn.Linear(config.hidden, num_classes) if num_classes and task == "node" else None
        )

    @property
    def num_layers(self) -> int:
        return len(self.convs)

    def embed(self, x: Tensor, edge_index: Tensor, layer_hook: LayerHook | None = None) -> Tensor:
        h = x
        for layer, conv in enumerate(self.convs):
            h = conv(h, edge_index)
            if layer < len(self.convs) - 1:
                h = torch.relu(h)
                h = nn.functional.dropout(h, p=self.config.dropout, training=self.training)
            if layer_hook is not None:
                h = layer_hook(layer, h)
        return h

    def readout(self, z: Tensor, elements: Tensor) -> Tensor:
        """Class logits ``(K, C)`` for node ids ``(K,)``, or link logits ``(K,)`` for pairs
        ``(2, K)``."""
        if self.head is not None:
            return self.head(z[elements])
        return (z[elements[0]] * z[elements[1]]).sum(-1)

    def score(self, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor:
        return self.readout(self.embed(x, edge_index), elements)


def build_model(
    in_dim: int, config: BackboneConfig, task: str, num_classes: int | None, seed: int
) -> GraphModel:
    """A freshly initialised model; the same seed gives the same initial weights."""
    torch.manual_seed(seed)
    return GraphModel(in_dim, config, task, num_classes)


def fresh_copy(model: GraphModel, seed: int) -> GraphModel:
    """A newly initialised model with the architecture of ``model``."""
    return build_model(model.in_dim, model.config, model.task, model.num_classes, seed)
