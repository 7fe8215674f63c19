r"""DoCo: concept domain correction and concept-preserving gradient (Wu et al.,
*Unlearning Concepts in Diffusion Model via Concept Domain Correction and Concept
Preserving Gradient*, arXiv:2405.15304).

Two parts, trained together on images $x$ the original model draws for the anchor
prompts $a$ (the concept's prompts with the concept swapped for its anchor), noised to a
random training timestep, $x_t = \sqrt{\bar\alpha_t}x + \sqrt{1-\bar\alpha_t}\,\epsilon$:

*Concept domain correction.* A small discriminator $D$ learns to tell the output domain
of the anchor, the frozen original's clean-image estimate

$$\hat x_0^*(x_t, a) = \big(x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_{\theta^*}(x_t, a, t)\big)
/ \sqrt{\bar\alpha_t},$$

from the edited model's estimate for the concept's prompt $c$, $\hat x_0^\theta(x_t, c)$;
the UNet is trained to fool it (binary cross-entropy, anchor = 1, concept = 0):

$$L_D = -\log D(\hat x_0^*(x_t, a)) - \log\big(1 - D(\hat x_0^\theta(x_t, c))\big),\qquad
L_u(\theta) = -\log D(\hat x_0^\theta(x_t, c))$$

so that the concept's outputs land in the anchor's domain whatever the prompt (the
paper's answer to erasure that holds only on the training prompts).

*Concept-preserving gradient.* The retention loss is the denoising loss of the anchor
images under their own prompts (and of the request's preserve prompts' images, when it
names any), $L_r(\theta) = \|\epsilon_\theta(x_t, a, t) - \epsilon\|^2$. Where the
unlearning gradient $g_u = \nabla L_u$ conflicts with the retention gradient
$g_r = \lambda\nabla L_r$ ($g_u\cdot g_r < 0$), its conflicting part is removed
(gradient surgery, PCGrad-like):

$$g_u \leftarrow g_u - \frac{g_u\cdot g_r}{\|g_r\|^2}\,g_r, \qquad \theta \leftarrow
\mathrm{Adam}(g_u + g_r)$$

applied per parameter tensor, so that the update never works against retention in any
tensor (`preserving_surgery`). As in the paper, the discriminator warms up first (the
UNet then trains on retention only), and only the cross-attention layers train by
default.

Where we differ, on purpose: the authors' code scales the unit retention direction by
the cosine of the two gradients; we remove the exact projection (the equation above).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods._denoiser import Layers, predicted_original, prepare_training
from erase_diffusion.methods.cross_attention import anchor_prompt, working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class DoCoParams(MethodParams):
    """Parameters of DoCo."""

    iterations: int = Field(default=40, ge=1, le=100_000, description="UNet updates.")
    discriminator_warmup: int = Field(
        default=10,
        ge=0,
        le=100_000,
        description="Discriminator-only steps first (the UNet trains on retention only).",
    )
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0, description="UNet Adam rate.")
    discriminator_learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=4, ge=1, le=256)
    anchor_images: int = Field(
        default=32, ge=1, le=4096, description="Images drawn once from the anchor prompts."
    )
    retention_weight: float = Field(default=1.0, ge=0.0, le=1000.0, description="λ of L_r.")
    gradient_surgery: bool = Field(
        default=True, description="Remove the unlearning gradient's conflict with retention."
    )
    layers: Layers = Field(default="cross-attention", description="Which UNet weights train.")
    sample_steps: int = Field(
        default=12, ge=2, le=1000, description="DDIM steps drawing the anchor images."
    )
    seed: int = Field(default=0, description="Seed of the image, timestep and noise draws.")


def preserving_surgery(erase: torch.Tensor, preserve: torch.Tensor) -> torch.Tensor:
    r"""The erase gradient with its conflict with ``preserve`` removed:
    $g_u - \frac{g_u\cdot g_r}{\|g_r\|^2} g_r$ when $g_u\cdot g_r < 0$, else $g_u$
    unchanged. The result's inner product with ``preserve`` is never negative."""
    dot = (erase * preserve).sum()
    norm = (preserve * preserve).sum()
    if dot >= 0 or norm == 0:
        return erase
    return erase - (dot / norm) * preserve


