"""HISTOGRAPH: a readout over every layer's node activations, not only the last one's.

Paper: *Learning from Historical Activations in Graph Neural Networks*, Galron, Sinai,
Maron, Eliasof (ICLR 2026), arXiv:2601.01123.

It lives in its own room, ``readout/``, because it is neither an unlearning method
(``methods/`` holds deletion algorithms behind one registry) nor a backbone
(``models.py`` builds message-passing stacks): it is the final aggregation layer that
turns a backbone's per-layer node activations into one vector per graph, PyG-style
(``forward(history, batch)`` with PyG's ``batch`` vector). The history is either one
tensor ``(N, L+1, d)`` or the backbone's list of $L+1$ layer outputs ``(N, d)``, read
as they are (no stacked copy: at depth 4 stacking cost a tenth of the readout).

Input: the *history* $H \\in \\mathbb{R}^{N \\times (L+1) \\times d}$, where
$h_n^{(\\ell)}$ is node $n$'s activation after layer $\\ell$ ($\\ell = 0$: the encoded
input, $\\ell = L$: the last layer), for the nodes of a batch of graphs ($G(n)$ is the
graph of node $n$, $|G|$ its number of nodes).

Stage 1, layer-wise attention. The last layer asks which layers to read:

$$q_n = W_Q h_n^{(L)},\\qquad k_n^{(\\ell)} = W_K h_n^{(\\ell)} + e_\\ell,\\qquad
v_n^{(\\ell)} = W_V h_n^{(\\ell)},$$

with $e_\\ell$ a learned embedding of layer $\\ell$'s position. The paper's attention is
*unified*: one set of layer weights per graph, from the scores averaged over its nodes
(``layer_weights="graph"``, the default),

$$\\alpha_\\ell(G) = \\operatorname{softmax}_\\ell\\Big(\\frac{1}{|G|}\\sum_{n \\in G}
\\frac{q_n^\\top k_n^{(\\ell)}}{\\sqrt{d}}\\Big),\\qquad
z_n = \\sum_{\\ell=0}^{L} \\alpha_\\ell(G(n))\\, v_n^{(\\ell)}.$$

``layer_weights="node"`` gives every node its own weights
$\\alpha_{n\\ell} = \\operatorname{softmax}_\\ell(q_n^\\top k_n^{(\\ell)} / \\sqrt{d})$
(an ablation; the paper's stage is the unified one).

Stage 2, node-wise attention. Multi-head self-attention among the nodes of each graph
(never across graphs), with a residual connection, then the mean over the graph:

$$\\tilde z_n = z_n + \\operatorname{MHA}\\big(z_n, \\{z_m\\}_{m \\in G(n)}\\big),\\qquad
g_G = \\frac{1}{|G|} \\sum_{n \\in G} \\tilde z_n .$$

$g_G$ is permutation invariant in the nodes of $G$ (both stages are).

Cost. Written as above, the keys and values cost $O(N L d^2)$, as much as the
backbone's own linear maps. Because they are linear, the same numbers come cheaper:
$q_n^\\top W_K h_n^{(\\ell)} = (W_K^\\top q_n)^\\top h_n^{(\\ell)}$ and
$\\sum_\\ell \\alpha_\\ell W_V h_n^{(\\ell)} = W_V \\sum_\\ell \\alpha_\\ell h_n^{(\\ell)}$, so
stage 1 costs $O(N L d + N d^2)$; stage 2 costs $O(\\sum_G |G|^2 d)$. With one head
(the default) stage 2's linear maps fold onto the mixed history as well
(`HistoGraphReadout._one_head`): the keys are the mixed rows themselves, the values are
applied once per graph, and one $(N, d) \\times (d, d)$ product is left per node instead
of $(N, d) \\times (d, 3d)$. The products of weights alone (those folded maps,
$W_Q^\\top W_K$) are kept between forwards in eval mode without gradients until a
weight may have changed (`_WeightProducts`). At this size each torch call costs tens of
microseconds, so the forward is written in few calls (35 besides views at depth 4, from
58). The speed benchmark ``graph-histograph-speed`` measures the overhead against mean
pooling.

Where we had to choose (the paper's text, as we could read it, leaves these open or we
could not check them): the learned layer embedding $e_\\ell$ added to the keys, one
self-attention block without layer norm or feed-forward in stage 2, the plain mean
after it, and one head by default (``heads``; on CPU four heads of width 8 cost about
3 times one head of width 32 in stage 2, measured at 128 graphs of 20-40 nodes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal, NamedTuple, Self, TypeVar, cast

import torch
from torch import Tensor, nn

LayerWeights = Literal["graph", "node"]
History = Tensor | Sequence[Tensor]
"""A backbone's history: ``(N, L+1, d)``, or its $L+1$ layer outputs ``(N, d)``."""
T = TypeVar("T")


