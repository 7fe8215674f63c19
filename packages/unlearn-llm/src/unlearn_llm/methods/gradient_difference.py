"""Gradient difference: ascend on the forget set, descend on the retain set.

Paper: Liu et al., "Continual Learning and Private Unlearning" (arXiv:2203.12817); the
TOFU baseline "Grad. Diff." (arXiv:2401.06121). Loss:

$$
\\mathcal{L}_{GD} = -\\,\\mathrm{NLL}_\\theta(D_f) + \\lambda\\, R(D_r), \\qquad
R = \\mathrm{NLL}_\\theta(D_r) \\ \\text{or}\\
\\mathrm{KL}\\big(\\pi_{\\mathrm{ref}}(\\cdot\\mid x)
\\,\\|\\, \\pi_\\theta(\\cdot\\mid x)\\big)
$$

where the KL variant is the per-token mean, over every position of the retain rows
(question and answer; padding left out), of the KL divergence of the next-token
distributions from the frozen model before unlearning, as TOFU's and OpenUnlearning's
``KL`` retain loss (``kl_div(..., reduction="batchmean")`` on the flattened positions;
those also count the padding positions of the batch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from unlearn_llm.methods._common import (
    GradientMethodParams,
    StepLoss,
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


class GradientDifferenceParams(GradientMethodParams):
    """Retain term: its kind and weight $\\lambda$."""

    retain_loss: Literal["nll", "kl"] = "nll"
    retain_weight: float = Field(default=1.0, ge=0.0, le=1000.0)


def retain_kl(model: Module, reference: Module, batch: Batch) -> torch.Tensor:
    """Mean over the non-padding positions of KL(reference || model), next-token laws.

    Every position of a row's tokens counts, question included, as in TOFU's KL retain
    loss; padding positions do not.
    """
    import torch

    mask = batch.attention_mask.float()
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    with torch.no_grad():
        ref_logits = reference(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask
        ).logits
    ref_logp = torch.log_softmax(ref_logits.float(), dim=-1)
    logp = torch.log_softmax(logits.float(), dim=-1)
    kl = (ref_logp.exp() * (ref_logp - logp)).sum(dim=-1)
    return (kl * mask).sum() / batch.position_count(mask)


def retain_term(model: Module, reference: Module | None, batch: Batch) -> torch.Tensor:
    """$R(D_r)$ on ``batch``: the retain NLL, or with a ``reference`` the KL to it."""
    from unlearn_llm.data import answer_nll

    return answer_nll(model, batch) if reference is None else retain_kl(model, reference, batch)


def gradient_difference(
    model: Module,
    data: UnlearnData,
    params: GradientDifferenceParams | None = None,
    *,
    on_step: OnStep = None,
) -> UnlearnLog:
    """Unlearn ``data.forget`` while fitting ``data.retain`` (in place)."""
    from unlearn_llm.data import answer_nll

    config, generator, runner = setup(model, data, GradientDifferenceParams, params)
    forget_batches = forget_minibatches(data, config.batch_size, generator)
    retain_batches = retain_minibatches(data, config.batch_size, generator)
    reference = frozen_copy(model) if config.retain_loss == "kl" else None

    def loss() -> StepLoss:
        forget_nll = answer_nll(model, next(forget_batches))
        retain = retain_term(model, reference, next(retain_batches))
        return StepLoss(forget=-forget_nll, retain=config.retain_weight * retain)

    return runner.train("gradient-difference", loss, on_step)
