from __future__ import annotations

import sys

import pytest
import torch
from torch_geometric.data import Data
from unlearn_graph.interop import DGLUnavailableError, from_dgl, to_dgl


def test_without_dgl_the_error_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dgl", None)  # makes `import dgl` fail here
    data = Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0], [1]]))
    with pytest.raises(DGLUnavailableError, match=r"'import dgl' failed here.*install a DGL"):
        to_dgl(data)
    with pytest.raises(DGLUnavailableError):
        from_dgl(object())


@pytest.mark.requires("dgl")
def test_dgl_round_trip_keeps_edges_features_and_labels() -> None:
    data = Data(
        x=torch.randn(3, 2), y=torch.tensor([0, 1, 0]), edge_index=torch.tensor([[0, 1], [1, 2]])
    )
    back = from_dgl(to_dgl(data))
    assert torch.equal(back.edge_index, data.edge_index)
    assert torch.equal(back.x, data.x) and torch.equal(back.y, data.y)
