"""EGNN: edit a GNN's node predictions through a stitched MLP, never the GNN itself.

Liu, Chen, Zhong, Zhou, Zha, Hu, "Editable Graph Neural Network for Node
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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    from torch import Tensor, nn

    from unlearn_graph.models import GraphModel
    from unlearn_graph.tasks import NodeTask


class EGNNParams(MethodParams):
    """Stitched MLP size, its fitting, and the edit loop."""

    mlp_hidden: int = Field(default=64, ge=1, le=4096)
    stitch_epochs: int = Field(default=100, ge=0, le=100_000)
    edit_steps: int = Field(default=100, ge=1, le=100_000)
    lr: float = Field(default=0.01, gt=0.0, le=1.0)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0, description="γ")


@dataclass
class EditResult:
    """The edited model, the fraction of targets now predicted as desired, steps used."""

    model: Any
    edit_success: float
    steps: int


def _stitched_class() -> type[nn.Module]:
    import torch
    from torch import nn

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
            return self.gnn_logits(x, edge_index)[elements] + self.mlp(x[elements])

    return EGNNModel


def stitch_mlp(
    gnn: GraphModel, task: NodeTask, params: EGNNParams | None = None, seed: int = 0
) -> Any:
    """Stitch an MLP to the frozen ``gnn`` and fit it on the training nodes."""
    import copy

    import torch
    from torch import nn

    params = params or EGNNParams()
    torch.manual_seed(seed)
    model: Any = _stitched_class()(copy.deepcopy(gnn), params.mlp_hidden)
    base = model.gnn_logits(task.x, task.edge_index)
    optimizer = torch.optim.Adam(model.mlp.parameters(), lr=params.lr)
    train_idx = task.train_idx
    for _ in range(params.stitch_epochs):
        optimizer.zero_grad()
        logits = base[train_idx] + model.mlp(task.x[train_idx])
        nn.functional.cross_entropy(logits, task.y[train_idx]).backward()
        optimizer.step()
    return model


def egnn_edit(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    nodes: Tensor,
    labels: Tensor,
    retain_nodes: Tensor,
    params: EGNNParams | None = None,
) -> EditResult:
    """Edit a stitched model (from :func:`stitch_mlp`) so ``nodes`` predict ``labels``."""
    import copy

    import torch
    from torch import nn

    params = params or EGNNParams()
    if not hasattr(model, "mlp"):
        raise ValueError("egnn_edit needs a stitched model: call stitch_mlp(gnn, task) first")
    if nodes.numel() == 0 or nodes.shape != labels.shape:
        raise ValueError(
            f"need one desired label per target node, got {nodes.numel()} nodes and "
            f"{labels.numel()} labels"
        )
    n = x.shape[0]
    if int(nodes.max()) >= n or int(nodes.min()) < 0:
        raise ValueError(f"target nodes must lie in 0..{n - 1}")
    edited: Any = copy.deepcopy(model)
    # The GNN is frozen: its logits are computed once, the edit never propagates.
    base = edited.gnn_logits(x, edge_index)
    with torch.no_grad():
        before = torch.log_softmax(base[retain_nodes] + edited.mlp(x[retain_nodes]), -1)
    optimizer = torch.optim.Adam(edited.mlp.parameters(), lr=params.lr)
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
