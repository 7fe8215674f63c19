"""Hypergraphs with edge-dependent node labels: one label per (node, hyperedge) pair.

This room holds edge-dependent node classification (ENC): `unlearn_graph.hyper.conhd`
is CoNHD (arXiv:2405.14286), node-edge co-representations diffused by equivariant set
operators, with the incidence layout and the set operators it shares with the
baselines; `unlearn_graph.hyper.baselines` holds a WHATsNet-like model (one node and
one hyperedge embedding, pairs predicted from their concatenation), a plain HGNN and a
node-only MLP; `unlearn_graph.hyper.training` the training loop and the F1 scores. The
world is `unlearn_graph.worlds.hyper_roles`. Those modules import torch, so this one
holds only the torch-free names and the models' params.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field
from unlearn_schema import StrictModel

HyperModelName = Literal["conhd", "conhd-deepsets", "whatsnet", "hgnn", "node-mlp"]
HYPER_MODELS: tuple[HyperModelName, ...] = get_args(HyperModelName)
SetOperatorName = Literal["sab", "deepsets"]
SET_OPERATORS: tuple[SetOperatorName, ...] = get_args(SetOperatorName)


class HyperModelParams(StrictModel):
    """Width and training knobs shared by every model of `build_hyper_model` (the depth
    is given on its own, so that a benchmark can sweep it)."""

    hidden: int = Field(default=32, ge=4, le=1024)
    heads: int = Field(default=4, ge=1, le=16, description="Attention heads of the SABs.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    epochs: int = Field(default=200, ge=1, le=10_000)
    lr: float = Field(default=0.01, gt=0.0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)


__all__ = [
    "HYPER_MODELS",
    "SET_OPERATORS",
    "HyperModelName",
    "HyperModelParams",
    "SetOperatorName",
]
