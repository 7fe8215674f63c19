"""Edge representations: from a graph's edges to vectors, by message passing on its dual.

`unlearn_graph.edges.dht` holds the dual hypergraph transformation of EHGNN
(arXiv:2106.15845), its inverse, hypergraph convolution on the dual, HyperDrop and
HyperCluster; `unlearn_graph.edges.models` the classifiers and autoencoders of the
``graph-edge-dht`` benchmark. Those import torch, so this module holds only the
torch-free names.
"""

from __future__ import annotations

from typing import Literal, get_args

HypergraphNormalization = Literal["symmetric", "row"]
HYPERGRAPH_NORMALIZATIONS: tuple[HypergraphNormalization, ...] = get_args(HypergraphNormalization)
EdgeModelName = Literal["ehgnn-hyperdrop", "ehgnn-hypercluster", "gcn", "edge-mlp"]
EDGE_MODELS: tuple[EdgeModelName, ...] = get_args(EdgeModelName)
"""The models `unlearn_graph.edges.models` builds for ``graph-edge-dht``."""

__all__ = ["EDGE_MODELS", "HYPERGRAPH_NORMALIZATIONS", "EdgeModelName", "HypergraphNormalization"]
