"""Dual Hypergraph Transformation (DHT): edges become nodes, nodes become hyperedges.

Paper: *Edge Representation Learning with Hypergraphs*, Jo, Baek, Lee, Kim, Kang, Hwang
(NeurIPS 2021), arXiv:2106.15845 (EHGNN).

A graph $G = (X, M, E)$ has node features $X \\in \\mathbb{R}^{n \\times d}$, edge features
$E \\in \\mathbb{R}^{m \\times d'}$ and incidence matrix $M \\in \\{0, 1\\}^{n \\times m}$
($M_{vj} = 1$ when node $v$ is an endpoint of edge $j$). Its dual hypergraph swaps the
roles of nodes and edges:

$$\\operatorname{DHT}: G = (X, M, E) \\mapsto G^* = (E, M^\\top, X),$$

so the $m$ edges are the dual's nodes (features $E$) and the $n$ nodes are its
hyperedges (features $X$), each hyperedge joining the edges incident to that node. DHT
is its own inverse ($(M^\\top)^\\top = M$): nothing is lost and nothing is added.

Storage. $M$ is kept sparse as a PyG ``hyperedge_index`` of the dual, shape ``(2, 2m)``:
row 0 the dual node (edge $j$), row 1 the hyperedge (node $v$). Entries $0..m-1$ are
the sources of ``edge_index``, entries $m..2m-1$ its targets, so the inverse recovers
each edge's direction as well as its endpoints; building it costs $O(m)$.

Message passing on the dual, the hypergraph convolution of HGNN (Feng et al. 2019) with
the dual's degrees: $D_v$ (dual node degree, the weighted number of hyperedges holding
edge $j$: 2 for an edge that is not a self-loop) and $D_e$ (hyperedge degree, node $v$'s
degree in $G$), hyperedge weights $W = \\operatorname{diag}(w)$ (default 1):

$$E' = D_v^{-1/2} H W D_e^{-1} H^\\top D_v^{-1/2} E\\, \\Theta + b,\\qquad H = M^\\top.$$

``normalization="row"`` gives the form of PyG's ``HypergraphConv``, which the authors'
code builds on, $E' = D_v^{-1} H W D_e^{-1} H^\\top E \\Theta + b$ (rows of the
propagation matrix sum to 1). With unit weights and no self-loops every dual node has
$D_v = 2$, so the two forms give the same numbers; they differ under hyperedge weights
or self-loops (degree 2 from one node, counted twice). The paper allows any node
message-passing scheme here; we do not use the optional hyperedge attention.
`with_self_loops` adds one hyperedge per edge holding that edge alone, as the authors'
code does before every convolution: then $D_v = 3$ and an edge between two nodes of
degree $d$ keeps $(1 + 2/d)/3$ of its own features per symmetric step (1/2 at $d = 4$)
instead of $1/d$ (the benchmark's models use it).

HyperDrop (the paper's edge pooling for classification): a score per dual node from one
more hypergraph convolution, keep the top $\\lceil r\\, m_G \\rceil$ edges of each graph
and gate them by the score,

$$\\mathrm{idx} = \\operatorname{top}_k(\\operatorname{score}(E)),\\qquad
E^{\\text{pool}} = E_{\\mathrm{idx}} \\odot \\tanh(\\operatorname{score}(E)_{\\mathrm{idx}}),
\\qquad (M^{\\text{pool}})^\\top = (M^\\top)_{\\mathrm{idx}};$$

the nodes are all kept (hyperedges left with no edge simply become empty). The tanh gate
is SAGPool's way of letting the score receive gradients; the paper does not spell it out.

HyperCluster (the paper's edge clustering, used there for graph reconstruction): a soft
assignment $C \\in [0, 1]^{m \\times k}$ of each graph's edges to $k$ clusters, then

$$E^{\\text{pool}} = C^\\top E,\\qquad (M^{\\text{pool}})^\\top = C^\\top M^\\top,$$

so the $k$ pooled edges are weighted sums of the graph's edges and the pooled dual keeps
every node as a hyperedge, joined to cluster $c$ with weight $\\sum_{j \\ni v} C_{jc}$.
$C$ is Graph Multiset Pooling's attention (Baek et al. 2021) with keys from message
passing on the dual: learned seeds $S \\in \\mathbb{R}^{k \\times d}$, queries
$Q = S W_Q$, keys $K = \\operatorname{HConv}(E)$ (one `DualHypergraphConv`) and

$$C_{jc} = \\frac{\\exp(s_{jc})}{\\sum_{c'} \\exp(s_{jc'})},\\qquad
s_{jc} = \\frac{q_c^\\top k_j}{\\sqrt{d}},$$

the softmax taken over the clusters (each edge's memberships sum to 1; the authors' code
has ``cluster=True`` for this). The same seeds serve every graph, so cluster $c$ of one
graph and of another are comparable. Unpooling, $\\tilde E = C E^{\\text{pool}}$, gives each
edge back a vector for reconstruction. Departure from the authors' code: their GMPool
block also projects values with a second hypergraph convolution and adds the queries, a
feed-forward layer and optional layer norms to $C^\\top V$; we pool $E$ itself, as the
equation above writes it, with one head.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from unlearn_graph.edges import HYPERGRAPH_NORMALIZATIONS, HypergraphNormalization


class DualHypergraph(NamedTuple):
    """$G^* = (E, M^\\top, X)$: nodes are the graph's edges, hyperedges its nodes."""

    x: Tensor  # (m, d') the graph's edge features
    hyperedge_index: Tensor  # (2, 2m): (dual node = edge id, hyperedge = node id)
    hyperedge_attr: Tensor  # (n, d) the graph's node features
    num_nodes: int  # m
    num_hyperedges: int  # n


