"""Neighbourhood-Expanded Distribution Shaping (NEDS), as we read it from the GONE abstract.

Paper: Dahal, Balasubramaniam, Xiong, "GONE: Structural Knowledge Unlearning via
Neighborhood-Expanded Distribution Shaping" (arXiv:2603.12275). NEDS uses the graph
connectivity of the facts to find **anchor neighbours** of each forgotten fact and draws
a decision boundary between the fact and that neighbourhood: the forgotten fact's
answer distribution is pushed away, the neighbours' distributions are held where they
were. Only the abstract was available to us, so the loss below is our reading of it
(the paper's own equation may weight or shape the terms differently); the anchor
neighbours are the retain facts sharing an entity with a forget fact
(``worlds.hops.anchor_neighbours``, given to the method as ``UnlearnData.neighbours``).

With $u$ the uniform law over the vocabulary $V$, $p_\\theta(\\cdot\\mid x_{<t})$ the
model's next-token law, $p_0$ the frozen model before unlearning, $T_f$ and $T_n$ the
answer positions of forget rows and of anchor-neighbour rows:

$$
\\mathcal{L}_{NEDS} = \\alpha\\, \\frac{1}{|T_f|} \\sum_{t \\in T_f}
    \\mathrm{KL}\\big(u \\,\\|\\, p_\\theta(\\cdot\\mid x_{<t})\\big)
  + \\beta\\, \\frac{1}{|T_n|} \\sum_{t \\in T_n}
    \\mathrm{KL}\\big(p_0(\\cdot\\mid x_{<t}) \\,\\|\\, p_\\theta(\\cdot\\mid x_{<t})\\big)
  + \\lambda\\, \\mathrm{NLL}_\\theta(D_r)
$$

where $\\mathrm{KL}(u \\| p) = -\\log |V| - \\frac{1}{|V|} \\sum_v \\log p_v$. The forget
term is bounded below by 0 (reached when the model answers the forgotten fact with a
uniform guess), so unlike gradient ascent it does not diverge; the neighbour term is the
decision boundary, the retain NLL the usual utility term. Without anchor neighbours
(``data.neighbours`` is ``None``: no retain fact shares an entity with the forget set)
the neighbour term is taken on retain rows instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepLoss,
    cycle,
    forget_minibatches,
    frozen_copy,
    retain_minibatches,
    setup,
)

if TYPE_CHECKING:
    import torch
    from torch.nn import Module

    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class NEDSParams(GradientMethodParams):
    """Weights of the three terms: forget shaping $\\alpha$, neighbour KL $\\beta$, retain
    NLL $\\lambda$."""

    forget_weight: float = Field(default=1.0, gt=0.0, le=1000.0)
    neighbour_weight: float = Field(default=1.0, ge=0.0, le=1000.0)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0)


def uniform_kl(logp: torch.Tensor, mask: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean over the ``mask`` positions of $\\mathrm{KL}(u \\| p)$, ``logp`` the
    log-softmax ``[rows, positions, vocab]``."""
    import math

    per_position = -math.log(logp.shape[-1]) - logp.mean(dim=-1)
    weights = mask.float()
    return (per_position * weights).sum() / batch.answer_count(weights)


def reference_kl(
    logp: torch.Tensor, reference_logp: torch.Tensor, mask: torch.Tensor, batch: Batch
) -> torch.Tensor:
    """Mean over the ``mask`` positions of $\\mathrm{KL}(p_0 \\| p_\\theta)$ (log-softmaxes)."""
    per_position = (reference_logp.exp() * (reference_logp - logp)).sum(dim=-1)
    weights = mask.float()
    return (per_position * weights).sum() / batch.answer_count(weights)


def neds(
    model: Module, data: UnlearnData, params: NEDSParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Unlearn ``data.forget`` with NEDS (uniform shaping, anchor-neighbour KL, retain NLL)."""
    import torch

    from unlearn_llm.data import answer_nll, next_token_logprobs

    config, generator, runner = setup(model, data, NEDSParams, params)
    forget_batches = forget_minibatches(data, config.batch_size, generator)
    anchors = data.neighbours if data.neighbours is not None else data.retain
    neighbour_batches = cycle(anchors, config.batch_size, generator)
    retain_batches = retain_minibatches(data, config.batch_size, generator)
    reference = frozen_copy(model)

    def loss() -> StepLoss:
        rows = next(forget_batches).trimmed()
        logp, _, mask = next_token_logprobs(model, rows)
        forget = config.forget_weight * uniform_kl(logp, mask, rows)
        retain = None
        if config.neighbour_weight > 0:
            near = next(neighbour_batches).trimmed()
            logp, _, mask = next_token_logprobs(model, near)
            with torch.no_grad():
                reference_logp, _, _ = next_token_logprobs(reference, near)
            retain = config.neighbour_weight * reference_kl(logp, reference_logp, mask, near)
        if config.retain_weight > 0:
            term = config.retain_weight * answer_nll(model, next(retain_batches))
            retain = term if retain is None else retain + term
        return StepLoss(forget=forget, retain=retain)

    return runner.train("neds", loss, on_step)
