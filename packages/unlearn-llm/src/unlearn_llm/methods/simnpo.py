"""SimNPO: NPO without a reference model, with length normalisation and a margin.

Paper: Fan et al., "Simplicity Prevails: Rethinking Negative Preference Optimization
for LLM Unlearning" (arXiv:2410.07163). Loss:

$$
\\mathcal{L}_{SimNPO} = -\\frac{2}{\\beta}\\, \\mathbb{E}_{(x,y)\\in D_f}
    \\log \\sigma\\!\\Big(-\\frac{\\beta}{|y|} \\log \\pi_\\theta(y\\mid x) - \\gamma\\Big)
    \\; + \\; \\lambda\\, \\mathrm{NLL}_\\theta(D_r)
$$

"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepCallback,
    StepLoss,
    StepRunner,
    UnlearnData,
    UnlearnLog,
    cycle,
    typed,
)

if TYPE_CHECKING:
    import torch


class SimNPOParams(GradientMethodParams):
    """$\\beta$ (inverse temperature), $\\gamma$ (margin), $\\lambda$."""

    beta: float = Field(default=2.5, gt=0.0, le=100.0)
    gamma: float = Field(default=0.0, ge=0.0, le=100.0)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0)


def simnpo(
    model: torch.nn.Module,
    data: UnlearnData,
    params: SimNPOParams | None = None,
    *,
    on_step: StepCallback | None = None,
) -> UnlearnLog:
    """Unlearn ``data.forget`` with SimNPO (+ retain NLL) in place."""
    import torch
    import torch.nn.functional as F

    from unlearn_llm.data import answer_nll, sequence_logprob

    config = typed(SimNPOParams, params)
    generator = torch.Generator().manual_seed(config.seed)
    runner = StepRunner(model, data, config, generator)
    forget_batches = cycle(data.forget, config.batch_size, generator)
    retain_batches = cycle(data.retain, config.batch_size, generator)

    def loss() -> StepLoss:
        logp, lengths = sequence_logprob(model, next(forget_batches))
        normalised = logp / lengths.clamp(min=1.0)
        margin = -config.beta * normalised - config.gamma
        forget = -(2.0 / config.beta) * F.logsigmoid(margin).mean()
        retain = None
        if config.retain_weight > 0:
            retain = config.retain_weight * answer_nll(model, next(retain_batches))
        return StepLoss(forget=forget, retain=retain)

    return runner.train("simnpo", loss, on_step)
