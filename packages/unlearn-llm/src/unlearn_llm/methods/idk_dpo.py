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

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepLoss,
    forget_row_indices,
    frozen_copy,
    reference_logprob,
    retain_minibatches,
    setup,
)
from unlearn_llm.ranks import local_part

if TYPE_CHECKING:
    from torch.nn import Module

    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


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
    model: Module, data: UnlearnData, params: IdkPOParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Teach ``model`` to prefer a refusal over the answer on ``data.forget`` questions."""
    import torch.nn.functional as F

    from unlearn_llm.data import sequence_logprob
    from unlearn_llm.methods.gradient_difference import retain_term

    config, generator, runner = setup(model, data, IdkPOParams, params)
    if data.forget_idk is None or len(data.forget_idk) > len(data.forget):
        raise ValueError(
            "IdkPO needs forget_idk rows aligned with the first rows (the questions) of "
            "forget; build the data with make_unlearn_data"
        )
    refusals = data.forget_idk
    questions = data.forget.subset(slice(0, len(refusals)))
    forget_rows = forget_row_indices(data, len(refusals), config.batch_size, generator)
    retain_batches = retain_minibatches(data, config.batch_size, generator)
    use_kl = config.retain_loss == "kl" and config.retain_weight > 0
    reference = frozen_copy(model) if use_kl else None
    # The reference policy is the model before unlearning: score every pair once.
    chosen_reference = reference_logprob(model, refusals)
    rejected_reference = reference_logprob(model, questions)

    def loss() -> StepLoss:
        rows = next(forget_rows)  # this rank's part of it below (all of it in one process)
        index, chosen = local_part(refusals, rows)
        _, rejected = local_part(questions, rows)
        chosen_logp, _ = sequence_logprob(model, chosen)
        rejected_logp, _ = sequence_logprob(model, rejected)
        chosen_margin = chosen_logp - chosen_reference[index]
        rejected_margin = rejected_logp - rejected_reference[index]
        preference = chosen.row_mean(F.logsigmoid(config.beta * (chosen_margin - rejected_margin)))
        forget = config.forget_weight * (-2.0 / config.beta) * preference
        retain = None
        if config.retain_weight > 0:
            retain = config.retain_weight * retain_term(model, reference, next(retain_batches))
        return StepLoss(forget=forget, retain=retain)

    return runner.train("idk-po", loss, on_step)
