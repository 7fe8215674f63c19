"""IdkPO: direct preference optimisation of a refusal over the true answer, plus a retain term.

Papers: Rafailov et al., "Direct Preference Optimization" (arXiv:2305.18290), applied
to unlearning with "I don't know" targets in TOFU (Maini et al., arXiv:2401.06121) and
studied as IdkDPO / IdkPO by Yuan et al., "A Closer Look at Machine Unlearning for
Large Language Models" (arXiv:2410.08109). On each forget question $x$ the
preferred ("winning") response is a refusal $y_{idk}$ drawn from a set of
phrasings, the rejected one is the true answer $y$, and $\\pi_{ref}$ is the
frozen model from before unlearning. With
$h_\\theta(x, y) = \\log \\pi_\\theta(y\\mid x) - \\log \\pi_{ref}(y\\mid x)$
(sums over answer tokens):

$$
\\mathcal{L}_{IdkPO} = \\gamma \\cdot \\Big(-\\frac{2}{\\beta}\\Big)\\,
    \\mathbb{E}_{x\\in D_f} \\log \\sigma\\big(\\beta\\, h_\\theta(x, y_{idk})
    - \\beta\\, h_\\theta(x, y)\\big)
    \\; + \\; \\alpha\\, R(D_r),\\qquad
R = \\mathrm{NLL}_\\theta(D_r) \\ \\text{or}\\
    \\mathrm{KL}\\big(\\pi_{ref}(\\cdot\\mid x) \\,\\|\\, \\pi_\\theta(\\cdot\\mid x)\\big)
$$

The $2/\\beta$ factor makes the forget term tend to the gradient of
$\\gamma \\cdot 2\\,(h(x, y) - h(x, y_{idk}))$ as $\\beta \\to 0$ (as in the
NPO and open-unlearning formulations); $\\gamma$ and $\\alpha$ weigh the
forget and retain terms, and the retain term is the NLL or the token-level KL to the
reference model on retain rows (the gradient-difference regularisers). The preference
is defined on questions only: passage rows of the forget set are not used by IdkPO.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepCallback,
    StepRunner,
    UnlearnData,
    UnlearnLog,
    cycle,
    cycle_indices,
    finish,
    reference_logprob,
    report_step,
    typed,
)

if TYPE_CHECKING:
    import torch


class IdkPOParams(GradientMethodParams):
    """$\\beta$, the forget weight $\\gamma$, the retain weight $\\alpha$
    and the retain term's kind."""

    beta: float = Field(default=0.1, gt=0.0, le=100.0, description="DPO inverse temperature.")
    forget_weight: float = Field(
        default=1.0, gt=0.0, le=1000.0, description="gamma: weight of the preference term."
    )
    retain_weight: float = Field(
        default=1.0, ge=0.0, le=1000.0, description="alpha: weight of the retain term (0: none)."
    )
    retain_loss: Literal["nll", "kl"] = Field(
        default="nll", description="Retain regulariser: NLL, or KL to the frozen reference."
    )


def idk_po(
    model: torch.nn.Module,
    data: UnlearnData,
    params: IdkPOParams | None = None,
    *,
    on_step: StepCallback | None = None,
) -> UnlearnLog:
    """Teach ``model`` to prefer a refusal over the answer on ``data.forget`` questions."""
    import torch
    import torch.nn.functional as F

    from unlearn_llm.data import answer_nll, sequence_logprob
    from unlearn_llm.methods.gradient_difference import retain_kl

    config = typed(IdkPOParams, params)
    if data.forget_idk is None or len(data.forget_idk) > len(data.forget):
        raise ValueError(
            "IdkPO needs forget_idk rows aligned with the first rows (the questions) of "
            "forget; build the data with make_unlearn_data"
        )
    questions = len(data.forget_idk)
    question_rows = data.forget.subset(slice(0, questions))
    generator = torch.Generator().manual_seed(config.seed)
    runner = StepRunner(model, data, config, generator)
    forget_stream = cycle_indices(questions, config.batch_size, generator)
    retain_stream = cycle(data.retain, config.batch_size, generator)
    reference = None
    if config.retain_loss == "kl" and config.retain_weight > 0:
        reference = copy.deepcopy(model).eval()
        for parameter in reference.parameters():
            parameter.requires_grad_(False)
    # The reference policy is the model before unlearning: score every pair once.
    chosen_reference = reference_logprob(model, data.forget_idk)
    rejected_reference = reference_logprob(model, question_rows)
    log = UnlearnLog(method="idk-po")
    start = time.perf_counter()
    model.train()
    # Same loop as npo.py; the loss compares a refusal with the answer.
    for step in range(1, config.steps + 1):
        index = next(forget_stream)
        chosen_logp, _ = sequence_logprob(model, data.forget_idk.subset(index).trimmed())
        rejected_logp, _ = sequence_logprob(model, question_rows.subset(index).trimmed())
        chosen_margin = chosen_logp - chosen_reference[index]
        rejected_margin = rejected_logp - rejected_reference[index]
        preference = F.logsigmoid(config.beta * (chosen_margin - rejected_margin)).mean()
        forget_loss = config.forget_weight * (-2.0 / config.beta) * preference
        retain_loss = None
        if config.retain_weight > 0:
            retain_batch = next(retain_stream)
            term = (
                answer_nll(model, retain_batch)
                if reference is None
                else retain_kl(model, reference, retain_batch)
            )
            retain_loss = config.retain_weight * term
        runner.step(forget_loss, retain_loss)
        log.losses.append(float(forget_loss.detach()))
        log.forget_losses.append(float(-rejected_logp.detach().mean()))
        if retain_loss is not None:
            log.retain_losses.append(float(retain_loss.detach()))
        report_step(on_step, step, config.eval_every, model)
    return finish(log, model, config.steps, start)
