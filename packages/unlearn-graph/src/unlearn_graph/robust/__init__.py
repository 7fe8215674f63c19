"""Learning node classifiers from noisy labels: ERASE and the baselines it is compared with.

Every learner has the shape ``learner(noisy, params, *, seed) -> Fitted``: a
`NoisyNodeTask` (the task with the labels a learner may read), its typed params (in
the torch-free `unlearn_graph.robust.params`), and it returns the predicted class of
every node. ``LEARNERS`` holds them by name (``LEARNERS["erase"].function``); an
unknown name raises ``UnknownNameError``. The noise itself is `unlearn_graph.robust.noise`.
This module holds only strings: listing and validating import no torch.
"""

from __future__ import annotations

from unlearn_schema import MethodSpec, Registry

_PARAMS = "unlearn_graph.robust.params"

LEARNERS = Registry(
    "method",
    [
        MethodSpec(
            name="erase",
            params=f"{_PARAMS}:ERASEParams",
            entry="unlearn_graph.robust.erase:erase",
            summary="Denoised and prototype pseudo-labels, MCR² representations, linear probe.",
            paper="arXiv:2312.08852",
        ),
        MethodSpec(
            name="gcn-ce",
            params=f"{_PARAMS}:SupervisedParams",
            entry="unlearn_graph.robust.cross_entropy:gcn_cross_entropy",
            summary="GCN trained with cross entropy on the noisy labels.",
            paper=None,
        ),
        MethodSpec(
            name="gcn-gce",
            params=f"{_PARAMS}:GCEParams",
            entry="unlearn_graph.robust.gce:gcn_gce",
            summary="GCN trained with the generalised cross entropy (1 - p_y^q) / q.",
            paper="arXiv:1805.07836",
        ),
        MethodSpec(
            name="label-propagation",
            params=f"{_PARAMS}:LabelPropagationParams",
            entry="unlearn_graph.robust.label_propagation:label_propagation",
            summary="Label spreading of the noisy training labels over the graph (no training).",
            paper=None,
        ),
    ],
)

__all__ = ["LEARNERS"]
