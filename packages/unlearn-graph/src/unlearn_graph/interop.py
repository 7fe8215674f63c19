"""Conversion to and from DGL graphs, available only where ``import dgl`` succeeds.

DGL is never a dependency of unlearn-graph: recent DGL wheels do not import with the
torch versions this toolkit locks. Install a DGL build that matches your torch to use
`to_dgl` / `from_dgl`; elsewhere they raise `DGLUnavailableError`
saying why.
"""

from __future__ import annotations

from typing import Any


class DGLUnavailableError(ImportError):
    """``import dgl`` failed; the message carries the original reason."""


def _import_dgl() -> Any:
    try:
        import dgl
    except Exception as error:  # a broken install (wrong torch ABI) raises non-ImportErrors
        raise DGLUnavailableError(
            f"DGL interop needs the 'dgl' package, but 'import dgl' failed here: {error!r}. "
            "unlearn-graph does not depend on DGL (no current wheel imports with the locked "
            "torch); install a DGL build matching your torch version to use to_dgl/from_dgl."
        ) from error
    return dgl


def to_dgl(data: Any) -> Any:
    """A PyG ``Data`` (``x``, ``y``, ``edge_index``) as a ``dgl.DGLGraph`` with node data
    ``feat`` and ``label``."""
    dgl = _import_dgl()
    graph = dgl.graph((data.edge_index[0], data.edge_index[1]), num_nodes=data.num_nodes)
    if getattr(data, "x", None) is not None:
        graph.ndata["feat"] = data.x
    if getattr(data, "y", None) is not None:
        graph.ndata["label"] = data.y
    return graph


def from_dgl(graph: Any) -> Any:
    """A ``dgl.DGLGraph`` as a PyG ``Data`` (``feat`` -> ``x``, ``label`` -> ``y``)."""
    _import_dgl()
    import torch
    from torch_geometric.data import Data

    source, target = graph.edges()
    data = Data(edge_index=torch.stack([source, target]).long(), num_nodes=graph.num_nodes())
    if "feat" in graph.ndata:
        data.x = graph.ndata["feat"]
    if "label" in graph.ndata:
        data.y = graph.ndata["label"]
    return data