def dual_hypergraph_transform(x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> DualHypergraph:
    """DHT: graph $(X, M, E)$ with ``edge_index`` ``(2, m)`` to its dual $(E, M^\\top, X)$."""
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, m), got {tuple(edge_index.shape)}")
    num_edges = edge_index.shape[1]
    if edge_attr.shape[0] != num_edges:
        raise ValueError(
            f"edge_attr must have one row per edge ({num_edges}), got {edge_attr.shape[0]}"
        )
    if num_edges and (int(edge_index.min()) < 0 or int(edge_index.max()) >= x.shape[0]):
        raise ValueError(f"edge_index refers to nodes outside 0..{x.shape[0] - 1}")
    edge_ids = torch.arange(num_edges, device=edge_index.device)
    hyperedge_index = torch.stack(
        [torch.cat([edge_ids, edge_ids]), torch.cat([edge_index[0], edge_index[1]])]
    )
    return DualHypergraph(edge_attr, hyperedge_index, x, num_edges, x.shape[0])


def inverse_dual_hypergraph_transform(dual: DualHypergraph) -> tuple[Tensor, Tensor, Tensor]:
    """DHT applied to the dual: back to ``(x, edge_index, edge_attr)`` of the graph."""
    m = dual.num_nodes
    index = dual.hyperedge_index
    expected = torch.arange(m, device=index.device).repeat(2)
    if index.shape != (2, 2 * m) or not torch.equal(index[0], expected):
        raise ValueError(
            "hyperedge_index must be the (2, 2m) layout dual_hypergraph_transform builds "
            f"(row 0 = 0..m-1 twice, m={m}), got shape {tuple(index.shape)}"
        )
    edge_index = torch.stack([index[1, :m], index[1, m:]])
    return dual.hyperedge_attr, edge_index, dual.x


def with_self_loops(dual: DualHypergraph) -> DualHypergraph:
    """The dual with one more hyperedge per edge, holding that edge alone (hyperedge
    ``n + j`` for edge ``j``), as the authors' code builds it before every convolution:
    without it an edge between nodes of degree $d$ keeps only $1/d$ of its own features
    per step (it meets its neighbours at both endpoints), with it $D_v = 3$ and the loop
    adds $1/3$. The loop hyperedges carry zero features; the inverse transformation
    needs the dual without them."""
    m, n = dual.num_nodes, dual.num_hyperedges
    edge_ids = torch.arange(m, device=dual.hyperedge_index.device)
    loops = torch.stack([edge_ids, edge_ids + n])
    return dual._replace(
        hyperedge_index=torch.cat([dual.hyperedge_index, loops], dim=1),
        hyperedge_attr=torch.cat(
            [dual.hyperedge_attr, dual.hyperedge_attr.new_zeros(m, dual.hyperedge_attr.shape[1])]
        ),
        num_hyperedges=n + m,
    )


