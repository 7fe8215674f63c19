"""Graphs that come from torch-geometric: KarateClub, a user's ``Data``, a Planetoid folder.

Nothing is downloaded: KarateClub ships inside PyG, and a Planetoid-format folder (the
``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}`` files of Yang et al. 2016) is
read from local disk only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from unlearn_graph.worlds.csbm import GraphArrays

if TYPE_CHECKING:
    from torch_geometric.data import Data

PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


class PlanetoidConfig(StrictModel):
    """A Planetoid-format dataset already on local disk (`load_planetoid_dir`)."""

    folder: str = Field(min_length=1, description="Folder holding the ind.<name>.* files.")
    name: str = Field(min_length=1, description="Dataset name, e.g. 'cora' or 'citeseer'.")


def from_pyg(data: Data) -> GraphArrays:
    """Convert a user's PyG ``Data`` (x, y, edge_index) into the toolkit's graph arrays.

    Edges are made undirected and unique; self-loops are dropped. Raises ``ValueError``
    naming what is missing or malformed.
    """
    x: Any = getattr(data, "x", None)
    y: Any = getattr(data, "y", None)
    edge_index: Any = getattr(data, "edge_index", None)
    missing = [name for name, v in (("x", x), ("y", y), ("edge_index", edge_index)) if v is None]
    if missing:
        raise ValueError(f"the Data object lacks {', '.join(missing)}; need x, y and edge_index")
    x_arr = np.asarray(x.detach().cpu().numpy(), dtype=np.float32)
    y_arr = np.asarray(y.detach().cpu().numpy()).reshape(-1)
    if y_arr.ndim != 1 or y_arr.shape[0] != x_arr.shape[0]:
        raise ValueError(
            f"y must hold one class per node: x has {x_arr.shape[0]} rows, y {y.shape}"
        )
    if x_arr.ndim != 2:
        raise ValueError(f"x must be a 2-d feature matrix, got shape {tuple(x_arr.shape)}")
    ei = np.asarray(edge_index.detach().cpu().numpy(), dtype=np.int64)
    n = x_arr.shape[0]
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {tuple(ei.shape)}")
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        raise ValueError(f"edge_index holds node ids outside 0..{n - 1} (the graph has {n} nodes)")
    return GraphArrays(x=x_arr, y=y_arr.astype(np.int64), edges=_undirected_unique(ei, n))


def _undirected_unique(edge_index: np.ndarray, num_nodes: int) -> np.ndarray:
    lo = np.minimum(edge_index[0], edge_index[1])
    hi = np.maximum(edge_index[0], edge_index[1])
    keep = lo != hi
    keys = np.unique(lo[keep] * num_nodes + hi[keep])
    return np.stack([keys // num_nodes, keys % num_nodes]).astype(np.int64)


def karate_club() -> GraphArrays:
    """Zachary's karate club (34 nodes, 4 communities) as shipped inside PyG."""
    from torch_geometric.datasets import KarateClub

    return from_pyg(KarateClub()[0])


def load_planetoid_dir(folder: str | Path, name: str) -> GraphArrays:
    """Read a Planetoid-format dataset (Cora, CiteSeer, PubMed layout) from a local folder.

    ``folder`` must contain ``ind.<name>.x``, ``.tx``, ``.allx``, ``.y``, ``.ty``,
    ``.ally``, ``.graph`` and ``.test.index``; nothing is fetched from the network.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Planetoid folder {str(folder)!r} does not exist")
    absent = [f"ind.{name.lower()}.{part}" for part in PLANETOID_FILES]
    absent = [f for f in absent if not (folder / f).exists()]
    if absent:
        raise FileNotFoundError(
            f"Planetoid folder {str(folder)!r} lacks {', '.join(absent)} "
            f"(expected the ind.<name>.* files of dataset {name!r})"
        )
    from torch_geometric.io import read_planetoid_data

    return from_pyg(read_planetoid_data(str(folder), name.lower()))
