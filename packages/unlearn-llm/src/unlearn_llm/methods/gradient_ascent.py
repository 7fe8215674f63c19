"""Gradient ascent: maximise the language-modelling loss on the forget set.

Paper: Jang et al., "Knowledge Unlearning for Mitigating Privacy Risks in Language
Models" (arXiv:2210.01504); the TOFU baseline (arXiv:2401.06121). Loss:

$$
\\mathcal{L}_{GA}(\\theta) = -\\,\\mathbb{E}_{(x,y)\\in D_f}
    \\Big[ -\\tfrac{1}{|y|} \\log \\pi_\\theta(y \\mid x) \\Big]
$$

i.e. the negative of the forget-set NLL, minimised (gradient *ascent* on the NLL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearn_llm.methods._common import GradientMethodParams, StepLoss, forget_minibatches, setup

if TYPE_CHECKING:
    from torch.nn import Module

    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class GradientAscentParams(GradientMethodParams):
    """Gradient ascent has only the shared knobs (steps, learning rate, projection)."""


def gradient_ascent(
    model: Module,
    data: UnlearnData,
    params: GradientAscentParams | None = None,
    *,
    on_step: OnStep = None,
) -> UnlearnLog:
    """Unlearn ``data.forget`` from ``model`` in place by gradient ascent."""
    from unlearn_llm.data import answer_nll

    config, generator, runner = setup(model, data, GradientAscentParams, params)
    forget_batches = forget_minibatches(data, config.batch_size, generator)

    def loss() -> StepLoss:
        return StepLoss(forget=-answer_nll(model, next(forget_batches)))

    return runner.train("gradient-ascent", loss, on_step)
