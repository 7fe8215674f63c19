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

averaged over tokens (mean squared error per hidden unit; padding positions are left
out, where the reference code averages over the padded batch).

As in the paper's code (``rmu/unlearn.py`` of the WMDP repository: a forward hook on
``model.layers[layer]``, ``param_ids=[6]``), $h^{(\\ell)}$ is what decoder layer
$\\ell$ returns, *before* the model's final norm (the last entry of Hugging Face's
``output_hidden_states`` is taken after that norm, so it is not used here), and only the
MLP down-projections (``mlp.down_proj``) of layers $\\ell-2, \\dots, \\ell$ are trained
(``trainable="down_proj"``, the default). ``trainable="layers"`` trains every parameter
of those layers instead, a broader variant of ours. On a LoRA-wrapped model only what
was trainable among those parameters trains (the adapters on them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.methods._common import (
    PlainStep,
    StepLoss,
    decoder_layers,
    forget_minibatches,
    frozen_copy,
    retain_minibatches,
    train_steps,
    typed,
)

if TYPE_CHECKING:
    import torch
    from torch.nn import Module

    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import OnStep, UnlearnData, UnlearnLog


class RMUParams(MethodParams):
    """Layer $\\ell$, steering coefficient $c$, retain weight $\\alpha$, what trains."""

    layer: int = Field(
        default=0, ge=0, le=200, description="Decoder layer whose output is steered."
    )
    trainable: Literal["down_proj", "layers"] = Field(
        default="down_proj",
        description=(
            "What trains in layers layer-2..layer: 'down_proj' the MLP down-projections "
            "(the paper's code), 'layers' every parameter of those layers (our variant)."
        ),
    )
    steering_coefficient: float = Field(default=20.0, gt=0.0, le=1e4)
    retain_weight: float = Field(default=10.0, ge=0.0, le=1e5)
    steps: int = Field(default=30, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    eval_every: int = Field(default=5, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)


def _hidden(model: Module, batch: Batch, layer: int) -> torch.Tensor:
    """The output of decoder layer ``layer`` on ``batch`` (read by a forward hook)."""
    captured: list[torch.Tensor] = []

    def keep(_module: Module, _inputs: object, output: object) -> None:
        # a decoder layer returns its hidden states, or a tuple that starts with them
        captured.append(output[0] if isinstance(output, tuple) else output)  # type: ignore[arg-type]

    handle = decoder_layers(model)[layer].register_forward_hook(keep)
    try:
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    finally:
        handle.remove()
    return captured[0]


def steering_target(
    hidden_size: int, coefficient: float, generator: torch.Generator
) -> torch.Tensor:
    """$c\\,u$: a uniform random vector in $[0, 1)^d$ scaled to norm $c$ (the paper's code)."""
    import torch

    direction = torch.rand(hidden_size, generator=generator)
    return coefficient * direction / direction.norm()


def rmu(
    model: Module, data: UnlearnData, params: RMUParams | None = None, *, on_step: OnStep = None
) -> UnlearnLog:
    """Unlearn ``data.forget`` by representation misdirection (in place)."""
    import torch

    config = typed(RMUParams, params)
    layers = decoder_layers(model)
    if config.layer >= len(layers):
        raise ValueError(
            f"RMU layer={config.layer} does not exist: the model has {len(layers)} decoder "
            f"layers (accepted 0..{len(layers) - 1})"
        )
    generator = torch.Generator().manual_seed(config.seed)
    hidden_size = int(layers[0].mlp.down_proj.out_features)
    target = steering_target(hidden_size, config.steering_coefficient, generator)
    frozen = frozen_copy(model)
    updated = sorted({max(0, config.layer - 2) + i for i in range(min(3, config.layer + 1))})
    # Only what was trainable before may train (on a LoRA-wrapped model, the adapters of
    # the chosen modules), and every flag is put back afterwards.
    trainable_before = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    modules = [
        layers[i].mlp.down_proj if config.trainable == "down_proj" else layers[i] for i in updated
    ]
    chosen = [p for module in modules for p in module.parameters() if p.requires_grad]
    if not chosen:
        where = "mlp.down_proj of" if config.trainable == "down_proj" else "any of"
        raise ValueError(
            f"RMU: no trainable parameter in {where} layers {updated} "
            f"(trainable={config.trainable!r}); accepted: a model with trainable parameters "
            "there, or trainable='layers' to train every parameter of those layers"
        )
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in chosen:
        parameter.requires_grad_(True)
    forget_batches = forget_minibatches(data, config.batch_size, generator)
    retain_batches = retain_minibatches(data, config.batch_size, generator)

    def loss() -> StepLoss:
        forget = next(forget_batches)
        retain = next(retain_batches)
        mask_f = forget.attention_mask.unsqueeze(-1).float()
        mask_r = retain.attention_mask.unsqueeze(-1).float()
        h_forget = _hidden(model, forget, config.layer)
        forget_loss = (((h_forget - target) ** 2) * mask_f).sum() / (
            forget.position_count(mask_f) * hidden_size
        )
        h_retain = _hidden(model, retain, config.layer)
        with torch.no_grad():
            h_frozen = _hidden(frozen, retain, config.layer)
        retain_loss = (((h_retain - h_frozen) ** 2) * mask_r).sum() / (
            retain.position_count(mask_r) * hidden_size
        )
        return StepLoss(forget=forget_loss, retain=config.retain_weight * retain_loss)

    try:
        return train_steps(
            model,
            loss,
            PlainStep(chosen, config.learning_rate),
            method="rmu",
            steps=config.steps,
            eval_every=config.eval_every,
            on_step=on_step,
        )
    finally:
        for parameter, flag in trainable_before:
            parameter.requires_grad_(flag)
