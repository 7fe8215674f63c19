"""Worlds: graphs to learn on and to delete from (synthetic, PyG built-in, or your own).

Every world yields :class:`GraphArrays` (numpy); :mod:`unlearn_graph.tasks` turns them
into node-classification or link-prediction tasks with seeded splits.
"""

from unlearn_graph.worlds.csbm import CSBMConfig, GraphArrays, contextual_sbm
from unlearn_graph.worlds.pyg import from_pyg, karate_club, load_planetoid_dir

__all__ = [
    "CSBMConfig",
    "GraphArrays",
    "contextual_sbm",
    "from_pyg",
    "karate_club",
    "load_planetoid_dir",
]
