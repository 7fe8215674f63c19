"""Readouts: from a backbone's node activations to one vector per graph.

`unlearn_graph.readout.histograph` holds HISTOGRAPH (arXiv:2601.01123), the two-stage
attention over every layer's activations; `unlearn_graph.readout.classifier` a graph
classifier that uses it or a last-layer pooling baseline (mean, sum, attention);
`unlearn_graph.readout.training` its training loop. Those import torch, so this module
holds only the torch-free names.
"""

from __future__ import annotations

from typing import Literal, get_args

ReadoutName = Literal["histograph", "mean", "sum", "attention"]
READOUTS: tuple[ReadoutName, ...] = get_args(ReadoutName)
GraphBackbone = Literal["gcn", "gin"]

__all__ = ["READOUTS", "GraphBackbone", "ReadoutName"]
