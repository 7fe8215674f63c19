r"""Restoration: steer an unlearned classifier's activations back towards the original's
expert features, and read how much forgotten-class accuracy returns.

*Suppression or Deletion* (Jang et al., arXiv:2602.18505): an SAE trained on block $k$
of the **original** model (`erase_diffusion.vision.sae`) names each class's expert
features $E_c$. At inference, on an image $x$ of a forgotten class $c$, the output
$h_u$ of block $k$ of the unlearned model is moved towards the original's values of
those features and the unlearned model's remaining blocks and head carry on:

$$h' = h_u + \alpha \sum_{j \in E_c} \big(z_j(h_o) - z_j(h_u)\big)\, d_j,$$

with $h_o$ the original model's block-$k$ output on the same image, $z = $ the SAE's
encoder, $d_j$ its unit decoder column and $\alpha$ the steering strength ($\alpha = 1$
puts the original's expert values back; larger values push past them, as the paper's
"gradual addition" with $\alpha \in \{1, 5, 10\}$). Only the expert directions move:
the rest of $h_u$, the SAE's reconstruction error included, is the unlearned model's
own. (The paper's released code also moves the class token itself towards the
original's, $h_u + \alpha(h_o - h_u)$; that patches every direction of the class token,
not only the experts, so it is left out here.)

The **restoration rate** is the share of the forgotten-class accuracy the unlearning
removed that steering brings back:

$$\mathrm{RR} = \frac{\mathrm{acc}_{steered} - \mathrm{acc}_{unlearned}}
{\mathrm{acc}_{original} - \mathrm{acc}_{unlearned}}.$$

High (near 1): the information was only *suppressed*, the downstream still reads it
once the features are back; low (near 0): *deleted*. It is undefined (nan) when the
method removed less than ``min_drop`` of the accuracy. torch is imported only inside
the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.vision.data import LabelledImages
from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.sae import SAEParams, SparseAutoencoder, Tokens

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification


class RestorationParams(StrictModel):
    """Where the SAE reads, how many experts per class, which steering strengths."""

    layer: int = Field(
        default=-2, ge=-64, le=64, description="Block whose output is read; <0 counts from the end."
    )
    tokens: Tokens = "all"
    sae: SAEParams = Field(default_factory=SAEParams)
    experts_per_class: int = Field(default=4, ge=1, le=10_000)
    alphas: list[float] = Field(default_factory=lambda: [1.0, 2.0, 5.0], min_length=1)
    min_drop: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Least accuracy drop for a defined rate."
    )
    patch_class_token: bool = Field(
        default=False,
        description="Also move the whole class token towards the original's (the paper's "
        "released code); off: only the expert directions move.",
    )


def restoration_rate(
    original: float, unlearned: float, steered: float, min_drop: float = 0.0
) -> float:
    """$(\\mathrm{acc}_{steered} - \\mathrm{acc}_{unlearned}) /
    (\\mathrm{acc}_{original} - \\mathrm{acc}_{unlearned})$; nan when the drop
    $\\mathrm{acc}_{original} - \\mathrm{acc}_{unlearned}$ is not above ``min_drop``."""
    drop = original - unlearned
    if not drop > max(min_drop, 0.0):
        return float("nan")
    return (steered - unlearned) / drop


def restore_expert_features(
    sae: SparseAutoencoder,
    unlearned: torch.Tensor,
    original: torch.Tensor,
    experts: list[int],
    alpha: float,
) -> torch.Tensor:
    """$h_u + \\alpha \\sum_{j \\in E} (z_j(h_o) - z_j(h_u)) d_j$ for activations (..., d)."""
    import torch

    if not experts:
        return unlearned.clone()
    index = torch.as_tensor(experts, dtype=torch.long)
    gap = sae.encode(original)[..., index] - sae.encode(unlearned)[..., index]
    return unlearned + alpha * gap @ sae.decoder_weight[:, index].T


def steered_logits(
    unlearned: ViTForImageClassification,
    original_hidden: torch.Tensor,
    sae: SparseAutoencoder,
    layer: int,
    experts: list[int],
    alpha: float,
    images: torch.Tensor,
    tokens: Tokens,
    patch_class_token: bool = False,
) -> torch.Tensor:
    """Logits of ``unlearned`` on ``images`` with block ``layer``'s output steered towards
    ``original_hidden`` (the original model's block output on the same images) along the
    ``experts``; every token is steered, or only the class token (``tokens="cls"``).
    ``patch_class_token`` also moves the whole class token, $h_u + \alpha(h_o - h_u)$, as
    the paper's released code does."""
    import torch

    from erase_diffusion.vision.sae import transformer_blocks

    if len(original_hidden) != len(images):
        raise ValueError(
            f"original_hidden holds {len(original_hidden)} images, images {len(images)}"
        )
    block = transformer_blocks(unlearned)[layer]
    target: list[torch.Tensor] = []

    def steer(module: torch.nn.Module, inputs: object, output: object) -> object:
        hidden = output[0] if isinstance(output, tuple) else output
        assert isinstance(hidden, torch.Tensor)
        reference = target[0]
        if tokens == "cls":
            moved = hidden.clone()
            moved[:, 0] = restore_expert_features(
                sae, hidden[:, 0], reference[:, 0], experts, alpha
            )
        else:
            moved = restore_expert_features(sae, hidden, reference, experts, alpha)
        if patch_class_token:
            moved[:, 0] = hidden[:, 0] + alpha * (reference[:, 0] - hidden[:, 0])
        return (moved, *output[1:]) if isinstance(output, tuple) else moved

    handle = block.register_forward_hook(steer)
    was_training = unlearned.training
    unlearned.eval()
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(images), 256):
                target[:] = [original_hidden[i : i + 256]]
                out.append(unlearned(pixel_values=images[i : i + 256]).logits)
    finally:
        handle.remove()
        unlearned.train(was_training)
    return torch.cat(out)


