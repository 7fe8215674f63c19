r"""A sparse autoencoder on a ViT block's token activations, and class-specific expert features.

*Suppression or Deletion: A Restoration-Based Representation-Level Analysis of Machine
Unlearning* (Jang et al., arXiv:2602.18505) trains a sparse autoencoder (SAE) on an
intermediate layer of the **original** classifier and calls the latents that fire for
one class and not the others that class's *expert features*. Written out here:

- encoder $z = \sigma\big(W_e (x - b_{pre}) + b_e\big)$ with $\sigma$ either TopK (ReLU,
  then keep the $k$ largest latents of each token, as the paper's SAEs, $k = 16$ or 32)
  or plain ReLU with an L1 penalty;
- decoder $\hat{x} = W_d z + b_{pre}$, the columns $d_j$ of $W_d$ kept at unit norm, so a
  latent's value is its length along its direction;
- loss $\lVert x - \hat{x} \rVert^2 / \lVert x - \bar{x} \rVert^2$ (the normalised MSE),
  plus $\lambda \sum_j z_j$ for the L1 variant.

`token_activations` reads the output of Transformer block $k$ (every token, or only the
class token); `train_sae` fits the SAE on it; `expert_features` ranks the latents of one
class by how much more they fire on its images than on the others'. The paper's text
on its selection rule was not at hand (its released code loads the expert lists from a
file), so the rule here is our reading, named in the docs: per image, the latent code
averaged over the tokens; per class, its mean over the class's images $a_j(c)$; the
experts of class $c$ are the latents with the largest gap
$a_j(c) - \frac{1}{C-1}\sum_{c' \ne c} a_j(c')$ (positive gaps only).

torch is imported only inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification

Sparsity = Literal["topk", "l1"]
Tokens = Literal["all", "cls"]


class SAEParams(StrictModel):
    """Shape and training of the sparse autoencoder."""

    latents: int = Field(default=128, ge=1, le=1_000_000, description="Dictionary size.")
    sparsity: Sparsity = "topk"
    k: int = Field(default=4, ge=1, le=100_000, description="Active latents per token (TopK).")
    l1: float = Field(default=1e-3, ge=0.0, le=100.0, description="L1 weight (sparsity l1).")
    steps: int = Field(default=1500, ge=1, le=1_000_000)
    batch_size: int = Field(default=256, ge=1, le=1_000_000)
    learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)
    seed: int = 0


@dataclass(frozen=True)
class SparseAutoencoder:
    """The trained weights: $W_e$ (latents, d), $b_e$ (latents,), $W_d$ (d, latents),
    $b_{pre}$ (d,), and the sparsity rule."""

    encoder_weight: torch.Tensor
    encoder_bias: torch.Tensor
    decoder_weight: torch.Tensor
    pre_bias: torch.Tensor
    sparsity: Sparsity
    k: int

    @property
    def latents(self) -> int:
        return int(self.encoder_weight.shape[0])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes $z$ (..., latents) of activations $x$ (..., d)."""
        import torch

        z = torch.relu((x - self.pre_bias) @ self.encoder_weight.T + self.encoder_bias)
        if self.sparsity == "topk" and self.k < self.latents:
            kept = torch.topk(z, self.k, dim=-1)
            z = torch.zeros_like(z).scatter(-1, kept.indices, kept.values)
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstructions $\\hat{x} = W_d z + b_{pre}$ (..., d)."""
        return z @ self.decoder_weight.T + self.pre_bias


def train_sae(activations: torch.Tensor, params: SAEParams) -> SparseAutoencoder:
    """An SAE fitted on ``activations`` (n, d) with Adam on the normalised MSE (+ L1).

    $b_{pre}$ starts at the mean activation, $W_d$ at random unit columns and $W_e$ at
    $W_d^\\top$; the decoder columns are renormalised after every step.
    """
    import torch

    if activations.ndim != 2 or len(activations) == 0:
        raise ValueError(f"activations must be a non-empty (n, d) matrix, got {activations.shape}")
    if params.sparsity == "topk" and params.k > params.latents:
        raise ValueError(f"k = {params.k} exceeds the {params.latents} latents")
    x = activations.detach().float()
    n, d = x.shape
    generator = torch.Generator().manual_seed(params.seed)
    decoder = torch.randn(d, params.latents, generator=generator)
    decoder = decoder / decoder.norm(dim=0, keepdim=True)
    decoder.requires_grad_(True)
    encoder = decoder.detach().T.clone().requires_grad_(True)
    encoder_bias = torch.zeros(params.latents, requires_grad=True)
    pre_bias = x.mean(dim=0).clone().requires_grad_(True)
    variance = ((x - x.mean(dim=0)) ** 2).sum(dim=1).mean().clamp_min(1e-12)
    optimizer = torch.optim.Adam(
        [decoder, encoder, encoder_bias, pre_bias], lr=params.learning_rate
    )

    def current() -> SparseAutoencoder:
        return SparseAutoencoder(
            encoder, encoder_bias, decoder, pre_bias, params.sparsity, params.k
        )

    for _ in range(params.steps):
        batch = x[torch.randint(0, n, (min(params.batch_size, n),), generator=generator)]
        sae = current()
        z = sae.encode(batch)
        loss = ((batch - sae.decode(z)) ** 2).sum(dim=1).mean() / variance
        if params.sparsity == "l1":
            loss = loss + params.l1 * z.sum(dim=1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            decoder /= decoder.norm(dim=0, keepdim=True).clamp_min(1e-8)
    return SparseAutoencoder(
        encoder.detach(),
        encoder_bias.detach(),
        decoder.detach(),
        pre_bias.detach(),
        params.sparsity,
        params.k,
    )


def explained_variance(sae: SparseAutoencoder, activations: torch.Tensor) -> float:
    """$1 - \\lVert x - \\hat{x} \\rVert^2 / \\lVert x - \\bar{x} \\rVert^2$ on ``activations``."""
    import torch

    with torch.no_grad():
        error = ((activations - sae.decode(sae.encode(activations))) ** 2).sum()
        total = ((activations - activations.mean(dim=0)) ** 2).sum().clamp_min(1e-12)
    return float(1 - error / total)


def transformer_blocks(model: ViTForImageClassification) -> torch.nn.ModuleList:
    """The ViT's Transformer blocks in order (``vit.layers`` in transformers 5,
    ``vit.encoder.layer`` before)."""
    vit: Any = model.vit
    blocks = getattr(vit, "layers", None)
    if blocks is None:
        blocks = vit.encoder.layer
    return cast("torch.nn.ModuleList", blocks)


def block_output(
    model: ViTForImageClassification, layer: int, images: torch.Tensor
) -> torch.Tensor:
    """The hidden states (n, tokens, d) leaving Transformer block ``layer`` (0-based)."""
    import torch

    blocks = transformer_blocks(model)
    if not 0 <= layer < len(blocks):
        raise ValueError(f"layer {layer} outside the model's blocks 0..{len(blocks) - 1}")
    seen: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, inputs: object, output: object) -> None:
        seen.append(output[0] if isinstance(output, tuple) else output)  # type: ignore[arg-type]

    handle = blocks[layer].register_forward_hook(keep)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(images), 256):
                model(pixel_values=images[i : i + 256])
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(seen)


def token_activations(hidden: torch.Tensor, tokens: Tokens) -> torch.Tensor:
    """The token vectors an SAE reads from block hidden states (n, tokens, d): every token
    (n * tokens, d) or the class token only (n, d)."""
    if tokens == "cls":
        return hidden[:, 0]
    if tokens == "all":
        return hidden.reshape(-1, hidden.shape[-1])
    raise ValueError(f"unknown tokens {tokens!r}; accepted: all, cls")


def image_codes(sae: SparseAutoencoder, hidden: torch.Tensor, tokens: Tokens) -> torch.Tensor:
    """Per image, the latent code averaged over the tokens the SAE reads (n, latents)."""
    import torch

    with torch.no_grad():
        if tokens == "cls":
            return sae.encode(hidden[:, 0])
        return sae.encode(hidden).mean(dim=1)


def expert_features(
    codes: np.ndarray | torch.Tensor, labels: np.ndarray, target: int, count: int
) -> list[int]:
    """The (at most) ``count`` latents of class ``target``: largest gap between their mean
    code on ``target``'s images and their mean over the other classes' means, positive
    gaps only, best first. ``codes`` is (n images, latents)."""
    values = np.asarray(codes.detach().cpu() if hasattr(codes, "detach") else codes, dtype=float)
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()))
    if target not in classes:
        raise ValueError(f"class {target} has no image; classes present: {classes}")
    if len(classes) < 2:
        raise ValueError("expert features need images of at least two classes")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    means = {c: values[labels == c].mean(axis=0) for c in classes}
    others = np.mean([means[c] for c in classes if c != target], axis=0)
    gap = means[target] - others
    order = np.argsort(-gap, kind="stable")
    return [int(j) for j in order[:count] if gap[j] > 0]
