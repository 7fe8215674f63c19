r"""Generalised cross entropy (Zhang & Sabuncu, NeurIPS 2018, arXiv:1805.07836).

$$\mathcal{L}_q(f(x), y) = \frac{1 - f_y(x)^q}{q}, \qquad q \in (0, 1],$$

with $f_y(x)$ the softmax probability of the observed label. As $q \to 0$ it tends to the
cross entropy $-\log f_y(x)$; at $q = 1$ it is the mean absolute error $1 - f_y(x)$
(up to a factor 2), which is robust to symmetric noise but slow to fit. The paper's
truncated variant $\mathcal{L}_{trunc}$ (pruning samples with $f_y \le k$) is not
implemented. Here it trains the same GCN as `unlearn_graph.robust.cross_entropy`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from unlearn_graph.robust.common import Fitted, NoisyNodeTask, fit_supervised
from unlearn_graph.robust.params import GCEParams


def generalised_cross_entropy(logits: Tensor, labels: Tensor, q: float) -> Tensor:
    r"""Mean over the rows of $(1 - p_y^q)/q$, $p = \mathrm{softmax}(\text{logits})$."""
    if not 0.0 < q <= 1.0:
        raise ValueError(f"GCE needs 0 < q <= 1, got q={q}")
    p_label = torch.softmax(logits, dim=-1).gather(1, labels.view(-1, 1)).squeeze(1)
    return ((1.0 - p_label.clamp_min(1e-12) ** q) / q).mean()


def gcn_gce(noisy: NoisyNodeTask, params: GCEParams, *, seed: int) -> Fitted:
    """A ``params.backbone`` classifier minimising the GCE of the observed training
    labels, kept at its best observed-validation epoch."""
    return fit_supervised(
        noisy,
        params,
        lambda logits, labels: generalised_cross_entropy(logits, labels, params.q),
        seed,
    )
