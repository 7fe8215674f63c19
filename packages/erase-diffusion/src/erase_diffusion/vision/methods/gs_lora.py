"""GS-LoRA and GS-LoRA++: group-sparse LoRA for continual forgetting.

Zhao et al., *Practical Continual Forgetting for Pre-trained Vision Models*
(arXiv:2501.09705; the GS-LoRA part first appeared as arXiv:2403.11530). Each forgetting
task adds fresh LoRA modules (peft, rank $r$) to the two FFN linears of every Transformer
block; only they train, the backbone and head stay frozen. The loss of a task is

$\\mathcal{L} = \\mathcal{L}_r + \\beta\\,\\mathcal{L}_f + \\alpha\\,\\mathcal{L}_{structure}$

- $\\mathcal{L}_r = \\mathrm{CE}(f(x_r), y_r)$ on the classes to keep;
- $\\mathcal{L}_f = \\mathrm{ReLU}(\\mathrm{BND} - \\mathrm{CE}(f(x_f), y_f))$, the bounded
  forgetting loss: ascent on the forget set's cross-entropy until it reaches BND;
- $\\mathcal{L}_{structure} = \\sum_{k=1}^{G} \\lVert \\theta_k \\rVert_2$, the group lasso, where
  group $\\theta_k$ is every LoRA weight of block $k$ (A and B of both FFN linears) taken as
  one vector; it drives the groups a task does not need to zero.

GS-LoRA++ (the scarce-data setting) adds prototype supervision on the logits:
$\\mathcal{L}_{pro} = w_r\\,\\mathrm{KL}(\\sigma(p_{y_r}) \\,\\|\\, \\sigma(f(x_r))) +
w_f\\,\\mathrm{ReLU}(\\mathrm{BND}_{pro} -
\\mathrm{KL}(\\sigma(p_{y_f}) \\,\\|\\, \\sigma(f(x_f))))$,
with $p_c$ the mean logits of class $c$ under the model before the task, over the images
the task has: remaining classes are pulled to their prototype, forgotten ones pushed away.

After a task the LoRA weights are merged into the backbone ($W \\leftarrow W + \\tfrac{a}{r}BA$),
so the next task of a stream starts from the model that has forgotten the earlier ones.
Each step draws a retain and a forget batch and runs them through the model in one
forward pass (`joint_logits`: the same logits as two passes, with less per-step
overhead). The paper's code trains a fixed number of epochs per task, with no early stop
at the bound; so does this one (``steps``).
peft is an optional dependency (``erase-diffusion[vision]``), imported here only.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.methods.request import ClassForgetRequest

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification

FFN_LINEARS = r".*\.layers?\.\d+\.(mlp\.fc1|mlp\.fc2|intermediate\.dense|output\.dense)"
"""peft target: the two FFN linears of each ViT block (``mlp.fc1``/``mlp.fc2`` in
transformers 5, ``intermediate.dense``/``output.dense`` before; never attention's)."""
_BLOCK = re.compile(r"\.layers?\.(\d+)\.")


class GSLoRAParams(StepParams):
    """GS-LoRA's knobs (names as in the paper: $\\alpha$, $\\beta$, BND)."""

    steps: int = Field(default=30, ge=1, le=1_000_000)
    learning_rate: float = Field(default=1e-2, gt=0.0, le=1.0)
    rank: int = Field(default=4, ge=1, le=256, description="LoRA rank r.")
    lora_alpha: int = Field(default=8, ge=1, le=4096, description="LoRA scale a (update a/r·BA).")
    forget_weight: float = Field(default=1.0, ge=0.0, le=100.0, description="β.")
    bound: float = Field(default=4.0, gt=0.0, le=1000.0, description="BND of the forget loss.")
    sparsity_weight: float = Field(default=0.01, ge=0.0, le=100.0, description="α.")


class GSLoRAPlusPlusParams(GSLoRAParams):
    """GS-LoRA plus prototype supervision on the logits."""

    prototype_retain_weight: float = Field(default=1.0, ge=0.0, le=100.0, description="w_r.")
    prototype_forget_weight: float = Field(default=1.0, ge=0.0, le=100.0, description="w_f.")
    prototype_bound: float = Field(default=4.0, gt=0.0, le=1000.0, description="BND_pro.")


def group_sparse_penalty(groups: list[list[torch.Tensor]]) -> torch.Tensor:
    """$\\sum_k \\lVert \\theta_k \\rVert_2$: per group, the Euclidean norm of all its tensors
    flattened into one vector; summed over groups (no size weighting, as in the paper)."""
    import torch

    if not groups:
        raise ValueError("group_sparse_penalty needs at least one group")
    norms = [torch.linalg.vector_norm(torch.cat([t.flatten() for t in group])) for group in groups]
    return torch.stack(norms).sum()


def lora_groups(model: torch.nn.Module) -> list[list[torch.nn.Parameter]]:
    """The trainable LoRA weights of a peft-wrapped ViT, one group per Transformer block."""
    found: dict[int, list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if "lora_" in name and parameter.requires_grad:
            match = _BLOCK.search(name)
            if match is None:
                raise ValueError(f"LoRA weight {name!r} is not inside a ViT encoder block")
            found.setdefault(int(match.group(1)), []).append(parameter)
    if not found:
        raise ValueError("the model has no trainable LoRA weights")
    return [found[k] for k in sorted(found)]


def class_prototypes(
    model: ViTForImageClassification, request: ClassForgetRequest
) -> dict[int, torch.Tensor]:
    """$p_c$: mean logits of each class present in the request, under ``model``."""
    import numpy as np

    from erase_diffusion.vision.model import logits_of

    prototypes = {}
    for data in (request.forget, request.retain):
        if len(data) == 0:
            continue
        logits = logits_of(model, data.images)
        for c in np.unique(data.labels).tolist():
            prototypes[int(c)] = logits[data.labels == c].mean(dim=0)
    return prototypes


def prototype_divergence(
    logits: torch.Tensor, labels: torch.Tensor, prototypes: dict[int, torch.Tensor]
) -> torch.Tensor:
    """Batch mean of $\\mathrm{KL}(\\sigma(p_y) \\,\\|\\, \\sigma(z))$, logits $z$, labels $y$."""
    import torch

    target = torch.stack([prototypes[int(y)] for y in labels.tolist()]).log_softmax(dim=1)
    return torch.nn.functional.kl_div(
        logits.log_softmax(dim=1), target, reduction="batchmean", log_target=True
    )


def joint_logits(
    model: torch.nn.Module, x_r: torch.Tensor, x_f: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """$f(x_r)$ and $f(x_f)$ from one forward pass over both batches stacked.

    The ViT treats every image on its own (LayerNorm per token, attention within an
    image, no batch statistics, dropout 0), so these are the logits of two separate
    passes; one pass saves the per-call overhead that dominates at this size (about a
    fifth of a GS-LoRA step on the quick ViT).
    """
    import torch

    logits = model(pixel_values=torch.cat([x_r, x_f])).logits
    return logits[: len(x_r)], logits[len(x_r) :]


@dataclass
class GSLoRAResult:
    """The model after one task (LoRA merged), and the norm of each block's LoRA group
    before merging (the groups the task used; near zero for the ones it dropped)."""

    model: ViTForImageClassification
    group_norms: list[float]
    losses: list[float]


def gs_lora_task(
    model: ViTForImageClassification,
    request: ClassForgetRequest,
    params: GSLoRAParams,
) -> GSLoRAResult:
    """One forgetting task of GS-LoRA (GS-LoRA++ when ``params`` is `GSLoRAPlusPlusParams`)."""
    import torch

    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("GS-LoRA needs peft: pip install 'erase-diffusion[vision]'") from error

    from erase_diffusion.vision.methods._loop import Batches, optimise

    if len(request.retain) == 0:
        raise ValueError("GS-LoRA needs retain images for L_r; the retain set is empty")
    plus = isinstance(params, GSLoRAPlusPlusParams)
    prototypes = class_prototypes(model, request) if plus else {}
    torch.manual_seed(params.seed)
    config = LoraConfig(
        r=params.rank, lora_alpha=params.lora_alpha, lora_dropout=0.0, target_modules=FFN_LINEARS
    )
    wrapped = get_peft_model(copy.deepcopy(model), config)
    wrapped.train()
    groups = lora_groups(wrapped)
    generator = torch.Generator().manual_seed(params.seed)
    forget = Batches(request.forget, params.batch_size, generator)
    retain = Batches(request.retain, params.batch_size, generator)

    def loss_at(step: int) -> torch.Tensor:
        ce = torch.nn.functional.cross_entropy
        x_r, y_r = retain.next()
        x_f, y_f = forget.next()
        z_r, z_f = joint_logits(wrapped, x_r, x_f)
        loss_retain = ce(z_r, y_r)
        loss_forget = torch.relu(params.bound - ce(z_f, y_f))
        loss = (
            loss_retain
            + params.forget_weight * loss_forget
            + params.sparsity_weight * group_sparse_penalty(groups)  # type: ignore[arg-type]
        )
        if isinstance(params, GSLoRAPlusPlusParams):
            pull = prototype_divergence(z_r, y_r, prototypes)
            push = torch.relu(params.prototype_bound - prototype_divergence(z_f, y_f, prototypes))
            loss = loss + params.prototype_retain_weight * pull
            loss = loss + params.prototype_forget_weight * push
        return loss

    trainable = [p for group in groups for p in group]
    losses = optimise(trainable, params.steps, params.learning_rate, loss_at)
    with torch.no_grad():
        norms = [
            float(torch.linalg.vector_norm(torch.cat([p.flatten() for p in group])))
            for group in groups
        ]
    merged = wrapped.merge_and_unload()
    # peft froze the backbone; the returned model is a plain one, trainable like any other.
    merged.requires_grad_(True)
    return GSLoRAResult(model=merged.eval(), group_norms=norms, losses=losses)  # type: ignore[arg-type]


def forget_gs_lora(
    model: ViTForImageClassification, request: ClassForgetRequest, params: GSLoRAParams
) -> ViTForImageClassification:
    """GS-LoRA on one task; the returned model has the task's LoRA merged in."""
    return gs_lora_task(model, request, params).model


def forget_gs_lora_plus_plus(
    model: ViTForImageClassification, request: ClassForgetRequest, params: GSLoRAPlusPlusParams
) -> ViTForImageClassification:
    """GS-LoRA++ (prototype supervision) on one task; LoRA merged in."""
    return gs_lora_task(model, request, params).model
