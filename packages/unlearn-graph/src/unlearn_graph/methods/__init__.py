"""Unlearning and editing methods of unlearn-graph, one module each, registered by name.

Every entry function has the shape ``method(original, problem, params, *, seed)``:
the trained model, what to delete (a `DeletionProblem` from
`unlearn_graph.deletion.apply_requests`; for EGNN a `NodeEdit`), the method's typed
params, and keyword-only extras. It returns a model that scores elements on the
retained graph (EGNN: an `EditResult`). Look a method up by name with
``METHODS["gnndelete"].function``; an unknown name raises ``UnknownNameError``.

Where the params live: every method's params class is in the torch-free
`unlearn_graph.methods.params` (one rule for the whole package), because the method
modules import torch and define their ``nn.Module`` classes at module level. This
module holds only strings, so listing methods and validating a spec import no torch.
"""

from __future__ import annotations

from unlearn_schema import MethodSpec, Registry

_PARAMS = "unlearn_graph.methods.params"

METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="retrain",
            params=f"{_PARAMS}:RetrainParams",
            entry="unlearn_graph.methods.retrain:retrain",
            summary="Exact oracle: a fresh model trained on the retained graph and elements.",
            paper=None,
        ),
        MethodSpec(
            name="gradient-ascent",
            params=f"{_PARAMS}:GradientAscentParams",
            entry="unlearn_graph.methods.gradient_ascent:gradient_ascent",
            summary="A few Adam steps raising the training loss of the deleted elements.",
            paper=None,
        ),
        MethodSpec(
            name="gnndelete",
            params=f"{_PARAMS}:GNNDeleteParams",
            entry="unlearn_graph.methods.gnndelete:gnndelete",
            summary="Frozen GNN plus per-layer deletion operators on the deletion's k-hop nodes.",
            paper="arXiv:2302.13406",
        ),
        MethodSpec(
            name="d2dgn",
            params=f"{_PARAMS}:D2DGNParams",
            entry="unlearn_graph.methods.d2dgn:d2dgn",
            summary="Student distilled from a preserver (retained) and a destroyer (deleted).",
            paper="arXiv:2309.16173",
        ),
        MethodSpec(
            name="grapheraser",
            params=f"{_PARAMS}:GraphEraserParams",
            entry="unlearn_graph.methods.grapheraser:grapheraser",
            summary="Sharded models with learned aggregation; exact deletion retrains shards.",
            paper="arXiv:2103.14991",
        ),
        MethodSpec(
            name="gif",
            params=f"{_PARAMS}:GIFParams",
            entry="unlearn_graph.methods.gif:gif",
            summary="One graph influence-function (Newton-type) step on the parameters.",
            paper="arXiv:2304.02835",
        ),
        MethodSpec(
            name="egnn",
            params=f"{_PARAMS}:EGNNParams",
            entry="unlearn_graph.methods.egnn:egnn_edit",
            summary="Edit node predictions through an MLP stitched to the frozen GNN.",
            paper="arXiv:2305.15529",
        ),
    ],
)

__all__ = ["METHODS"]
