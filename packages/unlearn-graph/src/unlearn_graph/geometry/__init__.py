"""Geometry-aware encoders for text-attributed graphs: GraphShaper and its baselines.

Every learner has the shape ``learner(problem, params, *, seed) -> GeometryFit``: a
`TextGraphTask` (`unlearn_graph.geometry.graphshaper`: the node split, the embedded
class descriptions, local structure and boundary marks), its typed params (in the
torch-free `unlearn_graph.geometry.params`), and it returns the predicted class of every
node with the fusion weights. ``LEARNERS`` holds them by name; an unknown name raises
``UnknownNameError``. The world is `unlearn_graph.worlds.mixed_geometry`, the text
encoder `unlearn_graph.geometry.text`, the curved spaces `unlearn_graph.geometry.manifolds`.
This module holds only strings: listing and validating import no torch.
"""

from __future__ import annotations

from unlearn_schema import MethodSpec, Registry

_PARAMS = "unlearn_graph.geometry.params"
_BASE = "unlearn_graph.geometry.baselines"

LEARNERS = Registry(
    "method",
    [
        MethodSpec(
            name="graphshaper",
            params=f"{_PARAMS}:GraphShaperParams",
            entry="unlearn_graph.geometry.graphshaper:graphshaper",
            summary="Euclidean, hyperbolic, spherical experts fused by local structure.",
            paper="arXiv:2510.12085",
        ),
        MethodSpec(
            name="graphshaper-uniform",
            params=f"{_PARAMS}:UniformMixtureParams",
            entry="unlearn_graph.geometry.graphshaper:graphshaper_uniform",
            summary="The same three experts averaged with equal weights (fusion ablation).",
            paper=None,
        ),
        MethodSpec(
            name="euclidean-gcn",
            params=f"{_PARAMS}:SingleGeometryParams",
            entry=f"{_BASE}:euclidean_gcn",
            summary="A GCN in flat space, aligned with the text the same way.",
            paper="arXiv:1609.02907",
        ),
        MethodSpec(
            name="hyperbolic-gcn",
            params=f"{_PARAMS}:SingleGeometryParams",
            entry=f"{_BASE}:hyperbolic_gcn",
            summary="A tangent-space GCN on the Poincaré ball (hyperbolic only).",
            paper="arXiv:1910.12933",
        ),
        MethodSpec(
            name="spherical-gcn",
            params=f"{_PARAMS}:SingleGeometryParams",
            entry=f"{_BASE}:spherical_gcn",
            summary="A tangent-space GCN on the stereographic sphere (spherical only).",
            paper="arXiv:1911.05076",
        ),
        MethodSpec(
            name="text-mlp",
            params=f"{_PARAMS}:SingleGeometryParams",
            entry=f"{_BASE}:text_mlp",
            summary="An MLP on the node texts alone (no edges), aligned the same way.",
            paper=None,
        ),
        MethodSpec(
            name="text-similarity",
            params="unlearn_schema:NoParams",
            entry="unlearn_graph.geometry.graphshaper:text_similarity",
            summary="No training: the class description nearest to the node's text.",
            paper=None,
        ),
    ],
)

__all__ = ["LEARNERS"]
