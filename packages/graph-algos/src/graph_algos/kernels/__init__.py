r"""Fast graph kernels on ``scipy.sparse`` adjacency matrices.

Global kernels (``centrality``: PageRank, betweenness, closeness, k-core, matching;
``components``; ``communities``: modularity, Louvain by colour classes) are vectorised
over whole frontiers or node classes; ``paths`` holds Dijkstra (compiled, scipy) and A*
(a heap over the CSR arrays); local kernels (``local``: ACL push,
$\ell_2$ flow diffusion, sweep cut) keep their state in dicts and touch only the nodes
they push from and their neighbours, so their cost follows the output volume, not the
graph size. ``sparse`` holds the CSR conversions they share. Every name is importable
from ``graph_algos.kernels`` directly.
"""

from graph_algos.kernels.centrality import (
    betweenness,
    closeness,
    core_numbers,
    maximum_matching_size,
    pagerank,
)
from graph_algos.kernels.communities import (
    Communities,
    leiden,
    louvain,
    louvain_igraph,
    modularity,
)
from graph_algos.kernels.components import (
    connected_components,
    largest_component_size,
    require_connected,
)
from graph_algos.kernels.local import LocalResult, SweepCut, acl_push, l2_flow_diffusion, sweep_cut
from graph_algos.kernels.paths import ShortestPaths, astar, dijkstra, euclidean_heuristic
from graph_algos.kernels.sparse import as_csr, check_node, degrees, unweighted

__all__ = [
    "Communities",
    "LocalResult",
    "ShortestPaths",
    "SweepCut",
    "acl_push",
    "as_csr",
    "astar",
    "betweenness",
    "check_node",
    "closeness",
    "connected_components",
    "core_numbers",
    "degrees",
    "dijkstra",
    "euclidean_heuristic",
    "l2_flow_diffusion",
    "largest_component_size",
    "leiden",
    "louvain",
    "louvain_igraph",
    "maximum_matching_size",
    "modularity",
    "pagerank",
    "require_connected",
    "sweep_cut",
    "unweighted",
]
