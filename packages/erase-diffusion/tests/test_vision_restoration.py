"""Restoration analysis: the SAE, the expert selection, steering and the restoration rate,
each on a case whose answer is written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from erase_diffusion.vision.restoration import (
    restoration_rate,
    restore_expert_features,
)
from erase_diffusion.vision.sae import (
    SAEParams,
    SparseAutoencoder,
    expert_features,
    explained_variance,
    train_sae,
)


def planted(n_per_class: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """Activations in R^8 for three classes: class c is 4 e_c plus small noise, so one
    direction encodes each class."""
    generator = torch.Generator().manual_seed(seed)
    labels = np.repeat(np.arange(3), n_per_class)
    x = 0.1 * torch.randn(len(labels), 8, generator=generator)
    x[np.arange(len(labels)), labels] += 4.0
    return x, labels


def readout(x: torch.Tensor) -> np.ndarray:
    """The downstream model: class = the largest of the three class directions."""
    return x[:, :3].argmax(dim=1).numpy()


def test_restoration_rate_on_a_hand_example() -> None:
    # original 0.9, unlearned 0.1: steering to 0.5 brings back half of the 0.8 removed.
    assert restoration_rate(0.9, 0.1, 0.5) == pytest.approx(0.5)
    assert restoration_rate(0.9, 0.1, 0.9) == pytest.approx(1.0)
    assert restoration_rate(0.9, 0.1, 0.1) == pytest.approx(0.0)
    # a method that did not forget (drop 0.05 <= min_drop 0.1) has no rate.
    assert math.isnan(restoration_rate(0.9, 0.85, 0.9, min_drop=0.1))


def test_expert_selection_picks_the_planted_latent() -> None:
    # latent 2 fires only on class 1; latent 0 fires on everything; latent 1 fires a
    # little more on class 1 (gap 0.5) than latent 2's gap of 3.
    labels = np.array([0, 0, 1, 1, 2, 2])
    codes = np.array(
        [
            [1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 0.5, 3.0],
            [1.0, 0.5, 3.0],
            [1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
        ]
    )
    assert expert_features(codes, labels, target=1, count=2) == [2, 1]
    # only positive gaps count: class 0 has none.
    assert expert_features(codes, labels, target=0, count=2) == []


def test_expert_features_rejects_a_missing_class() -> None:
    with pytest.raises(ValueError, match="class 5 has no image"):
        expert_features(np.zeros((2, 3)), np.array([0, 1]), target=5, count=1)


def test_topk_encoder_keeps_k_latents() -> None:
    sae = SparseAutoencoder(
        encoder_weight=torch.eye(4),
        encoder_bias=torch.zeros(4),
        decoder_weight=torch.eye(4),
        pre_bias=torch.zeros(4),
        sparsity="topk",
        k=2,
    )
    z = sae.encode(torch.tensor([[3.0, -1.0, 2.0, 1.0]]))
    assert z.tolist() == [[3.0, 0.0, 2.0, 0.0]]
    assert sae.decode(z).tolist() == [[3.0, 0.0, 2.0, 0.0]]


@pytest.mark.parametrize("sparsity", ["topk", "l1"])
def test_sae_restores_a_planted_feature(sparsity: str) -> None:
    original, labels = planted(60, seed=0)
    params = SAEParams(latents=16, sparsity=sparsity, k=2, l1=1e-3, steps=400, batch_size=90)  # type: ignore[arg-type]
    sae = train_sae(original, params)
    assert explained_variance(sae, original) > 0.9
    codes = sae.encode(original)
    experts = expert_features(codes, labels, target=0, count=1)
    # the selected latent is the planted class-0 feature: it fires on class 0's
    # activations far more than on the others' (L1 leaves some spill-over)
    fires = codes[:, experts[0]].detach().numpy()
    assert fires[labels == 0].mean() > 3 * fires[labels != 0].mean() + 1e-6
    # "unlearning" zeroes the direction: class 0 is no longer read
    unlearned = original.clone()
    unlearned[:, 0] = 0.0
    forget = labels == 0
    assert (readout(original)[forget] == 0).mean() == 1.0
    assert (readout(unlearned)[forget] == 0).mean() < 0.5
    # steering the expert back brings class 0 back
    steered = restore_expert_features(sae, unlearned[forget], original[forget], experts, 1.0)
    assert (readout(steered) == 0).mean() > 0.9
    # with no expert, steering is the identity
    same = restore_expert_features(sae, unlearned[forget], original[forget], [], 1.0)
    assert torch.equal(same, unlearned[forget])


def test_steering_cannot_restore_a_deleted_readout() -> None:
    # deletion: the unlearned downstream no longer reads direction 0 at all (as a model
    # retrained without class 0), so putting the feature back brings nothing: rate 0.
    original, labels = planted(30, seed=1)
    sae = train_sae(original, SAEParams(latents=16, k=2, steps=400, batch_size=90))
    experts = expert_features(sae.encode(original), labels, target=0, count=1)
    forget = labels == 0
    unlearned = original.clone()
    unlearned[:, 0] = 0.0
    steered = restore_expert_features(sae, unlearned[forget], original[forget], experts, 1.0)

    def deaf(x: torch.Tensor) -> np.ndarray:
        return readout(torch.cat([torch.full((len(x), 1), -9.0), x[:, 1:]], dim=1))

    accuracy_original = float((readout(original[forget]) == 0).mean())
    accuracy_unlearned = float((deaf(unlearned[forget]) == 0).mean())
    accuracy_steered = float((deaf(steered) == 0).mean())
    assert (accuracy_original, accuracy_unlearned, accuracy_steered) == (1.0, 0.0, 0.0)
    assert restoration_rate(accuracy_original, accuracy_unlearned, accuracy_steered) == 0.0


def test_steering_a_model_towards_itself_changes_nothing() -> None:
    # unlearned == original: every gap z(h_o) - z(h_u) is 0 and the patched class token
    # is the model's own, so the steered logits are the plain ones (the hook's plumbing).
    from erase_diffusion.vision.data import labelled_images
    from erase_diffusion.vision.model import TinyViTParams, build_vit, logits_of
    from erase_diffusion.vision.restoration import steered_logits
    from erase_diffusion.vision.sae import block_output, token_activations

    model = build_vit(TinyViTParams(hidden_size=16, layers=2, heads=2, mlp_size=32), 5, 0)
    images = torch.from_numpy(labelled_images(2, "colour", seed=0).images)
    hidden = block_output(model, 0, images)
    sae = train_sae(token_activations(hidden, "all"), SAEParams(latents=8, k=2, steps=5))
    plain = logits_of(model, images)
    for patch in (False, True):
        steered = steered_logits(model, hidden, sae, 0, [0, 1, 2], 5.0, images, "all", patch)
        assert torch.allclose(steered, plain, atol=1e-5)
    # and the hook does fire: a different reference class token changes the logits (a
    # random one: LayerNorm would cancel a constant shift)
    other = hidden + torch.randn(hidden.shape, generator=torch.Generator().manual_seed(0))
    moved = steered_logits(model, other, sae, 0, [], 1.0, images, "all", True)
    assert not torch.allclose(moved, plain, atol=1e-3)
