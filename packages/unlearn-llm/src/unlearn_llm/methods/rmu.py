"""RMU: steer forget-set activations at one layer to a random direction.

Paper: Li et al., "The WMDP Benchmark: Measuring and Reducing Malicious Use with
Unlearning" (arXiv:2403.03218), Representation Misdirection for Unlearning. With
$h_\\theta^{(\\ell)}$ the output of decoder layer $\\ell$, $u$ a fixed
random unit vector, $c$ the steering coefficient and $\\theta_0$ the frozen
model before unlearning:

$$
\\mathcal{L}_{RMU} = \\mathbb{E}_{x\\in D_f}
    \\big\\| h_\\theta^{(\\ell)}(x) - c\\,u \\big\\|_2^2
    + \\alpha\\, \\mathbb{E}_{x\\in D_r}
      \\big\\| h_\\theta^{(\\ell)}(x) - h_{\\theta_0}^{(\\ell)}(x) \\big\\|_2^2
$$

averaged over tokens (mean squared error per hidden unit). Only layers
$\\ell-2, \\dots, \\ell$ are updated, as in the paper.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.methods._common import (
    StepCallback,
    UnlearnData,
    UnlearnLog,
    cycle,
    finish,
    report_step,
    typed,
)

if TYPE_CHECKING:
    import torch

    from unlearn_llm.data import Batch


class RMUParams(MethodParams):
    """Layer $\\ell$, steering coefficient $c$, retain weight $\\alpha$."""

    layer: int = Field(
        default=0, ge=0, le=200, description="Decoder layer whose output is steered."
    )
    steering_coefficient: float = Field(default=20.0, gt=0.0, le=1e4)
    retain_weight: float = Field(default=10.0, ge=0.0, le=1e5)
    steps: int = Field(default=30, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    eval_every: int = Field(default=5, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)


def _decoder_layers(model: torch.nn.Module) -> list[Any]:
    """The decoder layers of a Llama-style model (through a peft wrapper if any)."""
    inner: Any = model
    unwrap = getattr(model, "get_base_model", None)
    if callable(unwrap):
        inner = unwrap()
    return list(inner.model.layers)


def _hidden(model: torch.nn.Module, batch: Batch, layer: int) -> torch.Tensor:
    out = model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True
    )
    hidden: torch.Tensor = out.hidden_states[layer + 1]
    return hidden


def rmu(
    model: torch.nn.Module,
    data: UnlearnData,
    params: RMUParams | None = None,
    *,
    on_step: StepCallback | None = None,
) -> UnlearnLog:
    """Unlearn ``data.forget`` by representation misdirection (in place)."""
    import torch

    config = typed(RMUParams, params)
    layers = _decoder_layers(model)
    if config.layer >= len(layers):
        raise ValueError(
            f"RMU layer={config.layer} does not exist: the model has {len(layers)} decoder "
            f"layers (accepted 0..{len(layers) - 1})"
        )
    generator = torch.Generator().manual_seed(config.seed)
    hidden_size = int(layers[0].mlp.down_proj.out_features)
    direction = torch.rand(hidden_size, generator=generator)
    target = config.steering_coefficient * direction / direction.norm()
    frozen = copy.deepcopy(model).eval()
    for parameter in frozen.parameters():
        parameter.requires_grad_(False)
    updated = {max(0, config.layer - 2) + i for i in range(min(3, config.layer + 1))}
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    chosen = [p for i in sorted(updated) for p in layers[i].parameters()]
    for parameter in chosen:
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(chosen, lr=config.learning_rate, weight_decay=0.0)
    forget_stream = cycle(data.forget, config.batch_size, generator)
    retain_stream = cycle(data.retain, config.batch_size, generator)
    log = UnlearnLog(method="rmu")
    start = time.perf_counter()
    model.train()
    try:
        for step in range(1, config.steps + 1):
            forget = next(forget_stream)
            retain = next(retain_stream)
            mask_f = forget.attention_mask.unsqueeze(-1).float()
            mask_r = retain.attention_mask.unsqueeze(-1).float()
            h_forget = _hidden(model, forget, config.layer)
            forget_loss = (((h_forget - target) ** 2) * mask_f).sum() / (mask_f.sum() * hidden_size)
            h_retain = _hidden(model, retain, config.layer)
            with torch.no_grad():
                h_frozen = _hidden(frozen, retain, config.layer)
            retain_loss = (((h_retain - h_frozen) ** 2) * mask_r).sum() / (
                mask_r.sum() * hidden_size
            )
            loss = forget_loss + config.retain_weight * retain_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            log.losses.append(float(loss.detach()))
            log.forget_losses.append(float(forget_loss.detach()))
            log.retain_losses.append(float(retain_loss.detach()))
            report_step(on_step, step, config.eval_every, model)
    finally:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    return finish(log, model, config.steps, start)
