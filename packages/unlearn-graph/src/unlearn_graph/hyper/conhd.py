"""CoNHD: co-representation neural hypergraph diffusion for edge-dependent node labels.

Paper: *Modeling Edge-Specific Node Features through Co-Representation Neural Hypergraph
Diffusion*, Zheng and Worring (CIKM 2025), arXiv:2405.14286. Task: edge-dependent node
classification (ENC), one label $y_{v,e}$ per incidence $v \\in e$.

Instead of one vector per node and one per hyperedge, CoNHD keeps one co-representation
$h_{v,e} \\in \\mathbb{R}^d$ per incidence. It starts from the node's features,
$h^{(0)}_{v,e} = \\operatorname{ReLU}(W_{\\text{in}} x_v + b)$, and is diffused by two
permutation-equivariant set operators that both read $h^{(t)}$:

$$m^{(t)}_{v,e} = \\phi\\big(\\{h^{(t)}_{u,e}\\}_{u \\in e}\\big)_v \\quad
\\text{(within the hyperedge: the other members of } e\\text{)},$$

$$n^{(t)}_{v,e} = \\psi\\big(\\{h^{(t)}_{v,f}\\}_{f \\ni v}\\big)_e \\quad
\\text{(within the node: } v\\text{'s other hyperedges)},$$

$$h^{(t+1)}_{v,e} = \\operatorname{LN}\\big(W_u\\,[\\,h^{(t)}_{v,e};\\, m^{(t)}_{v,e};\\,
n^{(t)}_{v,e};\\, h^{(0)}_{v,e}\\,] + b_u\\big), \\qquad
\\hat y_{v,e} = \\operatorname{MLP}(h^{(T)}_{v,e}).$$

This is the paper's gradient-descent form (CoNHD-GD): one step of gradient descent on
$\\sum_e \\Omega_e(\\{h_{v,e}\\}_{v\\in e}) + \\sum_v \\Omega_v(\\{h_{v,e}\\}_{e\\ni v})
+ \\lambda \\sum_{v,e} \\lVert h_{v,e} - h^{(0)}_{v,e} \\rVert^2$ moves $h_{v,e}$ along
$-\\nabla\\Omega_e$ (an equivariant function of $e$'s members, learned as $\\phi$),
$-\\nabla\\Omega_v$ (learned as $\\psi$) and back towards $h^{(0)}_{v,e}$; the linear
$W_u$ learns how the four are combined. One set of operators is shared by all $T$
steps by default (``share_weights``), as in the authors' code. The ADMM form is not
implemented.

The equivariant operators (one per direction, ``blocks`` stacked):

- ``sab``, the Set Transformer's self-attention block: $Q, K, V = XW_q, XW_k, XW_v$ split
  into heads, $O = Q + \\operatorname{softmax}(QK^\\top/\\sqrt{d})V$ (scaled by the full
  width $d$, as the Set Transformer's code does), $O \\leftarrow \\operatorname{LN}(O)$,
  $\\operatorname{SAB}(X) = \\operatorname{LN}(O + \\operatorname{ReLU}(OW_o + b_o))$;
- ``deepsets`` (ED-HNN's equivariant DeepSets block):
  $\\operatorname{DS}(X)_i = \\operatorname{MLP}_2([\\,x_i;\\ \\tfrac{1}{|X|}\\textstyle
  \\sum_j \\operatorname{MLP}_1(x_j)\\,])$.

What is ours: no positional encoding of a node's order inside a hyperedge (the
authors' optional ``OrderPE``; our world puts the ordering signal in the features),
no ISAB, and sets are processed padded to the largest hyperedge (or node degree) in
one batch rather than by DGL's degree buckets; padding is masked out of every mean
and softmax, so it changes nothing (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unlearn_graph.hyper import SET_OPERATORS, SetOperatorName


@dataclass(frozen=True)
class Groups:
    """Incidences grouped by one key (hyperedge or node), padded to the largest group.

    ``slots[g, k]`` is the ``k``-th incidence of group ``g`` (``num_incidences`` marks
    padding, ``mask`` the real entries); ``keys[g]`` the group's hyperedge or node id;
    ``inverse[i]`` where incidence ``i`` sits in ``slots[mask]``.
    """

    slots: Tensor  # (G, K) long
    mask: Tensor  # (G, K) bool
    keys: Tensor  # (G,) long
    inverse: Tensor  # (P,) long


def group_incidences(keys: Tensor) -> Groups:
    """Group the incidences by ``keys`` (one id per incidence), groups in key order."""
    count = keys.shape[0]
    order = torch.argsort(keys, stable=True)
    unique, sizes = torch.unique_consecutive(keys[order], return_counts=True)
    row = torch.repeat_interleave(torch.arange(unique.shape[0]), sizes)
    starts = torch.cumsum(sizes, 0) - sizes
    column = torch.arange(count) - starts[row]
    width = int(sizes.max()) if count else 0
    slots = torch.full((unique.shape[0], width), count, dtype=torch.long)
    slots[row, column] = order
    mask = slots < count
    # slots[mask] lists the incidences row by row, i.e. in the order ``order``.
    inverse = torch.empty(count, dtype=torch.long)
    inverse[order] = torch.arange(count)
    return Groups(slots, mask, unique, inverse)


@dataclass(frozen=True)
class Incidence:
    """A hypergraph as its incidence list $\\{(v, e) : v \\in e\\}$, grouped both ways."""

    nodes: Tensor  # (P,) long
    hyperedges: Tensor  # (P,) long
    num_nodes: int
    num_hyperedges: int
    by_hyperedge: Groups
    by_node: Groups

    @classmethod
    def build(
        cls, nodes: Tensor, hyperedges: Tensor, num_nodes: int, num_hyperedges: int
    ) -> Incidence:
        """Check and group an incidence list (each pair at most once)."""
        if nodes.shape != hyperedges.shape or nodes.dim() != 1:
            raise ValueError(
                "nodes and hyperedges must be 1-D of the same length, got shapes "
                f"{tuple(nodes.shape)} and {tuple(hyperedges.shape)}"
            )
        for name, ids, size in (
            ("nodes", nodes, num_nodes),
            ("hyperedges", hyperedges, num_hyperedges),
        ):
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= size):
                raise ValueError(f"{name} must lie in 0..{size - 1}")
        pairs = nodes.long() * num_hyperedges + hyperedges.long()
        if torch.unique(pairs).numel() != pairs.numel():
            raise ValueError("an incidence (node, hyperedge) is listed twice")
        nodes, hyperedges = nodes.long(), hyperedges.long()
        return cls(
            nodes,
            hyperedges,
            num_nodes,
            num_hyperedges,
            group_incidences(hyperedges),
            group_incidences(nodes),
        )


def gather_sets(values: Tensor, groups: Groups) -> Tensor:
    """Per-incidence rows ``(P, d)`` to padded sets ``(G, K, d)`` (padding rows zero)."""
    padded = torch.cat([values, values.new_zeros(1, values.shape[1])])
    return padded[groups.slots]


def scatter_sets(sets: Tensor, groups: Groups) -> Tensor:
    """Padded sets ``(G, K, d)`` back to per-incidence rows ``(P, d)``."""
    return sets[groups.mask][groups.inverse]


def segment_mean(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Mean of the rows of ``values`` sharing ``index`` (zero for an empty segment)."""
    total = values.new_zeros(size, values.shape[1]).index_add_(0, index, values)
    count = values.new_zeros(size).index_add_(0, index, values.new_ones(index.shape[0]))
    return total / count.clamp(min=1.0).unsqueeze(-1)


