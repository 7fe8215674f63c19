"""STE: self-supervised text erasing with controllable image synthesis.

Jiang et al., *Self-Supervised Text Erasing with Controllable Image Synthesis*
(arXiv:2204.12743, ACM MM 2022). No real image is ever paired with its text-free ground
truth: the erasing network trains only on pairs made by the style-aware synthesis
function (`erase_diffusion.scene_text.world.synthesize`), whose style parameters a
policy picks (`erase_diffusion.scene_text.policy.StyleBandit`, the paper's policy
network simplified to a bandit). The policy's reward combines the paper's two: the
difficulty reward (the eraser's error on images of the style) and the realism reward,
$\\rho = \\log D / (1 - D)$, the logit of a discriminator $D$
(`erase_diffusion.scene_text.network.RealismDiscriminator`) trained alongside on
unlabelled real images (`erase_diffusion.scene_text.world.real_unlabelled_images`)
against the images the policy currently synthesises; for a discriminator that has
learnt its task, $\\rho \\approx \\log p_{real}(x) / p_{synthetic}(x)$, so the reward
pulls the styles towards the real ones. The weighting is
`erase_diffusion.scene_text.policy.combined_rewards` ($w$ = ``realism_weight``; 0 gives
the difficulty reward alone, the `ste-no-realism` ablation). The network is
coarse-to-fine (`erase_diffusion.scene_text.network.CoarseToFineEraser`). With $x$ the
input, $y$ its ground truth, $B$ the text box (1 inside), $x_c$ / $x_r$ the coarse /
refined outputs, $m$ the predicted stroke mask and $s$ the true one, the loss is

$\\mathcal{L} = w_h\\,\\lVert B(x_r - y)\\rVert_1 + w_v\\,\\lVert (1-B)(x_r - y)\\rVert_1
+ w_{ch}\\,\\lVert B(x_c - y)\\rVert_1 + w_{cv}\\,\\lVert (1-B)(x_c - y)\\rVert_1
+ w_m\\,\\mathrm{Dice}(m, s) + \\lambda\\,\\mathcal{L}_{te}$

(the reconstruction terms of EraseNet that STE trains with, as means over pixels; the
GAN, perceptual and style terms are left out), and the triplet erasure loss

$\\mathcal{L}_{te} = \\frac{d(a, p)}{d(a, p) + \\beta\\, d(a, n)^{\\gamma} + \\varepsilon}$

with anchor $a = B x_r + (1-B) x$ (the refined output pasted into the box), positive
$p = x$ (the input, whose box still holds the true background texture around the
strokes) and negative $n = B\\,\\mathrm{sg}(x_c) + (1-B) x$ (the coarse output, blurry:
gradient stopped), $d$ the mean absolute difference. It keeps the refinement from
copying the coarse stage: the refined box must differ from the coarse one, towards the
input's textures. The constants $\\lambda = 0.01$, $\\beta = 50$, $\\gamma = 2$ are those of
the authors' released training code; we could not read the equation's constants in the
paper itself. `fit_ste_uniform_style` is the same training with uniformly drawn styles
(the policy untrained), the paper's ablation of the policy. The paper's discriminator
judges text masks on real photographs; ours judges whole images, because in our world
the background texture is a style factor too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.scene_text.methods.eraser import FittedEraser

if TYPE_CHECKING:
    import numpy as np
    import torch

    from erase_diffusion.scene_text.network import CoarseToFineEraser
    from erase_diffusion.scene_text.policy import StyleBandit
    from erase_diffusion.scene_text.world import TextImages


class STEParams(MethodParams):
    """STE's knobs: the erasing network's training, its loss weights, the style policy."""

    steps: int = Field(default=300, ge=1, le=1_000_000)
    batch_size: int = Field(default=16, ge=1, le=4096)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    channels: int = Field(default=16, ge=2, le=512, description="Width of both stages.")
    hole_weight: float = Field(default=10.0, ge=0.0, description="w_h: refined, in the box.")
    valid_weight: float = Field(default=2.0, ge=0.0, description="w_v: refined, outside.")
    coarse_hole_weight: float = Field(default=8.0, ge=0.0, description="w_ch.")
    coarse_valid_weight: float = Field(default=0.8, ge=0.0, description="w_cv.")
    mask_weight: float = Field(default=1.0, ge=0.0, description="w_m: Dice of the mask.")
    triplet_weight: float = Field(default=0.01, ge=0.0, description="λ of L_te.")
    triplet_beta: float = Field(default=50.0, gt=0.0, description="β of L_te.")
    triplet_gamma: float = Field(default=2.0, gt=0.0, description="γ of L_te.")
    policy_every: int = Field(default=10, ge=1, description="Erasing steps per policy update.")
    policy_candidates: int = Field(default=8, ge=2, le=1024, description="M styles per update.")
    policy_images: int = Field(default=4, ge=1, le=1024, description="Images per candidate.")
    policy_learning_rate: float = Field(default=0.5, gt=0.0, le=100.0, description="η.")
    policy_uniform_mix: float = Field(default=0.2, ge=0.0, le=1.0, description="ε.")
    realism_weight: float = Field(
        default=1.0, ge=0.0, le=1000.0, description="w of the realism reward (0: difficulty only)."
    )
    realism_images: int = Field(
        default=400, ge=1, le=100_000, description="Unlabelled real images D learns from."
    )
    # 3 steps of 16 at 3e-3 left D at chance (loss 0.693) after the quick run's 19
    # updates; 10 of 32 at 1e-2 bring it to 0.67 (the real and synthetic styles overlap,
    # so even a perfect D is far from certain).
    discriminator_steps: int = Field(
        default=10, ge=0, le=1000, description="D's training steps per policy update."
    )
    discriminator_batch_size: int = Field(default=32, ge=1, le=4096, description="Per class.")
    discriminator_learning_rate: float = Field(default=1e-2, gt=0.0, le=1.0)
    discriminator_channels: int = Field(default=8, ge=1, le=512)
    seed: int = 0


class STENoTripletParams(STEParams):
    """STE without the triplet erasure loss (λ = 0): the paper's ablation of it."""

    triplet_weight: float = Field(default=0.0, ge=0.0, description="λ of L_te.")


