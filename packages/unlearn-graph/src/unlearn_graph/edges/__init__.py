"""Edge representations: from a graph's edges to vectors, by message passing on its dual.

`unlearn_graph.edges.dht` holds the dual hypergraph transformation of EHGNN
(arXiv:2106.15845), its inverse, hypergraph convolution on the dual and HyperDrop. It
imports torch, so this module holds only the torch-free names.
"""

from __future__ import annotations

from typing import Literal, get_args

HypergraphNormalization = Literal["symmetric", "row"]
HYPERGRAPH_NORMALIZATIONS: tuple[HypergraphNormalization, ...] = get_args(HypergraphNormalization)

__all__ = ["HYPERGRAPH_NORMALIZATIONS", "HypergraphNormalization"]