def mlp(in_channels: int, hidden: int, out_channels: int, layers: int) -> nn.Sequential:
    """``layers`` linear maps with ReLU between (one layer: a single linear map)."""
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    widths = [in_channels] + [hidden] * (layers - 1) + [out_channels]
    modules: list[nn.Module] = []
    for position in range(layers):
        modules.append(nn.Linear(widths[position], widths[position + 1]))
        if position < layers - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class SelfAttentionBlock(nn.Module):
    """SAB of the Set Transformer on padded sets (module docstring); equivariant."""

    def __init__(self, channels: int, heads: int = 4, layer_norm: bool = True):
        super().__init__()
        if channels % heads:
            raise ValueError(f"heads ({heads}) must divide channels ({channels})")
        self.heads = heads
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.out = nn.Linear(channels, channels)
        self.norm_attention: nn.Module = nn.LayerNorm(channels) if layer_norm else nn.Identity()
        self.norm_out: nn.Module = nn.LayerNorm(channels) if layer_norm else nn.Identity()

    def forward(self, sets: Tensor, mask: Tensor) -> Tensor:
        groups, width, channels = sets.shape
        split = (groups, width, self.heads, channels // self.heads)
        query = self.query(sets).view(split).transpose(1, 2)  # (G, heads, K, d/heads)
        key = self.key(sets).view(split).transpose(1, 2)
        value = self.value(sets).view(split).transpose(1, 2)
        scores = query @ key.transpose(-1, -2) / math.sqrt(channels)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        attended = query + torch.softmax(scores, dim=-1) @ value
        attended = self.norm_attention(attended.transpose(1, 2).reshape(sets.shape))
        return self.norm_out(attended + torch.relu(self.out(attended)))


class DeepSetsBlock(nn.Module):
    """Equivariant DeepSets block (module docstring): $\\mathrm{MLP}_2$ of $x_i$ and the
    set's mean of $\\mathrm{MLP}_1$."""

    def __init__(self, channels: int, mlp_layers: int = 2):
        super().__init__()
        self.inner = mlp(channels, channels, channels, mlp_layers)
        self.outer = mlp(2 * channels, channels, channels, mlp_layers)

    def forward(self, sets: Tensor, mask: Tensor) -> Tensor:
        weights = mask.unsqueeze(-1).to(sets.dtype)
        pooled = (self.inner(sets) * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        pooled = pooled.unsqueeze(1).expand_as(sets)
        return self.outer(torch.cat([sets, pooled], dim=-1))


class SetOperator(nn.Module):
    """``blocks`` equivariant blocks of one kind, applied to padded sets."""

    def __init__(
        self,
        channels: int,
        operator: SetOperatorName = "sab",
        blocks: int = 1,
        heads: int = 4,
        layer_norm: bool = True,
        mlp_layers: int = 2,
    ):
        super().__init__()
        if operator not in SET_OPERATORS:
            raise ValueError(f"operator must be one of {SET_OPERATORS}, got {operator!r}")
        if blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks}")
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(channels, heads, layer_norm)
            if operator == "sab"
            else DeepSetsBlock(channels, mlp_layers)
            for _ in range(blocks)
        )

    def forward(self, values: Tensor, groups: Groups) -> Tensor:
        """Per-incidence rows in, the operator applied inside every group, rows out."""
        sets = gather_sets(values, groups)
        for block in self.blocks:
            sets = block(sets, groups.mask)
        return scatter_sets(sets, groups)


