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

import time
from typing import TYPE_CHECKING

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepCallback,
    StepRunner,
    UnlearnData,
    UnlearnLog,
    cycle,
    finish,
    report_step,
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
    forget_stream = cycle(data.forget, config.batch_size, generator)
    retain_stream = cycle(data.retain, config.batch_size, generator)
    log = UnlearnLog(method="simnpo")
    start = time.perf_counter()
    model.train()
    # Same loop as npo.py without the reference model; only the loss differs.
    for step in range(1, config.steps + 1):
        logp, lengths = sequence_logprob(model, next(forget_stream))
        normalised = logp / lengths.clamp(min=1.0)
        margin = -config.beta * normalised - config.gamma
        forget_loss = -(2.0 / config.beta) * F.logsigmoid(margin).mean()
        retain_loss = None
        if config.retain_weight > 0:
            retain_loss = config.retain_weight * answer_nll(model, next(retain_stream))
        runner.step(forget_loss, retain_loss)
        log.losses.append(float(forget_loss.detach()))
        log.forget_losses.append(float(-normalised.detach().mean()))
        if retain_loss is not None:
            log.retain_losses.append(float(retain_loss.detach()))
        report_step(on_step, step, config.eval_every, model)
    return finish(log, model, config.steps, start)
