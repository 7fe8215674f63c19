"""Negative Preference Optimisation (NPO), with an optional retain NLL term.

Paper: Zhang, Lin, Bai, Mei, "Negative Preference Optimization: From Catastrophic
Collapse to Effective Unlearning" (arXiv:2404.05868). Loss, with $\\pi_{ref}$ the
frozen model before unlearning:

$$
\\mathcal{L}_{NPO} = -\\frac{2}{\\beta}\\, \\mathbb{E}_{(x,y)\\in D_f}
    \\log \\sigma\\!\\Big(-\\beta
    \\log \\frac{\\pi_\\theta(y\\mid x)}{\\pi_{ref}(y\\mid x)}\\Big)
    \\; + \\; \\lambda\\, \\mathrm{NLL}_\\theta(D_r)
$$

As $\\beta \\to 0$ it reduces to gradient ascent; the sigmoid bounds the loss, so
it slows down instead of diverging once the forget answers are unlikely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepLoss,
    forget_row_indices,
    reference_logprob,
    retain_minibatches,
    setup,
)
from unlearn_llm.ranks import local_part

if TYPE_CHECKING:
    from torch.nn import Module

    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class NPOParams(GradientMethodParams):
    """Inverse temperature $\\beta$ and retain weight $\\lambda$ (0: pure NPO)."""

    beta: float = Field(default=0.1, gt=0.0, le=100.0)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0)


def npo(
    model: Module, data: UnlearnData, params: NPOParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Unlearn ``data.forget`` with NPO (+ retain NLL) in place."""
    import torch.nn.functional as F

    from unlearn_llm.data import answer_nll, sequence_logprob

    config, generator, runner = setup(model, data, NPOParams, params)
    forget_rows = forget_row_indices(data, len(data.forget), config.batch_size, generator)
    retain_batches = retain_minibatches(data, config.batch_size, generator)
    # The reference is the model before unlearning: score every forget row once.
    reference_all = reference_logprob(model, data.forget)

    def loss() -> StepLoss:
        # this rank's rows of the step's forget minibatch (all of them in one process)
        index, rows = local_part(data.forget, next(forget_rows))
        logp, _ = sequence_logprob(model, rows)
        log_ratio = logp - reference_all[index]
        forget = -(2.0 / config.beta) * rows.row_mean(F.logsigmoid(-config.beta * log_ratio))
        retain = None
        if config.retain_weight > 0:
            retain = config.retain_weight * answer_nll(model, next(retain_batches))
        return StepLoss(forget=forget, retain=retain)

    return runner.train("npo", loss, on_step)
