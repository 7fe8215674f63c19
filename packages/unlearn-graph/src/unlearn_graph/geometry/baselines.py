"""The single-geometry encoders GraphShaper is compared with.

Each is `unlearn_graph.geometry.graphshaper.fit_aligned` with one expert (its fusion
weight is 1): same text alignment, same class scores, same training; only the geometry
of the encoder differs. ``text-mlp`` reads no edges, the reference for what the graph adds.
"""

from __future__ import annotations

from unlearn_graph.geometry.graphshaper import GeometryFit, TextGraphTask, fit_aligned
from unlearn_graph.geometry.params import SingleGeometryParams


def euclidean_gcn(
    problem: TextGraphTask, params: SingleGeometryParams, *, seed: int
) -> GeometryFit:
    """A GCN (flat space) aligned with the text."""
    return fit_aligned(problem, params, ["euclidean"], "uniform", seed)


def hyperbolic_gcn(
    problem: TextGraphTask, params: SingleGeometryParams, *, seed: int
) -> GeometryFit:
    """A tangent-space GCN on the Poincaré ball (curvature -params.curvature)."""
    return fit_aligned(problem, params, ["hyperbolic"], "uniform", seed)


def spherical_gcn(
    problem: TextGraphTask, params: SingleGeometryParams, *, seed: int
) -> GeometryFit:
    """A tangent-space GCN on the stereographic sphere (curvature +params.curvature)."""
    return fit_aligned(problem, params, ["spherical"], "uniform", seed)


def text_mlp(problem: TextGraphTask, params: SingleGeometryParams, *, seed: int) -> GeometryFit:
    """An MLP on the node texts alone, aligned the same way (no edges)."""
    return fit_aligned(problem, params, ["text"], "uniform", seed)
