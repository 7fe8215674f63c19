"""Task-vector negation: fine-tune on the forget set, then subtract that change.

Paper: Ilharco et al., "Editing Models with Task Arithmetic" (arXiv:2212.04089). With
$\\theta_0$ the model before unlearning and $\\theta_{ft}$ a copy fine-tuned
further on $D_f$ (NLL):

$$
\\tau = \\theta_{ft} - \\theta_0, \\qquad \\theta_{new} = \\theta_0 - \\alpha\\, \\tau
$$

"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.methods._common import (
    PlainStep,
    StepLoss,
    finish,
    forget_minibatches,
    train_steps,
    trainable,
    typed,
)

if TYPE_CHECKING:
    from torch.nn import Module

    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class TaskVectorParams(MethodParams):
    """Fine-tuning budget of the forget copy and the negation scale $\\alpha$."""

    finetune_steps: int = Field(default=30, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    scale: float = Field(default=1.0, gt=0.0, le=100.0, description="alpha")
    seed: int = Field(default=0, ge=0)


def task_vector(
    model: Module,
    data: UnlearnData,
    params: TaskVectorParams | None = None,
    *,
    on_step: OnStep = None,
) -> UnlearnLog:
    """Negate the forget-set task vector of ``model`` (in place)."""
    import torch

    from unlearn_llm.data import answer_nll

    config = typed(TaskVectorParams, params)
    generator = torch.Generator().manual_seed(config.seed)
    finetuned = copy.deepcopy(model)
    start = time.perf_counter()
    forget_batches = forget_minibatches(data, config.batch_size, generator)

    def finetune_loss() -> StepLoss:
        # Descent on the copy: the forget NLL, minimised, gives theta_ft.
        return StepLoss(forget=answer_nll(finetuned, next(forget_batches)))

    log = train_steps(
        finetuned,
        finetune_loss,
        PlainStep(trainable(finetuned), config.learning_rate),
        method="task-vector",
        steps=config.finetune_steps,
    )
    with torch.no_grad():
        tuned = dict(finetuned.named_parameters())
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                parameter.sub_(config.scale * (tuned[name] - parameter))
    model.eval()
    if on_step is not None:
        on_step(config.finetune_steps, model)
    return finish(log, model, config.finetune_steps, start)
