"""SimNPO: NPO without a reference model, with length normalisation and a margin.

Paper: Fan et al., "Simplicity Prevails: Rethinking Negative Preference Optimization
for LLM Unlearning" (arXiv:2410.07163). Loss:

$$
\\mathcal{L}_{SimNPO} = -\\frac{2}{\\beta}\\, \\mathbb{E}_{(x,y)\\in D_f}
    \\log \\sigma\\!\\Big(\\beta\\Big(-\\frac{1}{|y|} \\log \\pi_\\theta(y\\mid x)
    - \\gamma\\Big)\\Big)
    \\; + \\; \\lambda\\, \\mathrm{NLL}_\\theta(D_r)
$$

The margin is parameterised as in the paper's released code (``simnpo`` loss of
OPTML-Group/Unlearn-Simple: the length-normalised NLL minus $\\gamma$, then scaled by
$\\beta$). The paper's equation writes the margin outside the scale,
$\\sigma(-\\frac{\\beta}{|y|}\\log\\pi_\\theta(y\\mid x) - \\gamma')$, so
$\\gamma' = \\beta\\gamma$; the published $\\gamma$ values were tuned with the code and
apply here unchanged. The $2/\\beta$ factor is in both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepLoss,
    forget_minibatches,
    retain_minibatches,
    setup,
)

if TYPE_CHECKING:
    import torch
    from torch.nn import Module

    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class SimNPOParams(GradientMethodParams):
    """$\\beta$ (inverse temperature), $\\gamma$ (margin), $\\lambda$."""

    beta: float = Field(default=2.5, gt=0.0, le=100.0)
    gamma: float = Field(default=0.0, ge=0.0, le=100.0)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0)


def simnpo_forget_loss(
    log_prob: torch.Tensor,
    lengths: torch.Tensor,
    beta: float,
    gamma: float,
    batch: Batch | None = None,
) -> torch.Tensor:
    """The forget term: $-\\frac{2}{\\beta}$ mean of
    $\\log\\sigma(\\beta(-\\log\\pi_\\theta(y\\mid x)/|y| - \\gamma))$ over rows.

    ``log_prob`` is each row's summed answer log-probability, ``lengths`` its answer
    token count; ``batch``, the rows they score, gives the mean's rows under
    torch.distributed (``Batch.row_mean``).
    """
    import torch.nn.functional as F

    normalised = log_prob / lengths.clamp(min=1.0)
    # beta * (NLL / |y| - gamma): gamma is subtracted before the scale, as in the code
    margin = beta * (-normalised - gamma)
    per_row = F.logsigmoid(margin)
    return -(2.0 / beta) * (per_row.mean() if batch is None else batch.row_mean(per_row))


def simnpo(
    model: Module, data: UnlearnData, params: SimNPOParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Unlearn ``data.forget`` with SimNPO (+ retain NLL) in place."""
    from unlearn_llm.data import answer_nll, sequence_logprob

    config, generator, runner = setup(model, data, SimNPOParams, params)
    forget_batches = forget_minibatches(data, config.batch_size, generator)
    retain_batches = retain_minibatches(data, config.batch_size, generator)

    def loss() -> StepLoss:
        rows = next(forget_batches)
        logp, lengths = sequence_logprob(model, rows)
        forget = simnpo_forget_loss(logp, lengths, config.beta, config.gamma, rows)
        retain = None
        if config.retain_weight > 0:
            retain = config.retain_weight * answer_nll(model, next(retain_batches))
        return StepLoss(forget=forget, retain=retain)

    return runner.train("simnpo", loss, on_step)