@dataclass(frozen=True)
class Restoration:
    """One unlearned model under steering: forget-class accuracy of the original, of the
    unlearned model, and steered at each strength; the rate at each strength."""

    original_accuracy: float
    unlearned_accuracy: float
    steered_accuracy: dict[float, float]
    rate: dict[float, float]
    expert_retention: float
    r"""$\sum z_E(h_u) / \sum z_E(h_o)$ over the images and tokens: how much of the
    original's expert activation the unlearned model still has at block $k$ (1: all)."""

    @property
    def best_rate(self) -> float:
        """The highest rate over the strengths (nan when every rate is)."""
        finite = [r for r in self.rate.values() if not np.isnan(r)]
        return max(finite) if finite else float("nan")


def fine_tune_from(
    pretrained: ViTForImageClassification,
    data: LabelledImages,
    num_classes: int,
    params: StepParams,
) -> ViTForImageClassification:
    """A classifier for ``num_classes`` classes that starts from ``pretrained``'s
    Transformer (its head replaced by a fresh one, seeded) and is trained on ``data``
    with cross-entropy, every weight: the paper's fine-tuned original, and its
    retrain-from-pretrained case when ``data`` is the retain set."""
    import copy

    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise

    if len(data) == 0:
        raise ValueError("cannot fine-tune on an empty set")
    tuned = copy.deepcopy(pretrained)
    torch.manual_seed(params.seed)
    tuned.classifier = torch.nn.Linear(tuned.config.hidden_size, num_classes)
    tuned.num_labels = tuned.config.num_labels = num_classes
    batches = Batches(data, params.batch_size, torch.Generator().manual_seed(params.seed))
    tuned.train()
    # Same loop as methods/finetune.py; only the starting point (a fresh head) differs.

    def loss_at(step: int) -> torch.Tensor:
        images, labels = batches.next()
        return torch.nn.functional.cross_entropy(tuned(pixel_values=images).logits, labels)

    optimise(tuned.parameters(), params.steps, params.learning_rate, loss_at)
    return tuned.eval()


def resolve_layer(model: ViTForImageClassification, layer: int) -> int:
    """A block index counted from the end when negative; raises outside the model."""
    from erase_diffusion.vision.sae import transformer_blocks

    blocks = len(transformer_blocks(model))
    resolved = layer + blocks if layer < 0 else layer
    if not 0 <= resolved < blocks:
        raise ValueError(f"layer {layer} outside the model's {blocks} blocks")
    return resolved


def restore(
    original: ViTForImageClassification,
    unlearned: ViTForImageClassification,
    sae: SparseAutoencoder,
    experts: dict[int, list[int]],
    forget_test: LabelledImages,
    params: RestorationParams,
) -> Restoration:
    """Steer ``unlearned`` on the forgotten classes' held-out images, each image with its
    class's ``experts``, at every strength of ``params``; accuracies and rates."""
    import torch

    from erase_diffusion.vision.model import accuracy
    from erase_diffusion.vision.sae import block_output

    layer = resolve_layer(original, params.layer)
    images = torch.from_numpy(forget_test.images)
    original_hidden = block_output(original, layer, images)
    base, plain = accuracy(original, forget_test), accuracy(unlearned, forget_test)
    steered: dict[float, float] = {}
    for alpha in params.alphas:
        right = 0
        for c in sorted(set(forget_test.labels.tolist())):
            pick = torch.from_numpy(np.flatnonzero(forget_test.labels == c))
            logits = steered_logits(
                unlearned,
                original_hidden[pick],
                sae,
                layer,
                experts.get(c, []),
                alpha,
                images[pick],
                params.tokens,
                params.patch_class_token,
            )
            right += int((logits.argmax(dim=1) == c).sum())
        steered[alpha] = right / len(forget_test)
    rates = {a: restoration_rate(base, plain, s, params.min_drop) for a, s in steered.items()}
    unlearned_hidden = block_output(unlearned, layer, images)
    kept, had = 0.0, 0.0
    with torch.no_grad():
        for c in sorted(set(forget_test.labels.tolist())):
            index = torch.as_tensor(experts.get(c, []), dtype=torch.long)
            pick = torch.from_numpy(np.flatnonzero(forget_test.labels == c))
            if params.tokens == "cls":
                after, before = unlearned_hidden[pick, 0], original_hidden[pick, 0]
            else:
                after, before = unlearned_hidden[pick], original_hidden[pick]
            kept += float(sae.encode(after)[..., index].sum())
            had += float(sae.encode(before)[..., index].sum())
    retention = kept / had if had > 0 else float("nan")
    return Restoration(base, plain, steered, rates, retention)
