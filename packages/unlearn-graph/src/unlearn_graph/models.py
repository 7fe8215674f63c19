"""GCN, GraphSAGE, GAT and GIN backbones (torch-geometric layers) with task heads.

A `GraphModel` embeds nodes with ``num_layers`` message-passing layers, then
reads out either class logits (a linear head on a node's embedding) or a link logit
(the dot product of the two endpoint embeddings). ``layer_hook`` lets a method
transform each layer's output (GNNDelete's deletion operators use it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

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


SubsetHook = Callable[[int, Tensor, Tensor], Tensor]


class ComputationPlan:
    """The part of the graph that the embeddings of ``targets`` depend on.

    Layer $l$ keeps only the edges pointing into a node whose output is still needed
    (``targets`` at the last layer, and every source of a kept edge one layer below),
    with full fan-out (no sampling). The nodes involved are relabelled so that every
    layer's output nodes are a prefix of its input nodes: a layer computes only the rows
    it must (bipartite message passing), and running the layers on the plan gives
    exactly the full-graph embeddings at ``targets``, at the cost of the targets'
    receptive field instead of the whole graph. GCN's symmetric normalisation needs the
    degrees of the full graph, so for GCN the normalised edge weights are computed once
    on the full graph and restricted.
    """

    def __init__(
        self,
        model: GraphModel,
        edge_index: Tensor,
        num_nodes: int,
        targets: Tensor,
        start_layer: int = 0,
    ) -> None:
        weight = None
        self.gcn = model.config.backbone == "gcn"
        if self.gcn:
            from torch_geometric.nn.conv.gcn_conv import gcn_norm

            edge_index, weight = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
        source, target = edge_index[0], edge_index[1]
        depth = torch.full((num_nodes,), num_nodes + 1, dtype=torch.long)
        depth[targets] = 0
        needed = depth == 0
        kept: list[Tensor] = []
        layers = model.num_layers - start_layer
        for level in range(1, layers + 1):
            keep = needed[target]
            kept.append(keep)
            grown = needed.clone()
            grown[source[keep]] = True
            depth[grown & ~needed] = level
            needed = grown
        kept.reverse()
        count = int(needed.sum())
        # Nodes ordered by the depth at which they are first needed: targets first.
        self.nodes = torch.argsort(depth, stable=True)[:count]
        ordered = depth[self.nodes]
        # Rows each layer outputs: nodes needed within (layers - 1 - offset) levels.
        self.sizes = [int((ordered <= layers - 1 - k).sum()) for k in range(layers)]
        position = torch.full((num_nodes,), -1, dtype=torch.long)
        position[self.nodes] = torch.arange(count)
        self.edges = [position[edge_index[:, keep]] for keep in kept]
        self.weights = [None if weight is None else weight[keep] for keep in kept]
        self.targets = position[targets]
        self.start_layer = start_layer


def embed_on_plan(
    model: GraphModel,
    inputs: Tensor,
    plan: ComputationPlan,
    layer_hook: SubsetHook | None = None,
) -> Tensor:
    """Embeddings of ``plan.targets`` (one row per target, in order).

    ``inputs`` is indexed by global node id: the node features when the plan starts at
    layer 0, otherwise the raw (pre-activation) output of layer ``plan.start_layer - 1``.
    ``layer_hook(layer, h, nodes)`` may transform layer ``layer``'s output ``h``, whose
    rows are the global nodes ``nodes``.
    """
    h = inputs[plan.nodes]
    if plan.start_layer > 0:
        h = _activate(model, plan.start_layer - 1, h, layer_hook, plan.nodes)
    for offset, layer_conv in enumerate(model.convs[plan.start_layer :]):
        conv: Any = layer_conv
        rows = plan.sizes[offset]
        weight = plan.weights[offset]
        if weight is not None:
            # GCN: the weights already carry the full graph's normalisation.
            conv.normalize = False
            try:
                h = conv(h, plan.edges[offset], weight)[:rows]
            finally:
                conv.normalize = True
        else:
            h = conv((h, h[:rows]), plan.edges[offset], size=(h.shape[0], rows))
        h = _activate(model, plan.start_layer + offset, h, layer_hook, plan.nodes[:rows])
    return h[plan.targets]


def truncated(model: GraphModel, num_layers: int) -> Any:
    """A view of ``model``'s first ``num_layers`` layers whose last output is left raw
    (no activation), for `embed_on_plan`: the input of a plan that starts at
    layer ``num_layers``."""
    from types import SimpleNamespace

    return SimpleNamespace(
        convs=model.convs[:num_layers], num_layers=num_layers, config=model.config, training=False
    )


def plan_inputs(model: GraphModel, x: Tensor, edge_index: Tensor, plan: ComputationPlan) -> Tensor:
    """What `embed_on_plan` needs as ``inputs`` for ``plan``: ``x`` when the plan
    starts at layer 0, else the raw output of the layers below, computed (without
    gradients) only at the plan's nodes; other rows are zero."""
    if plan.start_layer == 0:
        return x
    below = truncated(model, plan.start_layer)
    inputs = torch.zeros(x.shape[0], model.config.hidden)
    with torch.no_grad():
        below_plan = ComputationPlan(below, edge_index, x.shape[0], plan.nodes)
        inputs[plan.nodes] = embed_on_plan(below, x, below_plan)
    return inputs


def _activate(
    model: GraphModel, layer: int, h: Tensor, hook: SubsetHook | None, nodes: Tensor
) -> Tensor:
    if layer < model.num_layers - 1:
        h = torch.relu(h)
        h = nn.functional.dropout(h, p=model.config.dropout, training=model.training)
    if hook is not None:
        h = hook(layer, h, nodes)
    return h
