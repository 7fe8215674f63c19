"""The plain baseline: a GCN trained with cross entropy on the noisy labels.

The same function trained on the clean labels is the reference every label-noise
learner is scored against (``graph-label-noise``'s clean-label model).
"""

from __future__ import annotations

from unlearn_graph.robust.common import Fitted, NoisyNodeTask, cross_entropy, fit_supervised
from unlearn_graph.robust.params import SupervisedParams


def gcn_cross_entropy(noisy: NoisyNodeTask, params: SupervisedParams, *, seed: int) -> Fitted:
    """A ``params.backbone`` classifier minimising the mean cross entropy of the observed
    training labels, kept at its best observed-validation epoch."""
    return fit_supervised(noisy, params, cross_entropy, seed)