class STENoRealismParams(STEParams):
    """STE with the difficulty reward alone (w = 0): the realism reward's ablation."""

    realism_weight: float = Field(
        default=0.0, ge=0.0, le=1000.0, description="w of the realism reward (0: difficulty only)."
    )


def triplet_erasure_loss(
    refined: torch.Tensor,
    coarse: torch.Tensor,
    images: torch.Tensor,
    box: torch.Tensor,
    beta: float,
    gamma: float,
    eps: float = 1e-7,
) -> torch.Tensor:
    """$\\mathcal{L}_{te} = d(a, p) / (d(a, p) + \\beta\\, d(a, n)^{\\gamma} + \\varepsilon)$,
    anchor the pasted refined output, positive the input, negative the pasted coarse
    output (no gradient); $d$ the mean absolute difference over the batch."""
    anchor = box * refined + (1 - box) * images
    negative = box * coarse.detach() + (1 - box) * images
    to_positive = (anchor - images).abs().mean()
    to_negative = (anchor - negative).abs().mean().clamp_min(eps)
    return to_positive / (to_positive + beta * to_negative**gamma + eps)


def dice_loss(mask_logits: torch.Tensor, strokes: torch.Tensor) -> torch.Tensor:
    """$1 - 2\\sum pq / (\\sum p^2 + \\sum q^2)$ per image, averaged;
    $p = \\sigma(\\text{logits})$, $q$ the true strokes."""
    p = mask_logits.sigmoid().flatten(1)
    q = strokes.flatten(1)
    overlap = (p * q).sum(1)
    return (1 - 2 * overlap / ((p * p).sum(1) + (q * q).sum(1) + 1e-3)).mean()


def ste_loss(
    network: CoarseToFineEraser,
    images: torch.Tensor,
    clean: torch.Tensor,
    alpha: torch.Tensor,
    box: torch.Tensor,
    params: STEParams,
) -> torch.Tensor:
    """The full loss $\\mathcal{L}$ of the module docstring on one batch."""
    coarse, refined, mask_logits = network(images)
    outside = 1 - box
    loss = (
        params.hole_weight * (box * (refined - clean)).abs().mean()
        + params.valid_weight * (outside * (refined - clean)).abs().mean()
        + params.coarse_hole_weight * (box * (coarse - clean)).abs().mean()
        + params.coarse_valid_weight * (outside * (coarse - clean)).abs().mean()
        + params.mask_weight * dice_loss(mask_logits, (alpha > 0.5).float())
    )
    if params.triplet_weight > 0:
        loss = loss + params.triplet_weight * triplet_erasure_loss(
            refined, coarse, images, box, params.triplet_beta, params.triplet_gamma
        )
    return loss


def difficulty_rewards(
    network: CoarseToFineEraser, batch: TextImages, candidates: int
) -> np.ndarray:
    """The difficulty reward of each candidate style: the mean absolute error in the box
    of the refined output against the ground truth, on its images of ``batch`` (the
    candidates' images one after another, the same number each)."""
    import numpy as np
    import torch

    with torch.no_grad():
        _, refined, _ = network(torch.from_numpy(batch.images))
    error = (torch.from_numpy(batch.box) * (refined - torch.from_numpy(batch.clean))).abs()
    per_image = error.flatten(1).mean(1).numpy()
    return np.asarray(per_image.reshape(candidates, -1).mean(1))