class DualHypergraphConv(nn.Module):
    """One hypergraph convolution on the dual (module docstring): edge features in,
    edge features out, linear in the number of edges."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        normalization: HypergraphNormalization = "symmetric",
        bias: bool = True,
    ):
        super().__init__()
        if normalization not in HYPERGRAPH_NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {HYPERGRAPH_NORMALIZATIONS}, got {normalization!r}"
            )
        self.normalization = normalization
        self.linear = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(
        self,
        x: Tensor,
        hyperedge_index: Tensor,
        num_hyperedges: int,
        hyperedge_weight: Tensor | None = None,
    ) -> Tensor:
        dual_nodes, hyperedges = hyperedge_index
        if hyperedge_weight is None:
            hyperedge_weight = x.new_ones(num_hyperedges)
        ones = x.new_ones(dual_nodes.shape[0])
        # D_v: weighted count of hyperedges per dual node; D_e: dual nodes per hyperedge.
        node_degree = x.new_zeros(x.shape[0]).index_add_(
            0, dual_nodes, hyperedge_weight[hyperedges]
        )
        edge_degree = x.new_zeros(num_hyperedges).index_add_(0, hyperedges, ones)
        inv_edge_degree = torch.where(edge_degree > 0, 1.0 / edge_degree, 0.0)
        power = 0.5 if self.normalization == "symmetric" else 1.0
        inv_node_degree = torch.where(node_degree > 0, node_degree.pow(-power), 0.0)
        projected = self.linear(x)
        if self.normalization == "symmetric":
            projected = projected * inv_node_degree.unsqueeze(-1)  # right D_v^{-1/2}
        # H^T: dual nodes -> hyperedges, then W D_e^{-1}.
        gathered = projected.new_zeros(num_hyperedges, projected.shape[1])
        gathered.index_add_(0, hyperedges, projected[dual_nodes])
        gathered = gathered * (hyperedge_weight * inv_edge_degree).unsqueeze(-1)
        # H: hyperedges -> dual nodes, then the left D_v^{-1/2} (or D_v^{-1}).
        out = projected.new_zeros(projected.shape)
        out.index_add_(0, dual_nodes, gathered[hyperedges])
        out = out * inv_node_degree.unsqueeze(-1)
        return out if self.bias is None else out + self.bias


class HyperDrop(nn.Module):
    """HyperDrop (arXiv:2106.15845): keep the top ``ratio`` of each graph's edges by a
    score from a hypergraph convolution on the dual, gated by ``tanh(score)``.

    ``forward`` returns ``(pooled_edge_features, kept)`` where ``kept`` indexes the
    kept edges (use it on ``edge_index``, ``edge_batch`` and any edge tensor).
    """

    def __init__(
        self,
        channels: int,
        ratio: float = 0.5,
        normalization: HypergraphNormalization = "symmetric",
    ):
        super().__init__()
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {ratio}")
        self.ratio = ratio
        self.score = DualHypergraphConv(channels, 1, normalization)

    def forward(
        self, x: Tensor, hyperedge_index: Tensor, num_hyperedges: int, edge_batch: Tensor
    ) -> tuple[Tensor, Tensor]:
        score = self.score(x, hyperedge_index, num_hyperedges).squeeze(-1)
        kept = top_k_per_graph(score, edge_batch, self.ratio)
        return x[kept] * torch.tanh(score[kept]).unsqueeze(-1), kept


class ClusteredEdges(NamedTuple):
    """HyperCluster's output for a batch of ``G`` graphs, ``k`` clusters each."""

    pooled: Tensor  # (G, k, d): E^pool = C^T E, graph by graph
    assignment: Tensor  # (m, k): C, each row a softmax over the clusters


