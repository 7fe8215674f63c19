"""Fixtures shared by the graph-algos tests: networkx oracles for our kernels."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest
import scipy.sparse as sp


def _networkx_matching_size(biadjacency: sp.spmatrix) -> int:
    """Edges of a maximum matching of the bipartite graph rows × columns, by networkx."""
    rows_count, columns_count = biadjacency.shape
    graph = nx.Graph()
    rows = [("row", i) for i in range(rows_count)]
    graph.add_nodes_from(rows)
    graph.add_nodes_from(("column", j) for j in range(columns_count))
    row_index, column_index = biadjacency.nonzero()
    graph.add_edges_from(
        (("row", i), ("column", j)) for i, j in zip(row_index, column_index, strict=True)
    )
    # networkx lists every matched pair twice, once from each side.
    return len(nx.bipartite.maximum_matching(graph, top_nodes=rows)) // 2


@pytest.fixture
def networkx_matching_size() -> Callable[[sp.spmatrix], int]:
    """The size of a maximum matching of a biadjacency matrix, as networkx finds it."""
    return _networkx_matching_size