def realism_rewards(
    discriminator: torch.nn.Module, images: np.ndarray, candidates: int
) -> np.ndarray:
    """The realism reward of each candidate style: the discriminator's mean logit
    ($\\log D / (1 - D)$, D the probability of "real") over its images."""
    import numpy as np
    import torch

    with torch.no_grad():
        logits = discriminator(torch.from_numpy(np.ascontiguousarray(images, np.float32)))
    return np.asarray(logits.numpy().reshape(candidates, -1).mean(1), dtype=float)


def policy_step(
    policy: StyleBandit,
    network: CoarseToFineEraser,
    discriminator: torch.nn.Module | None,
    params: STEParams,
    rng: np.random.Generator,
) -> None:
    """One policy update: ``policy_candidates`` styles drawn uniformly, each scored on
    ``policy_images`` fresh images by difficulty and (with a discriminator) realism,
    combined by `combined_rewards` with ``realism_weight``."""
    from erase_diffusion.scene_text.policy import combined_rewards
    from erase_diffusion.scene_text.world import sample_styles, synthesize

    candidates = sample_styles(params.policy_candidates, None, rng)
    batch = synthesize([s for s in candidates for _ in range(params.policy_images)], rng)
    difficulty = difficulty_rewards(network, batch, len(candidates))
    realism = (
        None
        if discriminator is None
        else realism_rewards(discriminator, batch.images, len(candidates))
    )
    policy.update(candidates, combined_rewards(difficulty, realism, params.realism_weight))


def _train(params: STEParams, policy: StyleBandit | None) -> FittedEraser:
    import numpy as np
    import torch

    from erase_diffusion.scene_text.network import (
        CoarseToFineEraser,
        RealismDiscriminator,
        discriminator_step,
    )
    from erase_diffusion.scene_text.world import (
        real_unlabelled_images,
        sample_styles,
        synthesize,
    )

    tick = time.process_time()
    torch.manual_seed(params.seed)
    rng = np.random.default_rng([params.seed, 15485863])
    network = CoarseToFineEraser(params.channels)
    optimiser = torch.optim.Adam(network.parameters(), lr=params.learning_rate)
    # Created after the eraser (same initial weights with and without it); the real
    # pool has its own seed stream, so w = 0 trains exactly as before the reward existed.
    discriminator = None
    if policy is not None and params.realism_weight > 0:
        discriminator = RealismDiscriminator(params.discriminator_channels).eval()
        d_optimiser = torch.optim.Adam(
            discriminator.parameters(), lr=params.discriminator_learning_rate
        )
        real_pool = real_unlabelled_images(params.realism_images, params.seed)
    losses, d_losses = [], []
    for step in range(params.steps):
        if policy is not None and step > 0 and step % params.policy_every == 0:
            network.eval()
            if discriminator is not None:
                half = params.discriminator_batch_size
                for _ in range(params.discriminator_steps):
                    real = real_pool[rng.integers(0, len(real_pool), half)]
                    synthetic = synthesize(policy.sample(half, rng), rng).images
                    d_losses.append(discriminator_step(discriminator, d_optimiser, real, synthetic))
            policy_step(policy, network, discriminator, params, rng)
            network.train()
        styles = (
            policy.sample(params.batch_size, rng)
            if policy is not None
            else sample_styles(params.batch_size, None, rng)
        )
        batch = synthesize(styles, rng)
        loss = ste_loss(
            network,
            torch.from_numpy(batch.images),
            torch.from_numpy(batch.clean),
            torch.from_numpy(batch.alpha),
            torch.from_numpy(batch.box),
            params,
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    network.eval()

    def erase(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            _, refined, _ = network(torch.from_numpy(np.ascontiguousarray(images, np.float32)))
        return np.asarray(refined.clamp(0, 1).numpy())

    return FittedEraser(
        erase=erase,
        losses=losses,
        policy_history=[] if policy is None else policy.history,
        discriminator_losses=d_losses,
        seconds=time.process_time() - tick,
    )


def fit_ste(params: STEParams) -> FittedEraser:
    """STE: the coarse-to-fine eraser trained on synthetic pairs whose styles the bandit
    policy picks (candidates for the policy are drawn uniformly, scored by difficulty)."""
    from erase_diffusion.scene_text.policy import StyleBandit

    policy = StyleBandit(params.policy_learning_rate, params.policy_uniform_mix)
    return _train(params, policy)


def fit_ste_uniform_style(params: STEParams) -> FittedEraser:
    """The same network and loss, styles drawn uniformly (no policy; its knobs unused)."""
    return _train(params, None)
