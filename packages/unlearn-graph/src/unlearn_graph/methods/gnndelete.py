"""GNNDelete: a frozen GNN plus small per-layer deletion operators on the local subgraph.

Cheng, Dasoulas, He, Agarwal, Zitnik, "GNNDelete: A General Strategy for Unlearning in
Graph Neural Networks" (ICLR 2023, arXiv:2302.13406).

The backbone's weights stay frozen. After layer $l$ a learned operator
$\\mathrm{DEL}^l(h) = W^l h + b^l$ replaces the representation of every node within
$l+1$ hops of the affected nodes (initialised to the identity): the endpoints of every
removed edge, which for a deleted node include its neighbours. Every other node keeps
the backbone's representation. The model runs on the retained graph and minimises

$$\\mathcal{L} = \\lambda\\,\\mathcal{L}_{\\mathrm{DEC}}
  + (1-\\lambda)\\,\\mathcal{L}_{\\mathrm{NI}}$$

* deleted edge consistency: $\\mathcal{L}_{\\mathrm{DEC}} = \\mathrm{MSE}(h'_u \\odot h'_v,\\;
  h'_a \\odot h'_b)$ over deleted edges $(u, v)$ and random node pairs $(a, b)$, so a
  deleted edge looks like an unrelated pair (for deleted nodes: $\\mathrm{MSE}(h'_d, h'_a)$);
* neighbourhood influence: $\\mathcal{L}_{\\mathrm{NI}} = \\mathrm{MSE}(h'_w, h_w)$ over the
  nodes $w$ of the $L$-hop neighbourhood, where $h$ is the frozen backbone on the
  retained graph: the neighbourhood keeps what it knows apart from the deleted elements.

Because operators act only within $l+1$ hops at layer $l$, every node farther than $L$
hops (the number of layers) from the affected nodes gets exactly the backbone's output.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from unlearn_graph.deletion import DeletionProblem, nodes_within
from unlearn_graph.methods.params import GNNDeleteParams
from unlearn_graph.models import ComputationPlan, GraphModel, embed_on_plan, plan_inputs
from unlearn_graph.training import minimise

__all__ = ["GNNDeleteModel", "GNNDeleteParams", "gnndelete"]


class GNNDeleteModel(nn.Module):
    """The frozen backbone with deletion operators applied on masked nodes."""

    def __init__(self, backbone: GraphModel, layer_masks: list[Tensor]) -> None:
        super().__init__()
        self.backbone = backbone
        for parameter in backbone.parameters():
            parameter.requires_grad_(False)
        self.task = backbone.task
        hidden = backbone.config.hidden
        self.operators = nn.ModuleList(nn.Linear(hidden, hidden) for _ in layer_masks)
        with torch.no_grad():
            for layer_operator in self.operators:
                assert isinstance(layer_operator, nn.Linear)
                layer_operator.weight.copy_(torch.eye(hidden))
                layer_operator.bias.zero_()
        for layer, mask in enumerate(layer_masks):
            self.register_buffer(f"mask_{layer}", mask)

    def _hook(self, layer: int, h: Tensor) -> Tensor:
        mask: Tensor = getattr(self, f"mask_{layer}")
        operator: Any = self.operators[layer]
        return torch.where(mask[:, None], operator(h), h)

    def subset_hook(self, layer: int, h: Tensor, nodes: Tensor) -> Tensor:
        """The layer hook for rows ``h`` that hold the global nodes ``nodes``."""
        rows = getattr(self, f"mask_{layer}")[nodes].nonzero().squeeze(1)
        operator: Any = self.operators[layer]
        return h.index_put((rows,), operator(h[rows]))

    def embed(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """The backbone's layers (in eval mode) with the deletion operators applied."""
        self.backbone.eval()
        return self.backbone.embed(x, edge_index, layer_hook=self._hook)

    def readout(self, z: Tensor, elements: Tensor) -> Tensor:
        return self.backbone.readout(z, elements)

    def score(self, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor:
        return self.readout(self.embed(x, edge_index), elements)


def gnndelete(
    original: GraphModel, problem: DeletionProblem, params: GNNDeleteParams, *, seed: int = 0
) -> GNNDeleteModel:
    """Learn deletion operators for ``problem`` on top of the frozen ``original``."""
    if problem.deleted_pairs.numel() == 0 and problem.deleted_nodes.numel() == 0:
        raise ValueError(
            "GNNDelete needs deleted edges or nodes; these requests delete neither "
            "(features only): use GIF or retraining"
        )
    n = problem.task.num_nodes
    original_edges = problem.task.edges.numpy()
    sources = problem.affected_nodes.numpy()
    masks = [
        torch.from_numpy(nodes_within(original_edges, n, sources, layer + 1))
        for layer in range(original.num_layers)
    ]
    model = GNNDeleteModel(copy.deepcopy(original), masks)
    x, edge_index = problem.x, problem.edge_index
    generator = torch.Generator().manual_seed(seed)
    pairs, nodes = problem.deleted_pairs, problem.deleted_nodes
    # The loss only looks at a few nodes: the deleted elements, a pool of random nodes
    # (partners of the random pairs) and a sample of the neighbourhood. Training runs on
    # their receptive field only (ComputationPlan), which gives exactly the embeddings
    # of the full graph at those nodes.
    neighbourhood = masks[-1].clone()
    neighbourhood[nodes] = False
    neighbourhood_ids = neighbourhood.nonzero().squeeze(1)
    pick = torch.randperm(neighbourhood_ids.numel(), generator=generator)
    neighbourhood_ids = neighbourhood_ids[pick[: params.neighbourhood_sample]]
    pool_size = min(n, max(64, 2 * pairs.shape[1] + nodes.numel()))
    pool = torch.randperm(n, generator=generator)[:pool_size]
    targets = torch.unique(torch.cat([pairs.reshape(-1), nodes, pool, neighbourhood_ids]))
    row = torch.full((n,), -1, dtype=torch.long)
    row[targets] = torch.arange(targets.numel())
    local_pairs, local_nodes = row[pairs], row[nodes]
    local_pool, local_neighbourhood = row[pool], row[neighbourhood_ids]
    start = 1 if original.num_layers > 1 else 0
    plan = ComputationPlan(model.backbone, edge_index, n, targets, start_layer=start)
    # The backbone is frozen: its first layer is computed once, on the plan's nodes.
    inputs = plan_inputs(model.backbone, x, edge_index, plan)
    model.backbone.eval()
    with torch.no_grad():
        # Operators start at the identity, so this is the frozen model on G_r.
        target = embed_on_plan(model.backbone, inputs, plan, model.subset_hook)
    mse = nn.functional.mse_loss

    def deletion_loss() -> Tensor:
        z = embed_on_plan(model.backbone, inputs, plan, model.subset_hook)
        consistency = z.new_zeros(())
        if pairs.numel():
            random = local_pool[
                torch.randint(0, pool_size, (2, pairs.shape[1]), generator=generator)
            ]
            consistency = consistency + mse(
                z[local_pairs[0]] * z[local_pairs[1]], (z[random[0]] * z[random[1]]).detach()
            )
        if nodes.numel():
            random_nodes = local_pool[
                torch.randint(0, pool_size, (nodes.numel(),), generator=generator)
            ]
            consistency = consistency + mse(z[local_nodes], z[random_nodes].detach())
        influence = (
            mse(z[local_neighbourhood], target[local_neighbourhood])
            if neighbourhood_ids.numel()
            else z.new_zeros(())
        )
        return params.trade_off * consistency + (1 - params.trade_off) * influence

    minimise(deletion_loss, model.operators.parameters(), params.epochs, params.learning_rate)
    return model
