r"""GraphShaper: geometry experts fused per node by local structure, aligned with text.

Zhang et al., "GraphShaper: Geometry-aware Alignment for Improving Transfer Learning in
Text-Attributed Graphs" (arXiv:2510.12085). Experts in Euclidean, hyperbolic and spherical
space (`unlearn_graph.geometry.experts`) each encode node $i$ into a tangent vector
$z_i^{(e)}$ at the origin; fusion weights computed from the node's local structure mix
them; the fused embedding is aligned with the text embeddings.

**Fusion.** From the structural descriptors $s_i$ of `unlearn_graph.geometry.structure`
(log degree, clustering coefficient, two-hop cycle density; standardised over the nodes),
a structural query attends over the experts' outputs:

$$q_i = W_q s_i + b_q, \qquad k_i^{(e)} = W_k z_i^{(e)} + c_e, \qquad
w_i^{(e)} = \frac{\exp(q_i^\top k_i^{(e)} / \sqrt{a})}
{\sum_{e'} \exp(q_i^\top k_i^{(e')} / \sqrt{a})}, \qquad z_i = \sum_e w_i^{(e)} z_i^{(e)},$$

so $\sum_e w_i^{(e)} = 1$ for every node ($a$ is the attention width, $c_e$ a learned
key offset per expert). ``fusion="uniform"`` sets $w_i^{(e)} = 1/E$ (the ablation).

**Alignment.** $g_i = P_g z_i / \lVert P_g z_i \rVert$ and $t = P_t x / \lVert P_t x
\rVert$ for any text embedding $x$ (the node texts and the class descriptions share
$P_t$). Class scores are $g_i^\top t_c / \tau$ for the class descriptions $t_c$; the loss
is the cross entropy of the training labels plus $\lambda$ times the symmetric InfoNCE
between each node's $g_i$ and its own text $t_i$ over a batch $B$ of nodes:

$$\mathcal{L}_{align} = \tfrac12 \bigl[\mathrm{CE}(G_B T_B^\top / \tau, I)
+ \mathrm{CE}(T_B G_B^\top / \tau, I)\bigr].$$

What we could read of the paper offline is its abstract and a third-party summary of its
method (structure descriptors such as degree and clustering as the fusion's query,
attention over the experts' outputs, contrastive graph-text alignment); the equations
above are ours, written from that description, not copied from the paper's. The paper
works zero-shot across datasets with LLM text embeddings; here the text encoder is
`unlearn_graph.geometry.text.HashedTextEncoder` and training is supervised on one graph.
The single-geometry baselines (`unlearn_graph.geometry.baselines`) are this model with one
expert, where the fusion weight is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from unlearn_schema import NoParams

from unlearn_graph.geometry.experts import (
    EuclideanExpert,
    StereographicExpert,
    TextExpert,
    propagation_matrix,
)
from unlearn_graph.geometry.params import (
    AlignedEncoderParams,
    GraphShaperParams,
    UniformMixtureParams,
)
from unlearn_graph.geometry.structure import local_structure
from unlearn_graph.tasks import NodeTask, make_node_task
from unlearn_graph.training import minimise_keeping_best
from unlearn_graph.worlds.mixed_geometry import MixedGeometryGraph

ExpertName = str
"""``euclidean``, ``hyperbolic``, ``spherical`` or ``text`` (no graph)."""
EXPERT_NAMES = ("euclidean", "hyperbolic", "spherical", "text")


@dataclass
class TextGraphTask:
    """A node task on a text-attributed graph: ``task.x`` are the node text embeddings,
    ``class_text`` the embedded class descriptions (one row per class), ``structure`` the
    local structural descriptors, ``boundary`` which nodes have a neighbour in another
    region and ``region_kind`` (0 tree, 1 ring) of every node."""

    task: NodeTask
    class_text: Tensor
    structure: Tensor
    boundary: Tensor
    region_kind: Tensor
    boundary_distance: Tensor

    def __post_init__(self) -> None:
        n = self.task.num_nodes
        for name in ("structure", "boundary", "region_kind", "boundary_distance"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(
                    f"{name} has {getattr(self, name).shape[0]} rows, the graph {n} nodes"
                )
        if self.class_text.shape != (self.task.num_classes, self.task.x.shape[1]):
            raise ValueError(
                f"class_text has shape {tuple(self.class_text.shape)}, expected "
                f"({self.task.num_classes}, {self.task.x.shape[1]}): one embedded "
                "description per class, as wide as the node features"
            )


def make_text_graph_task(
    world: MixedGeometryGraph, seed: int = 0, train_ratio: float = 0.2, val_ratio: float = 0.2
) -> TextGraphTask:
    """A seeded random node split of ``world`` with its structure and text descriptors."""
    graph = world.graph
    task = make_node_task(graph, seed, train_ratio, val_ratio)
    task.num_classes = int(world.class_embeddings.shape[0])
    return TextGraphTask(
        task=task,
        class_text=torch.from_numpy(world.class_embeddings),
        structure=torch.from_numpy(local_structure(graph.num_nodes, graph.edges)),
        boundary=torch.from_numpy(world.boundary),
        region_kind=torch.from_numpy(world.region_kind),
        boundary_distance=torch.from_numpy(world.boundary_distance),
    )


@dataclass
class GeometryFit:
    """Predicted class of every node, the fusion weights (``(N, E)``, columns in
    ``experts`` order) of the kept epoch, and diagnostics (name -> number)."""

    predictions: Tensor
    experts: list[str]
    fusion_weights: Tensor
    diagnostics: dict[str, float] = field(default_factory=dict)


class StructuralFusion(nn.Module):
    """The weights $w_i^{(e)}$: a structural query attending over the expert outputs."""

    def __init__(self, structure_dim: int, hidden: int, num_experts: int, width: int) -> None:
        super().__init__()
        self.query = nn.Linear(structure_dim, width)
        self.key = nn.Linear(hidden, width, bias=False)
        self.expert_offset = nn.Parameter(torch.zeros(num_experts, width))
        self.width = width

    def forward(self, structure: Tensor, outputs: Tensor) -> Tensor:
        """``structure`` ``(N, F)``, ``outputs`` ``(N, E, hidden)`` -> weights ``(N, E)``."""
        query = self.query(structure)  # (N, a)
        keys = self.key(outputs) + self.expert_offset  # (N, E, a)
        scores = torch.einsum("na,nea->ne", query, keys) / math.sqrt(self.width)
        return torch.softmax(scores, dim=-1)


def fusion_weights_uniform(num_nodes: int, num_experts: int) -> Tensor:
    """$w_i^{(e)} = 1/E$."""
    return torch.full((num_nodes, num_experts), 1.0 / num_experts)


class GeometryAlignedEncoder(nn.Module):
    """Experts, their fusion, and the projections into the shared graph-text space."""

    def __init__(
        self,
        in_dim: int,
        structure_dim: int,
        params: AlignedEncoderParams,
        experts: Sequence[ExpertName],
        fusion: str,
    ) -> None:
        super().__init__()
        unknown = [e for e in experts if e not in EXPERT_NAMES]
        if unknown or not experts:
            raise ValueError(f"experts {list(experts)}: accepted {', '.join(EXPERT_NAMES)}")
        if fusion not in ("structural", "uniform"):
            raise ValueError(f"fusion {fusion!r}: accepted structural, uniform")
        h, layers, p = params.hidden, params.num_layers, params.dropout
        built: list[nn.Module] = []
        for name in experts:
            if name == "euclidean":
                built.append(EuclideanExpert(in_dim, h, layers, p))
            elif name == "text":
                built.append(TextExpert(in_dim, h, layers, p))
            else:
                sign = -1.0 if name == "hyperbolic" else 1.0
                built.append(StereographicExpert(in_dim, h, layers, p, sign * params.curvature))
        self.experts = nn.ModuleList(built)
        self.fusion = (
            StructuralFusion(structure_dim, h, len(built), params.attention)
            if fusion == "structural" and len(built) > 1 and isinstance(params, GraphShaperParams)
            else None
        )
        self.graph_projection = nn.Linear(h, params.embedding)
        self.text_projection = nn.Linear(in_dim, params.embedding)

    def forward(self, x: Tensor, propagation: Tensor, structure: Tensor) -> tuple[Tensor, Tensor]:
        """Unit graph embeddings $g$ ``(N, embedding)`` and fusion weights ``(N, E)``."""
        outputs = torch.stack([expert(x, propagation) for expert in self.experts], dim=1)
        if self.fusion is None:
            weights = fusion_weights_uniform(x.shape[0], len(self.experts))
        else:
            weights = self.fusion(structure, outputs)
        fused = (weights.unsqueeze(-1) * outputs).sum(dim=1)
        return nn.functional.normalize(self.graph_projection(fused), dim=-1), weights

    def embed_text(self, text: Tensor) -> Tensor:
        """Unit text embeddings $t$ of embedded texts ``(M, in_dim)``."""
        return nn.functional.normalize(self.text_projection(text), dim=-1)


def info_nce(graph: Tensor, text: Tensor, temperature: float) -> Tensor:
    """Symmetric InfoNCE: row $i$ of ``graph`` should match row $i$ of ``text`` (both unit)."""
    logits = graph @ text.T / temperature
    target = torch.arange(graph.shape[0])
    return 0.5 * (
        nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)
    )


def fit_aligned(
    problem: TextGraphTask,
    params: AlignedEncoderParams,
    experts: Sequence[ExpertName],
    fusion: str,
    seed: int,
) -> GeometryFit:
    """Train a `GeometryAlignedEncoder` (the loss of this module's docstring) full batch,
    keep the epoch of best validation accuracy, and predict every node."""
    task = problem.task
    structure = problem.structure
    structure = (structure - structure.mean(0)) / structure.std(0).clamp_min(1e-6)
    propagation = propagation_matrix(task.edge_index, task.num_nodes)
    torch.manual_seed(seed)
    model = GeometryAlignedEncoder(task.x.shape[1], structure.shape[1], params, experts, fusion)
    generator = torch.Generator().manual_seed(seed)
    batch = min(params.alignment_batch, task.num_nodes)

    def scores() -> tuple[Tensor, Tensor]:
        graph, weights = model(task.x, propagation, structure)
        return graph @ model.embed_text(problem.class_text).T / params.temperature, weights

    def objective() -> Tensor:
        model.train()
        graph, _ = model(task.x, propagation, structure)
        classes = model.embed_text(problem.class_text)
        logits = graph[task.train_idx] @ classes.T / params.temperature
        loss = nn.functional.cross_entropy(logits, task.y[task.train_idx])
        if params.alignment_weight > 0:
            nodes = torch.randperm(task.num_nodes, generator=generator)[:batch]
            texts = model.embed_text(task.x[nodes])
            loss = loss + params.alignment_weight * info_nce(
                graph[nodes], texts, params.temperature
            )
        return loss

    def validation_accuracy() -> float:
        predicted = scores()[0][task.val_idx].argmax(-1)
        return float((predicted == task.y[task.val_idx]).float().mean())

    best_accuracy = minimise_keeping_best(objective, model, params, validation_accuracy)
    with torch.no_grad():
        logits, weights = scores()
    return GeometryFit(
        predictions=logits.argmax(-1),
        experts=list(experts),
        fusion_weights=weights,
        diagnostics={"validation_accuracy": best_accuracy},
    )


def graphshaper(problem: TextGraphTask, params: GraphShaperParams, *, seed: int) -> GeometryFit:
    """GraphShaper with the structure-driven fusion of ``params.experts``."""
    return fit_aligned(problem, params, params.experts, params.fusion, seed)


def graphshaper_uniform(
    problem: TextGraphTask, params: UniformMixtureParams, *, seed: int
) -> GeometryFit:
    """The same experts averaged with equal weights (the fusion ablation)."""
    return fit_aligned(problem, params, params.experts, params.fusion, seed)


def text_similarity(problem: TextGraphTask, params: NoParams, *, seed: int) -> GeometryFit:
    """No training: each node's class is the description most cosine-similar to its text."""
    del params, seed
    similarity = problem.task.x @ problem.class_text.T
    n = problem.task.num_nodes
    return GeometryFit(similarity.argmax(-1), ["text"], torch.ones(n, 1), {})


def accuracy(predictions: Tensor, labels: Tensor, nodes: Tensor) -> float:
    """Fraction of ``nodes`` whose predicted class equals ``labels`` (nan when empty)."""
    if nodes.numel() == 0:
        return float("nan")
    return float((predictions[nodes] == labels[nodes]).float().mean())


def boundary_split(problem: TextGraphTask) -> dict[str, Tensor]:
    """Test nodes on and off the structural boundary, and in each region kind."""
    test = problem.task.test_idx
    on = problem.boundary[test]
    kind = problem.region_kind[test]
    return {
        "all": test,
        "boundary": test[on],
        "interior": test[~on],
        "tree": test[kind == 0],
        "ring": test[kind == 1],
    }


__all__ = [
    "GeometryAlignedEncoder",
    "GeometryFit",
    "StructuralFusion",
    "TextGraphTask",
    "accuracy",
    "boundary_split",
    "fit_aligned",
    "graphshaper",
    "graphshaper_uniform",
    "info_nce",
    "make_text_graph_task",
    "text_similarity",
]
