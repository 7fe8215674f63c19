"""EGNN: edit a GNN's node predictions through a stitched MLP, never the GNN itself.

Liu, Jiang, Zhong, Zhou, Li, Chen, Choi, Hu, "Editable Graph Neural Network for Node
Classifications" (arXiv:2305.15529).

The trained GNN $f_\\theta$ is frozen and an MLP $g_\\phi$ on the raw node features is
stitched to it: $\\text{logits}(v) = f_\\theta(X, A)_v + g_\\phi(x_v)$. The MLP is first
fitted on the training nodes (its last layer starts at zero, so stitching starts from the
GNN's predictions). An edit corrects target nodes $T$ with desired labels $y^*$ by
training only $\\phi$ on

$$\\mathcal{L} = \\mathrm{CE}(\\text{logits}(T), y^*) + \\gamma\\,
\\mathrm{KL}(p_{\\text{before}}(R) \\,\\|\\, p_{\\phi}(R))$$

over a set $R$ of training nodes, until every target is predicted as desired. The MLP
has no neighbour propagation, so an edit does not spread through the graph.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unlearn_graph.methods.params import EGNNParams
from unlearn_graph.models import GraphModel
from unlearn_graph.tasks import NodeTask
from unlearn_graph.training import minimise

__all__ = ["EGNNModel", "EGNNParams", "EditResult", "NodeEdit", "egnn_edit", "stitch_mlp"]


@dataclass(frozen=True)
class NodeEdit:
    """What to edit: target ``nodes`` of ``task`` and the ``labels`` they should get.

    The edit's retain set $R$ is the task's training nodes.
    """

    task: NodeTask
    nodes: Tensor
    labels: Tensor


@dataclass
class EditResult:
    """The edited model, the fraction of targets now predicted as desired, steps used."""

    model: EGNNModel
    edit_success: float
    steps: int


class EGNNModel(nn.Module):
    """Frozen GNN logits plus an MLP on the node's own features."""

    def __init__(self, gnn: GraphModel, hidden: int) -> None:
        super().__init__()
        if gnn.task != "node" or gnn.num_classes is None:
            raise ValueError("EGNN edits node classifiers; got a link-prediction model")
        self.gnn = gnn
        for parameter in gnn.parameters():
            parameter.requires_grad_(False)
        self.task = "node"
        self.mlp = nn.Sequential(
            nn.Linear(gnn.in_dim, hidden), nn.ReLU(), nn.Linear(hidden, gnn.num_classes)
        )
        with torch.no_grad():
            last = self.mlp[-1]
            assert isinstance(last, nn.Linear)
            last.weight.zero_()
            last.bias.zero_()

    def gnn_logits(self, x: Tensor, edge_index: Tensor) -> Tensor:
        self.gnn.eval()
        with torch.no_grad():
            return self.gnn.readout(self.gnn.embed(x, edge_index), torch.arange(x.shape[0]))

    def score(self, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor:
        out: Tensor = self.gnn_logits(x, edge_index)[elements] + self.mlp(x[elements])
        return out


def stitch_mlp(
    gnn: GraphModel, task: NodeTask, params: EGNNParams | None = None, *, seed: int = 0
) -> EGNNModel:
    """Stitch an MLP to the frozen ``gnn`` and fit it on the training nodes."""
    params = params or EGNNParams()
    torch.manual_seed(seed)
    model = EGNNModel(copy.deepcopy(gnn), params.mlp_hidden)
    base = model.gnn_logits(task.x, task.edge_index)
    train_idx = task.train_idx

    def stitch_loss() -> Tensor:
        logits = base[train_idx] + model.mlp(task.x[train_idx])
        return nn.functional.cross_entropy(logits, task.y[train_idx])

    minimise(stitch_loss, model.mlp.parameters(), params.stitch_epochs, params.learning_rate)
    return model


def egnn_edit(
    model: EGNNModel | GraphModel,
    edit: NodeEdit,
    params: EGNNParams | None = None,
    *,
    seed: int = 0,
) -> EditResult:
    """Edit ``model`` so that ``edit.nodes`` predict ``edit.labels``.

    ``model`` is a stitched model (from `stitch_mlp`), edited as it is, or a node
    classifier, which is first stitched on ``edit.task`` (the MLP fit seeded by
    ``seed``; the edit itself draws nothing at random).
    """
    params = params or EGNNParams()
    stitched = (
        model if isinstance(model, EGNNModel) else stitch_mlp(model, edit.task, params, seed=seed)
    )
    task, nodes, labels = edit.task, edit.nodes, edit.labels
    x, edge_index, retain_nodes = task.x, task.edge_index, task.train_idx
    if nodes.numel() == 0 or nodes.shape != labels.shape:
        raise ValueError(
            f"need one desired label per target node, got {nodes.numel()} nodes and "
            f"{labels.numel()} labels"
        )
    n = x.shape[0]
    if int(nodes.max()) >= n or int(nodes.min()) < 0:
        raise ValueError(f"target nodes must lie in 0..{n - 1}")
    edited = copy.deepcopy(stitched)
    # The GNN is frozen: its logits are computed once, the edit never propagates.
    base = edited.gnn_logits(x, edge_index)
    with torch.no_grad():
        before = torch.log_softmax(base[retain_nodes] + edited.mlp(x[retain_nodes]), -1)
    # Not `minimise`: the edit stops as soon as every target is predicted as desired.
    optimizer = torch.optim.Adam(edited.mlp.parameters(), lr=params.learning_rate)
    steps = 0
    for steps in range(1, params.edit_steps + 1):
        optimizer.zero_grad()
        target_logits = base[nodes] + edited.mlp(x[nodes])
        if bool((target_logits.argmax(-1) == labels).all()):
            steps -= 1
            break
        retain = torch.log_softmax(base[retain_nodes] + edited.mlp(x[retain_nodes]), -1)
        loss = nn.functional.cross_entropy(target_logits, labels)
        loss = loss + params.retain_weight * nn.functional.kl_div(
            retain, before, log_target=True, reduction="batchmean"
        )
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = (base[nodes] + edited.mlp(x[nodes])).argmax(-1)
    return EditResult(
        model=edited, edit_success=float((final == labels).float().mean()), steps=steps
    )
