"""Worlds: graphs to learn on and to delete from (synthetic, PyG built-in, or your own).

Every world yields `GraphArrays` (numpy); `unlearn_graph.tasks` turns them into
node-classification or link-prediction tasks with seeded splits. ``WORLD_PARAMS`` maps
the world names a benchmark spec can give to the type of their ``world.params``, and
`load_world` builds one; a PyG ``Data`` of your own goes through `from_pyg` in Python.
"""

from __future__ import annotations

from pydantic import BaseModel
from unlearn_schema import NoParams

from unlearn_graph.worlds.csbm import CSBMConfig, GraphArrays, contextual_sbm
from unlearn_graph.worlds.pyg import PlanetoidConfig, from_pyg, karate_club, load_planetoid_dir

WORLD_PARAMS: dict[str, type[BaseModel]] = {
    "csbm": CSBMConfig,
    "karate": NoParams,
    "planetoid": PlanetoidConfig,
}
"""Spec world name -> type of its ``world.params`` (the Karate club takes none)."""


def load_world(name: str, params: BaseModel, seed: int) -> GraphArrays:
    """The graph of world ``name`` (a key of ``WORLD_PARAMS``) with typed ``params``.

    ``seed`` draws the contextual SBM; the Karate club and Planetoid graphs are fixed.
    """
    if name == "csbm" and isinstance(params, CSBMConfig):
        return contextual_sbm(params, seed)
    if name == "karate" and isinstance(params, NoParams):
        return karate_club()
    if name == "planetoid" and isinstance(params, PlanetoidConfig):
        return load_planetoid_dir(params.folder, params.name)
    raise ValueError(
        f"world {name!r} with params {type(params).__name__} is not a world of unlearn-graph; "
        f"accepted: {', '.join(f'{key} ({cls.__name__})' for key, cls in WORLD_PARAMS.items())}"
    )


__all__ = [
    "WORLD_PARAMS",
    "CSBMConfig",
    "GraphArrays",
    "PlanetoidConfig",
    "contextual_sbm",
    "from_pyg",
    "karate_club",
    "load_planetoid_dir",
    "load_world",
]
