"""SANI: reset the neurons that carry the forget set, then repair on retain data.

Paper: Boutet and Magnana, "Leverage Unlearning to Sanitize LLMs" (SANI,
arXiv:2510.21322). Two phases:

1. *Erasure*: in the last ``layers`` decoder layers, score every MLP neuron $j$
   by how much more it fires on forget answers than on retain answers,

   $$
   s_j = \\mathbb{E}_{t\\in D_f} |a_j(t)| - \\mathbb{E}_{t\\in D_r} |a_j(t)|,
   \\qquad a(t) = \\mathrm{act}(W_{gate} h_t) \\odot (W_{up} h_t)
   $$

   and re-initialise the top ``reset_fraction`` of them (their rows of
   $W_{gate}, W_{up}$ and column of $W_{down}$) from the model's init.
2. *Repair*: fine-tune on retain data, so utility comes back without re-memorising
   the forget set; an optional ascent weight $w$ (``forget_ascent_weight``, 0 by
   default) on forget rows keeps it out:

   $$
   \\mathcal{L}_{repair} = \\mathrm{NLL}_\\theta(D_r) - w\\, \\mathrm{NLL}_\\theta(D_f)
   $$
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.methods._common import (
    PlainStep,
    StepLoss,
    decoder_layers,
    forget_minibatches,
    retain_minibatches,
    train_steps,
    trainable,
    typed,
)

if TYPE_CHECKING:
    import torch
    from torch.nn import Module

    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class SANIParams(MethodParams):
    """Which neurons to reset, and the repair budget."""

    layers: int = Field(default=1, ge=1, le=200, description="Last decoder layers searched.")
    reset_fraction: float = Field(default=0.1, gt=0.0, le=1.0)
    repair_steps: int = Field(default=30, ge=0, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    forget_ascent_weight: float = Field(default=0.0, ge=0.0, le=100.0)
    eval_every: int = Field(default=5, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)


def _mean_abs_activation(model: Module, layer: Any, batch: Batch) -> torch.Tensor:
    """Mean |activation| of each MLP neuron of ``layer`` over ``batch``'s answer tokens."""
    import torch

    captured: list[torch.Tensor] = []

    def hook(module: Module, inputs: tuple[torch.Tensor, ...]) -> None:
        captured.append(inputs[0].detach())

    handle = layer.mlp.down_proj.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    finally:
        handle.remove()
    activations = captured[0]
    # The activation at position t produces token t + 1: keep answer positions.
    mask = torch.zeros(batch.labels.shape, dtype=torch.bool, device=batch.labels.device)
    mask[:, :-1] = batch.labels[:, 1:] != -100
    return activations[mask].abs().mean(dim=0)


def sani(
    model: Module, data: UnlearnData, params: SANIParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Reset forget-specific neurons in the last layers, then repair (in place)."""
    import torch

    from unlearn_llm.data import answer_nll

    config = typed(SANIParams, params)
    generator = torch.Generator().manual_seed(config.seed)
    layers = decoder_layers(model)
    if config.layers > len(layers):
        raise ValueError(
            f"SANI layers={config.layers} exceeds the model's {len(layers)} decoder layers"
        )
    start = time.perf_counter()
    init_std = float(getattr(getattr(model, "config", None), "initializer_range", 0.02))
    model.eval()
    for layer in list(layers)[-config.layers :]:
        forget_act = _mean_abs_activation(model, layer, data.forget)
        retain_act = _mean_abs_activation(model, layer, data.retain)
        scores = forget_act - retain_act
        count = max(1, round(config.reset_fraction * scores.numel()))
        neurons = torch.topk(scores, count).indices
        mlp: Any = layer.mlp
        with torch.no_grad():
            for projection in (mlp.gate_proj, mlp.up_proj):
                fresh = (
                    torch.randn((count, projection.weight.shape[1]), generator=generator) * init_std
                )
                projection.weight[neurons] = fresh.to(projection.weight)
            down = mlp.down_proj.weight
            fresh = torch.randn((down.shape[0], count), generator=generator) * init_std
            down[:, neurons] = fresh.to(down)
    if on_step is not None:
        on_step(0, model)
    retain_batches = retain_minibatches(data, config.batch_size, generator)
    forget_batches = forget_minibatches(data, config.batch_size, generator)

    def repair_loss() -> StepLoss:
        retain = answer_nll(model, next(retain_batches))
        forget = None
        if config.forget_ascent_weight > 0:
            forget = -config.forget_ascent_weight * answer_nll(model, next(forget_batches))
        return StepLoss(forget=forget, retain=retain)

    return train_steps(
        model,
        repair_loss,
        PlainStep(trainable(model), config.learning_rate),
        method="sani",
        steps=config.repair_steps,
        eval_every=config.eval_every,
        on_step=on_step,
        start=start,
    )
