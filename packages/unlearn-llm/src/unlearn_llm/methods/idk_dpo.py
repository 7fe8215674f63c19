"""IdkPO: direct preference optimisation towards "I don't know" on forget questions.

Papers: Rafailov et al., "Direct Preference Optimization" (arXiv:2305.18290); the
"IDK" target of TOFU (arXiv:2401.06121) and IdkPO of Yuan et al., "A Closer Look at
Machine Unlearning for Large Language Models" (arXiv:2410.08109). With the refusal
:math:`y_{idk}` preferred over the true answer :math:`y` and the frozen reference
:math:`\\pi_{ref}`:

.. math::

    \\mathcal{L}_{IdkPO} = -\\frac{2}{\\beta}\\, \\mathbb{E}_{D_f} \\log \\sigma\\Big(
        \\beta \\log \\frac{\\pi_\\theta(y_{idk}\\mid x)}{\\pi_{ref}(y_{idk}\\mid x)}
        - \\beta \\log \\frac{\\pi_\\theta(y\\mid x)}{\\pi_{ref}(y\\mid x)} \\Big)
        + \\lambda\\, \\mathrm{NLL}_\\theta(D_r)

(the :math:`2/\\beta` scale follows NPO; it changes only the effective step size). This
implements DPO-with-IDK plus a retain NLL term; the extra prefix terms of the IdkPO
paper are not included.
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
    reference_logprob,
    typed,
)

if TYPE_CHECKING:
    import torch


class IdkPOParams(GradientMethodParams):
    """:math:`\\beta` and the retain weight :math:`\\lambda`."""

    beta: float = Field(default=0.1, gt=0.0, le=100.0)
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0)


def idk_po(
    model: torch.nn.Module,
    data: UnlearnData,
    params: IdkPOParams | dict[str, object] | None = None,
    on_step: StepCallback | None = None,
) -> UnlearnLog:
    """Teach ``model`` to prefer "I don't know." on ``data.forget`` questions (in place)."""
    import torch
    import torch.nn.functional as F

    from unlearn_llm.data import answer_nll, sequence_logprob
    from unlearn_llm.methods._common import cycle

    config = typed(IdkPOParams, params)
    if data.forget_idk is None or len(data.forget_idk) != len(data.forget):
        raise ValueError("IdkPO needs forget_idk rows aligned with the forget rows")
    generator = torch.Generator().manual_seed(config.seed)
    runner = StepRunner(model, data, config, generator)
    retain_stream = cycle(data.retain, config.batch_size, generator)
    # The reference is the model before unlearning: score every row once.
    chosen_reference = reference_logprob(model, data.forget_idk)
    rejected_reference = reference_logprob(model, data.forget)
    log = UnlearnLog(method="idk-po")
    start = time.perf_counter()
    model.train()
    for step in range(1, config.steps + 1):
        index = torch.randperm(len(data.forget), generator=generator)[: config.batch_size]
        rejected = data.forget.subset(index).trimmed()
        chosen = data.forget_idk.subset(index).trimmed()
        chosen_logp, _ = sequence_logprob(model, chosen)
        rejected_logp, _ = sequence_logprob(model, rejected)
        chosen_ref, rejected_ref = chosen_reference[index], rejected_reference[index]
        margin = config.beta * ((chosen_logp - chosen_ref) - (rejected_logp - rejected_ref))
        forget_loss = -(2.0 / config.beta) * F.logsigmoid(margin).mean()
        retain_loss = None
        if config.retain_weight > 0:
            retain_loss = config.retain_weight * answer_nll(model, next(retain_stream))
        runner.step(forget_loss, retain_loss)
        log.losses.append(float(forget_loss.detach()))
        log.forget_losses.append(float(-rejected_logp.detach().mean()))
        if retain_loss is not None:
            log.retain_losses.append(float(retain_loss.detach()))
        if on_step is not None and step % config.eval_every == 0:
            model.eval()
            on_step(step, model)
            model.train()
    model.eval()
    log.steps = config.steps
    log.wall_time_s = time.perf_counter() - start
    return log