def discriminator(channels: int, size: int, seed: int) -> torch.nn.Module:
    """A small conv discriminator on images (n, channels, size, size): one logit each."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    width = max(size // 4, 1)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(32 * width * width, 1),
    )


def erase_doco(
    pipe: TextToImage,
    request: EraseRequest,
    params: DoCoParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` by adversarial domain correction towards each concept's
    anchor, with the concept-preserving gradient; returns a copy unless ``in_place``.

    Each concept's anchor (``concept.anchor``) names the domain its prompts are moved to
    (no anchor: the empty prompt). ``request.preserve_prompts`` add their images to the
    retention set.
    """
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits as bce
    from torch.nn.functional import mse_loss

    params = method_params(DoCoParams, params, "doco")
    edited = working_copy(pipe, in_place)
    unet = edited.unet
    frozen, trained = prepare_training(unet, params.layers)
    weights = [p for _, p in trained]
    optimizer = torch.optim.Adam(weights, lr=params.learning_rate)
    scheduler = edited.scheduler
    generator = torch.Generator().manual_seed(params.seed)

    pairs = [(p, anchor_prompt(p, c)) for c in request.concepts for p in c.prompts]
    picks = [pairs[i % len(pairs)] for i in range(params.anchor_images)]
    concept_prompts = [p for p, _ in picks]
    anchor_prompts = [a for _, a in picks]
    anchor_images = pipe.generate(anchor_prompts, steps=params.sample_steps, seed=params.seed)
    keep_prompts = anchor_prompts + list(request.preserve_prompts)
    keep_images = anchor_images
    if request.preserve_prompts:
        kept = pipe.generate(
            list(request.preserve_prompts), steps=params.sample_steps, seed=params.seed + 1
        )
        keep_images = torch.cat([anchor_images, kept])
    concept_context = edited.encode(concept_prompts)
    anchor_context = edited.encode(anchor_prompts)
    keep_context = edited.encode(keep_prompts)

    channels, size = anchor_images.shape[1], anchor_images.shape[-1]
    critic = discriminator(channels, size, params.seed)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=params.discriminator_learning_rate)
    steps = int(scheduler.config.num_train_timesteps)

    def noised(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = torch.randint(0, steps, (images.shape[0],), generator=generator)
        noise = torch.randn(images.shape, generator=generator)
        return scheduler.add_noise(images, noise, t), noise, t

    for step in range(params.discriminator_warmup + params.iterations):
        batch = torch.randint(0, len(picks), (params.batch_size,), generator=generator)
        x_t, _, t = noised(anchor_images[batch])
        with torch.no_grad():
            eps_anchor = frozen(x_t, t, encoder_hidden_states=anchor_context[batch]).sample
            anchor_domain = predicted_original(scheduler, x_t, eps_anchor, t)
        eps_concept = unet(x_t, t, encoder_hidden_states=concept_context[batch]).sample
        concept_domain = predicted_original(scheduler, x_t, eps_concept, t)

        # L_D: the anchor's outputs are "real" (1), the edited concept's "fake" (0).
        real, fake = critic(anchor_domain), critic(concept_domain.detach())
        critic_loss = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
        critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_optimizer.step()

        # L_r: denoising loss of the kept images under their own prompts.
        keep = torch.randint(0, len(keep_prompts), (params.batch_size,), generator=generator)
        k_t, k_noise, k_time = noised(keep_images[keep])
        predicted = unet(k_t, k_time, encoder_hidden_states=keep_context[keep]).sample
        retention = params.retention_weight * mse_loss(predicted, k_noise)
        optimizer.zero_grad(set_to_none=True)
        if step < params.discriminator_warmup:
            retention.backward()
            optimizer.step()
            continue
        keep_grads = torch.autograd.grad(retention, weights, allow_unused=True)
        # L_u: the edited concept's outputs should look like the anchor's to D.
        judged = critic(concept_domain)
        unlearn = bce(judged, torch.ones_like(judged))
        erase_grads = torch.autograd.grad(unlearn, weights, allow_unused=True)
        for p, g_u, g_r in zip(weights, erase_grads, keep_grads, strict=True):
            g_u = torch.zeros_like(p) if g_u is None else g_u
            g_r = torch.zeros_like(p) if g_r is None else g_r
            if params.gradient_surgery:
                g_u = preserving_surgery(g_u, g_r)
            p.grad = g_u + g_r
        optimizer.step()
    unet.eval()
    unet.requires_grad_(False)
    return edited