def scatter_mean(values: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Mean of ``values`` ``(N, ...)`` over the nodes of each graph: ``(num_graphs, ...)``."""
    total = values.new_zeros((num_graphs, *values.shape[1:]))
    total.index_add_(0, batch, values)
    count = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(values.dtype)
    return total / count.view(-1, *([1] * (values.dim() - 1)))


class GraphLayout(NamedTuple):
    """Where each node of a sorted PyG ``batch`` sits: computed once per forward and
    shared by both stages (the graph means and the padded attention batch)."""

    counts: Tensor  # (G,) |G|
    inverse_counts: Tensor  # (G,) 1 / |G| (1 for an empty graph)
    width: int  # the largest graph's node count
    sources: Tensor  # (G * width,) the node in each padded slot, N (a zero row) if none
    query_weights: Tensor  # (G, width) c_n = 1/|G| on a graph's nodes, 0 on padding
    key_mask: Tensor  # (G, width) additive: 0 on a graph's nodes, -inf on padding
    nonempty: Tensor  # (G, 1) 1 for a graph with nodes, 0 for an empty one


def graph_layout(batch: Tensor, num_graphs: int, dtype: torch.dtype = torch.float32) -> GraphLayout:
    """The `GraphLayout` of ``batch`` (sorted, as PyG batches are).

    Every tensor here is ``(G, width)`` or smaller: no pass over the nodes but the count.
    An empty graph's queries attend to its first (zero) padding slot instead of to
    nothing (NaN); its query weights are 0, so that slot never reaches the output.
    """
    counts = torch.bincount(batch, minlength=num_graphs)
    width = int(counts.max()) if batch.numel() else 0
    at_least_one = counts.clamp(min=1)
    inverse = at_least_one.reciprocal().to(dtype)
    slot = torch.arange(width, device=batch.device)
    valid = slot < counts.unsqueeze(1)
    first = counts.cumsum(0) - counts
    sources = torch.where(valid, first.unsqueeze(1) + slot, batch.numel()).view(-1)
    blocked = torch.where(slot < at_least_one.unsqueeze(1), 0.0, float("-inf")).to(dtype)
    return GraphLayout(
        counts,
        inverse,
        width,
        sources,
        valid * inverse.unsqueeze(1),
        blocked,
        (counts * inverse).unsqueeze(1),
    )


def _graph_mean(values: Tensor, layout: GraphLayout) -> Tensor:
    """Mean of ``values`` ``(N, k)`` over each graph's (contiguous) rows: ``(G, k)``, 0 for
    an empty graph."""
    return torch.segment_reduce(values, "mean", lengths=layout.counts, initial=0)


class _WeightProducts:
    """Products of a module's weights, reused across forwards of a module in eval mode
    without gradients, until a weight may have changed: its version counter (bumped by
    in-place updates such as most optimiser steps or ``load_state_dict``), its storage
    (``.to()``), or its gradient (a new backward: fused optimisers update the weights
    without bumping the version). ``train()`` / ``eval()`` drop them. With gradients
    enabled, or in training mode, they are recomputed every call. A weight edited
    through ``.data`` with no backward in between goes unseen: call
    `HistoGraphReadout.clear_weight_products`."""

    def __init__(self) -> None:
        self.key: tuple[tuple[int, int, int, int], ...] | None = None
        self.value: Any = None

    def get(self, owner: nn.Module, weights: tuple[Tensor, ...], compute: Callable[[], T]) -> T:
        if owner.training or torch.is_grad_enabled():
            return compute()
        key = tuple(_fingerprint(w) for w in weights)
        if key != self.key:
            self.value, self.key = compute(), key
        return cast(T, self.value)

    def clear(self) -> None:
        self.key = self.value = None


def _fingerprint(weight: Tensor) -> tuple[int, int, int, int]:
    grad = weight.grad
    if grad is None:
        return weight._version, weight.data_ptr(), 0, -1
    return weight._version, weight.data_ptr(), id(grad), grad._version


class _Scratch:
    """Intermediate tensors kept between forwards in eval mode without gradients and
    written in place (``out=``), so that each forward does not fault in fresh pages for
    them: in the whole forward, after the backbone's own allocations, the readout's
    ~4 MB of temporaries did. None of them is returned. Not for concurrent forwards of
    one module from several threads."""

    def __init__(self) -> None:
        self.tensors: dict[str, Tensor] = {}

    def get(
        self, owner: nn.Module, name: str, shape: tuple[int, ...], like: Tensor
    ) -> Tensor | None:
        """A tensor of ``shape`` to overwrite, or None where the op must allocate
        (training mode or gradients enabled)."""
        if owner.training or torch.is_grad_enabled():
            return None
        kept = self.tensors.get(name)
        if (
            kept is None
            or kept.shape != shape
            or kept.dtype != like.dtype
            or kept.device != like.device
        ):
            kept = self.tensors[name] = like.new_empty(shape)
        return kept


class LayerAttention(nn.Module):
    """Stage 1: attention over the layers of each node's history, queried by its last
    layer (equations in the module docstring)."""

    def __init__(self, hidden: int, num_layers: int, layer_weights: LayerWeights = "graph"):
        super().__init__()
        if layer_weights not in ("graph", "node"):
            raise ValueError(f"layer_weights must be 'graph' or 'node', got {layer_weights!r}")
        self.hidden = hidden
        self.num_layers = num_layers
        self.layer_weights = layer_weights
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.value = nn.Linear(hidden, hidden, bias=False)
        self.layer_embedding = nn.Parameter(torch.zeros(num_layers, hidden))
        nn.init.normal_(self.layer_embedding, std=0.02)
        self._products = _WeightProducts()
        self._scratch = _Scratch()

    def train(self, mode: bool = True) -> Self:
        self._products.clear()
        return super().train(mode)

    def _combined(self) -> Tensor:
        """$[W_Q^\\top W_K, W_Q^\\top E^\\top] / \\sqrt{d}$ ``(d, d + L+1)``, $E$ the layer
        embeddings."""
        keys = torch.cat([self.key.weight, self.layer_embedding.T], 1)
        return self.query.weight.T @ (keys * self.hidden**-0.5)

    def weights(
        self, history: History, batch: Tensor, num_graphs: int, layout: GraphLayout | None = None
    ) -> Tensor:
        """Layer weights: ``(num_graphs, L+1)`` for ``"graph"``, ``(N, L+1)`` for ``"node"``."""
        layers = _layers(history, self.num_layers, self.hidden)
        d = self.hidden
        # q^T (W_K h + e) / sqrt(d) = h_L^T (W_Q^T W_K) h / sqrt(d) + h_L^T W_Q^T e / sqrt(d):
        # one (N, d) x (d, d + L+1) product of the last layer gives both terms for every
        # layer, instead of forming q and W_K h for each layer.
        combined = self._products.get(
            self, (self.query.weight, self.key.weight, self.layer_embedding), self._combined
        )
        scratch = self._scratch.get(
            self, "projected", (len(layers[-1]), combined.shape[1]), combined
        )
        if scratch is None:
            projected = layers[-1] @ combined  # (N, d + L+1)
        else:
            projected = torch.mm(layers[-1], combined, out=scratch)
        query = projected[:, :d]
        # one row-wise dot product per layer, on each layer as the backbone left it
        column = query.unsqueeze(2)
        dots = torch.cat([torch.bmm(layer.unsqueeze(1), column) for layer in layers], 2)
        scores = dots.squeeze(1).add_(projected[:, d:])  # (N, L+1)
        if self.layer_weights == "graph":
            layout = graph_layout(batch, num_graphs, dots.dtype) if layout is None else layout
            scores = _graph_mean(scores, layout)
        return torch.softmax(scores, dim=-1)

    def mix(
        self, history: History, batch: Tensor, num_graphs: int, layout: GraphLayout | None = None
    ) -> Tensor:
        """$\\sum_\\ell \\alpha_\\ell h^{(\\ell)}$ per node ``(N, d)``, before $W_V$."""
        return self._mix_padded(history, batch, num_graphs, layout, scratch=False)[:-1]

    def _mix_padded(
        self,
        history: History,
        batch: Tensor,
        num_graphs: int,
        layout: GraphLayout | None,
        scratch: bool = True,
    ) -> Tensor:
        """`mix` ``(N, d)`` with one zero row after it ``(N + 1, d)``: the row that
        stage 2's padded slots gather. With ``scratch`` the rows may be a kept
        `_Scratch` tensor (overwritten by the next forward): for internal use only."""
        layers = _layers(history, self.num_layers, self.hidden)
        weights = self.weights(layers, batch, num_graphs, layout)
        per_node = weights.index_select(0, batch) if self.layer_weights == "graph" else weights
        shape = (layers[0].shape[0] + 1, self.hidden)
        kept = self._scratch.get(self, "rows", shape, layers[0]) if scratch else None
        rows = layers[0].new_zeros(shape) if kept is None else kept.zero_()
        mixed = rows[:-1]
        # One in-place multiply-add per layer into the zeroed rows: on CPU 2x faster than
        # a (N, 1, L+1) x (N, L+1, d) bmm (a plain loop below 400 multiply-adds per
        # matrix) at 5 layers, and no temporary per layer.
        for index, layer in enumerate(layers):
            mixed.addcmul_(layer, per_node[:, index : index + 1])
        return rows

    def forward(self, history: History, batch: Tensor, num_graphs: int) -> Tensor:
        # W_V sum_l alpha_l h^(l) = sum_l alpha_l W_V h^(l)
        return self.value(self.mix(history, batch, num_graphs))


class NodeAttention(nn.Module):
    """Stage 2: multi-head self-attention among the nodes of each graph, residual, mean.

    Queries, keys and values are projected on the flat node list (no padding), then the
    graphs are padded to a dense batch for the attention itself, with padded keys masked.
    """

    def __init__(self, hidden: int, heads: int = 1):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.heads = heads
        self.in_proj = nn.Linear(hidden, 3 * hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, nodes: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        layout = graph_layout(batch, num_graphs, nodes.dtype)
        return self.attend(self.in_proj(nodes), _graph_mean(nodes, layout), layout)

    def attend(self, projected: Tensor, node_mean: Tensor, layout: GraphLayout) -> Tensor:
        """$\\frac{1}{|G|}\\sum_n (z_n + \\operatorname{MHA}(z_n, G))$ per graph, from the
        projected nodes ``in_proj(z)`` ``(N, 3d)`` and the graph means of $z$ ``(G, d)``."""
        graphs, width, heads = len(layout.inverse_counts), layout.width, self.heads
        dense = _padded(projected, layout)
        # (G * Nmax, 3d) -> three (G * heads, Nmax, d / heads) (a view for one head)
        query, key, value = (
            dense.view(graphs, width, 3, heads, -1)
            .permute(2, 0, 3, 1, 4)
            .reshape(3, graphs * heads, width, -1)
            .unbind(0)
        )
        blocked = layout.key_mask.repeat_interleave(heads, 0)
        scores = torch.baddbmm(
            blocked.unsqueeze(1), query, key.transpose(1, 2), alpha=query.shape[-1] ** -0.5
        )
        attention = torch.softmax(scores, dim=-1)  # (G * heads, Nmax, Nmax)
        # mean_n (z_n + W_o sum_m P_nm v_m + b_o) = mean_n z_n + W_o (c^T P V) + b_o with
        # c_n = 1/|G| on the graph's nodes: the mean over queries is taken before the
        # values (one (1, Nmax) row per graph) and the output map runs once per graph.
        query_weights = layout.query_weights.unsqueeze(1).repeat_interleave(heads, 0)
        mean_attended = torch.bmm(torch.bmm(query_weights, attention), value)
        return node_mean + self.out_proj(mean_attended.reshape(graphs, -1))


def _padded(values: Tensor, layout: GraphLayout) -> Tensor:
    """``values`` ``(N, k)`` laid out as ``(G * width, k)``, zeros in the empty slots: a
    gather from the rows plus one zero row (several times faster on CPU than
    ``index_copy_`` into a zero tensor)."""
    rows = torch.cat([values, values.new_zeros((1, values.shape[1]))])
    return rows.index_select(0, layout.sources)


class FoldedMaps(NamedTuple):
    """Stage 2's linear maps folded onto the mixed history $m$ (one head; see
    `HistoGraphReadout._one_head`)."""

    to_queries: Tensor  # (d + 1, d): rows 0..d-1 A^T / sqrt(d), row d u^T / sqrt(d)
    to_output: Tensor  # (2d, d): [W_V^T; (W_o W_v W_V)^T]
    value_bias: Tensor  # (d,): W_o b_v


class HistoGraphReadout(nn.Module):
    """HISTOGRAPH (arXiv:2601.01123): layer-wise then node-wise attention over a
    backbone's history ``(N, L+1, d)``; returns one embedding ``(num_graphs, d)`` per graph.

    ``num_layers`` counts the history's entries ($L+1$, the input encoding included).
    """

    def __init__(
        self,
        hidden: int,
        num_layers: int,
        heads: int = 1,
        layer_weights: LayerWeights = "graph",
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.layers = LayerAttention(hidden, num_layers, layer_weights)
        self.nodes = NodeAttention(hidden, heads)
        self._products = _WeightProducts()
        self._scratch = _Scratch()

    def forward(self, history: History, batch: Tensor, num_graphs: int | None = None) -> Tensor:
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        layers = _layers(history, self.layers.num_layers, self.layers.hidden)
        layout = graph_layout(batch, num_graphs, layers[0].dtype)
        rows = self.layers._mix_padded(layers, batch, num_graphs, layout)  # z = W_V m
        if self.nodes.heads == 1:
            return self._one_head(rows, layout)
        mixed, value, in_proj = rows[:-1], self.layers.value.weight, self.nodes.in_proj
        # in_proj(W_V m) = (W_in W_V) m + b_in and mean(W_V m) = W_V mean(m): z is never
        # formed node by node.
        projected = torch.addmm(in_proj.bias, mixed, (in_proj.weight @ value).T)
        node_mean = _graph_mean(mixed, layout) @ value.T
        return self.nodes.attend(projected, node_mean, layout)

    def train(self, mode: bool = True) -> Self:
        self._products.clear()  # and LayerAttention.train drops its own
        return super().train(mode)

    def clear_weight_products(self) -> None:
        """Drop the weight products kept between forwards without gradients: needed only
        after editing a weight through ``.data``, which bypasses its version counter."""
        self._products.clear()
        self.layers._products.clear()

    def folded_maps(self) -> FoldedMaps:
        """Stage 2's maps folded onto $m$ (`_one_head`): a few ``(d, d)`` products of the
        weights, kept between forwards without gradients while the weights stay the same
        (`_WeightProducts`), recomputed every forward with gradients."""
        nodes = self.nodes
        weights = (self.layers.value.weight, nodes.in_proj.weight, nodes.in_proj.bias)
        return self._products.get(self, (*weights, nodes.out_proj.weight), self._fold)

    def _fold(self) -> FoldedMaps:
        nodes, value = self.nodes, self.layers.value.weight
        d = value.shape[0]
        w_query, w_key, w_value = (nodes.in_proj.weight @ value).split(d)  # W_q W_V, ...
        b_query, _, b_value = nodes.in_proj.bias.split(d)
        # [A^T; u^T] = [W_q W_V, b_q]^T (W_k W_V), scaled by 1 / sqrt(d)
        to_queries = torch.cat([w_query, b_query.unsqueeze(1)], 1).T @ (w_key * d**-0.5)
        to_output = torch.cat([value.T, (nodes.out_proj.weight @ w_value).T])
        return FoldedMaps(to_queries, to_output, nodes.out_proj.weight @ b_value)

    def _one_head(self, rows: Tensor, layout: GraphLayout) -> Tensor:
        """Stage 2 with one head, every linear map folded onto $m_n$ (``rows``: the
        mixed history, where $z_n = W_V m_n$, and one zero row), so that one
        ``(N, d) x (d, d)`` product is the only work per node besides the attention.

        With $q_n = W_q z_n + b_q$ and $k_m = W_k z_m + b_k$, the score is
        $q_n^\\top k_m = (A m_n + u)^\\top m_m + c_n$, with $A = W_V^\\top W_k^\\top W_q W_V$,
        $u = W_V^\\top W_k^\\top b_q$ and $c_n = q_n^\\top b_k$ constant over the keys $m$,
        which the softmax over $m$ ignores: the keys are the $m_m$ themselves. The values
        $v_m = W_v W_V m_m + b_v$ enter only through the query mean
        $w = c^\\top P$ (weights summing to 1 on a graph, 0 on an empty one), so
        $w V = (W_v W_V)(w M) + b_v$ is formed once per graph. The residual's mean
        $\\frac{1}{|G|}\\sum_n z_n = W_V (c^\\top M)$ comes from the same padded keys, in
        the same product as $w M$; one ``(G, 2d) x (2d, d)`` product maps both.
        """
        maps = self.folded_maps()
        graphs, width, d = len(layout.inverse_counts), layout.width, rows.shape[1]
        slots, get = graphs * width, partial(self._scratch.get, self, like=rows)
        # (G * width, d), zeros on padding
        flat_keys = torch.index_select(rows, 0, layout.sources, out=get("keys", (slots, d)))
        queries = torch.addmm(
            maps.to_queries[d], flat_keys, maps.to_queries[:d], out=get("queries", (slots, d))
        )
        keys = flat_keys.view(graphs, width, d)
        scores = torch.baddbmm(
            layout.key_mask.unsqueeze(1),
            queries.view(graphs, width, d),
            keys.transpose(1, 2),
            out=get("scores", (graphs, width, width)),
        )
        kept = get("attention", (graphs, width, width))
        if kept is None:
            attention = torch.softmax(scores, dim=-1)  # (G, width, width)
        else:
            attention = torch.ops.aten._softmax.out(scores, -1, False, out=kept)
        del queries, scores
        query_weights = layout.query_weights.unsqueeze(1)  # (G, 1, width): c
        query_mean = torch.bmm(query_weights, attention)  # (G, 1, width): w = c^T P
        # (G, 2, width) x (G, width, d): c^T M (the mean of m) and w M in one product
        means = torch.bmm(torch.cat([query_weights, query_mean], 1), keys).view(graphs, 2 * d)
        out = torch.addmm(self.nodes.out_proj.bias, means, maps.to_output)
        return out.addcmul_(layout.nonempty, maps.value_bias)


def _layers(history: History, num_layers: int, hidden: int) -> Sequence[Tensor]:
    """The history as its layers ``(N, d)``: a list is checked and kept, a tensor
    ``(N, L+1, d)`` is split into views."""
    if not isinstance(history, Tensor):
        shapes = {tuple(layer.shape) for layer in history}
        if len(history) != num_layers or len(shapes) != 1 or next(iter(shapes))[1:] != (hidden,):
            raise ValueError(
                f"history must be {num_layers} layers of shape (nodes, {hidden}) (layers = "
                f"backbone depth + 1, the input encoding included), got {len(history)} of "
                f"shapes {sorted(shapes)}"
            )
        return history
    if history.dim() != 3 or history.shape[1] != num_layers or history.shape[2] != hidden:
        raise ValueError(
            f"history must have shape (nodes, {num_layers}, {hidden}) "
            f"(layers = backbone depth + 1, the input encoding included), "
            f"got {tuple(history.shape)}"
        )
    return history.unbind(1)