class HyperCluster(nn.Module):
    """HyperCluster (arXiv:2106.15845): soft-cluster each graph's edges into ``clusters``
    pooled edges by GMPool attention whose keys come from a convolution on the dual
    (module docstring)."""

    def __init__(
        self,
        channels: int,
        clusters: int,
        normalization: HypergraphNormalization = "symmetric",
    ):
        super().__init__()
        if clusters < 1:
            raise ValueError(f"clusters must be >= 1, got {clusters}")
        self.clusters = clusters
        self.seeds = nn.Parameter(torch.empty(clusters, channels))
        nn.init.xavier_uniform_(self.seeds)
        self.query = nn.Linear(channels, channels)
        self.key = DualHypergraphConv(channels, channels, normalization)

    def assignment(self, x: Tensor, hyperedge_index: Tensor, num_hyperedges: int) -> Tensor:
        """$C$, ``(m, clusters)``: softmax over clusters of $q_c^\\top k_j / \\sqrt{d}$."""
        keys = self.key(x, hyperedge_index, num_hyperedges)
        queries = self.query(self.seeds)
        return torch.softmax(keys @ queries.T / math.sqrt(x.shape[1]), dim=1)

    def forward(
        self,
        x: Tensor,
        hyperedge_index: Tensor,
        num_hyperedges: int,
        edge_batch: Tensor,
        num_graphs: int,
    ) -> ClusteredEdges:
        if edge_batch.shape[0] != x.shape[0]:
            raise ValueError(
                f"edge_batch must have one entry per edge ({x.shape[0]}), got {edge_batch.shape[0]}"
            )
        k = self.clusters
        assignment = self.assignment(x, hyperedge_index, num_hyperedges)
        # C^T E per graph: edge j adds C_jc e_j to row (graph(j), c).
        pooled = x.new_zeros(num_graphs, k, x.shape[1])
        pooled.index_put_(
            (edge_batch[:, None].expand(-1, k), torch.arange(k, device=x.device).expand(len(x), k)),
            assignment[:, :, None] * x[:, None, :],
            accumulate=True,
        )
        return ClusteredEdges(pooled, assignment)

    @staticmethod
    def pooled_incidence(
        assignment: Tensor,
        hyperedge_index: Tensor,
        num_hyperedges: int,
        edge_batch: Tensor,
        num_graphs: int,
    ) -> Tensor:
        """$(M^{\\text{pool}})^\\top = C^\\top M^\\top$, sparse ``(G * k, n)``: row
        ``g * k + c`` joins cluster $c$ of graph $g$ to node $v$ with weight
        $\\sum_{j \\ni v} C_{jc}$."""
        k = assignment.shape[1]
        dual_nodes, nodes = hyperedge_index
        # Incidence (dual node j, node v) adds C_jc to entry (graph(j) k + c, v).
        rows = edge_batch[dual_nodes][:, None] * k + torch.arange(k, device=assignment.device)
        return torch.sparse_coo_tensor(
            torch.stack([rows.reshape(-1), nodes[:, None].expand(-1, k).reshape(-1)]),
            assignment[dual_nodes].reshape(-1),
            (num_graphs * k, num_hyperedges),
            check_invariants=False,
        ).coalesce()

    @staticmethod
    def unpool(pooled: Tensor, assignment: Tensor, edge_batch: Tensor) -> Tensor:
        """$\\tilde E = C E^{\\text{pool}}$: each edge's mix of its graph's pooled edges."""
        return torch.einsum("jc,jcd->jd", assignment, pooled[edge_batch])


def top_k_per_graph(score: Tensor, batch: Tensor, ratio: float) -> Tensor:
    """Indices of the $\\lceil r\\, m_G \\rceil$ highest scores of each graph, sorted."""
    if score.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=score.device)
    num_graphs = int(batch.max()) + 1
    counts = torch.bincount(batch, minlength=num_graphs)
    keep = torch.ceil(counts.to(torch.float64) * ratio).long()
    # Order by score descending, then stably by graph: each graph's entries come out
    # contiguous and best first, so an entry's rank is its position minus its graph's start.
    order = torch.argsort(score, descending=True, stable=True)
    order = order[torch.argsort(batch[order], stable=True)]
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(score.numel(), device=score.device) - starts[batch[order]]
    return torch.sort(order[rank < keep[batch[order]]]).values


class EdgeHypergraphEncoder(nn.Module):
    """EHGNN: ``layers`` hypergraph convolutions (ReLU between) on the dual, giving a
    representation ``(m, hidden)`` of every edge of the graph."""

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        layers: int = 2,
        normalization: HypergraphNormalization = "symmetric",
    ):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        widths = [in_channels] + [hidden] * layers
        self.convs = nn.ModuleList(
            DualHypergraphConv(a, b, normalization) for a, b in itertools.pairwise(widths)
        )

    def forward(self, dual: DualHypergraph) -> Tensor:
        edges = dual.x
        for position, conv in enumerate(self.convs):
            edges = conv(edges, dual.hyperedge_index, dual.num_hyperedges)
            if position < len(self.convs) - 1:
                edges = torch.relu(edges)
        return edges


__all__ = [
    "ClusteredEdges",
    "DualHypergraph",
    "DualHypergraphConv",
    "EdgeHypergraphEncoder",
    "HyperCluster",
    "HyperDrop",
    "dual_hypergraph_transform",
    "inverse_dual_hypergraph_transform",
    "top_k_per_graph",
    "with_self_loops",
]