class CoNHDLayer(nn.Module):
    """One diffusion step: $\\phi$ within hyperedges, $\\psi$ within nodes, then $W_u$."""

    def __init__(
        self,
        channels: int,
        operator: SetOperatorName = "sab",
        blocks: int = 1,
        heads: int = 4,
        layer_norm: bool = True,
        mlp_layers: int = 2,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.within_hyperedge = SetOperator(
            channels, operator, blocks, heads, layer_norm, mlp_layers
        )
        self.within_node = SetOperator(channels, operator, blocks, heads, layer_norm, mlp_layers)
        self.update = nn.Linear(4 * channels, channels)
        self.norm: nn.Module = nn.LayerNorm(channels) if layer_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, state: Tensor, initial: Tensor, incidence: Incidence) -> Tensor:
        inside_hyperedge = self.dropout(self.within_hyperedge(state, incidence.by_hyperedge))
        inside_node = self.dropout(self.within_node(state, incidence.by_node))
        combined = torch.cat([state, inside_hyperedge, inside_node, initial], dim=-1)
        return self.norm(self.update(combined))


class CoNHD(nn.Module):
    """CoNHD-GD (module docstring): logits ``(P, num_classes)``, one row per incidence."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 32,
        layers: int = 2,
        operator: SetOperatorName = "sab",
        blocks: int = 1,
        heads: int = 4,
        layer_norm: bool = True,
        mlp_layers: int = 2,
        dropout: float = 0.0,
        share_weights: bool = True,
    ):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.layers = layers
        self.encode = nn.Linear(in_channels, hidden)
        count = 1 if share_weights else layers
        self.steps = nn.ModuleList(
            CoNHDLayer(hidden, operator, blocks, heads, layer_norm, mlp_layers, dropout)
            for _ in range(count)
        )
        self.head = mlp(hidden, hidden, num_classes, 2)

    def co_representations(self, x: Tensor, incidence: Incidence) -> Tensor:
        """$h^{(T)}_{v,e}$ for every incidence, ``(P, hidden)``."""
        initial = torch.relu(self.encode(x[incidence.nodes]))
        state = initial
        for step in range(self.layers):
            layer = self.steps[step if len(self.steps) > 1 else 0]
            state = layer(state, initial, incidence)
        return state

    def forward(self, x: Tensor, incidence: Incidence) -> Tensor:
        return self.head(self.co_representations(x, incidence))


__all__ = [
    "CoNHD",
    "CoNHDLayer",
    "DeepSetsBlock",
    "Groups",
    "Incidence",
    "SelfAttentionBlock",
    "SetOperator",
    "gather_sets",
    "group_incidences",
    "mlp",
    "scatter_sets",
    "segment_mean",
]
