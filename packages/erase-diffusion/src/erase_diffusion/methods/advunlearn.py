r"""AdvUnlearn: defensive unlearning with adversarial training (Zhang et al., *Defensive
Unlearning with Adversarial Training for Robust Concept Erasure in Diffusion Models*,
arXiv:2405.15234).

Bi-level: only the text encoder $\phi$ trains (the UNet $\theta$ stays frozen, so the
robust encoder plugs into another pipeline that reads the same text embeddings), and
each outer step erases the concept under the prompt an inner attack found against the
current encoder.

**Inner (attack).** An adversarial soft token $\delta \in \mathbb R^d$ is put in front
of the concept prompt $c$ (the paper's ``prefix_k`` word-embedding attack with $k = 1$)
and optimised so that the *current* model regenerates the concept,

$$\delta^\star = \arg\min_\delta \big\|\epsilon_\theta(x_t, \tau_\phi([\delta; c]), t)
- \epsilon_\theta(x_t, \tau_{\phi_0}(c), t)\big\|^2,$$

with $x_t$ drawn by partially denoising pure noise under the original conditioning
$\tau_{\phi_0}(c)$, $\tau_{\phi_0}$ the frozen original encoder. ``attack_steps`` Adam
steps (``"pgd"``) or sign-gradient steps (``"fast-at"``, the paper's fast variant); the
search warm-starts from the previous $\delta$ (``attack_init: latest``) and starts
from a random vocabulary word's embedding.

**Outer (unlearning).** ESD's negative-guidance loss read through the adversarial
prompt, plus the utility-retaining regulariser on retain prompts $c_r$ (the request's
preserve prompts):

$$\min_\phi\; \big\|\epsilon_\theta(x_t, \tau_\phi([\delta^\star; c]), t)
- [\epsilon_\varnothing - \eta(\epsilon_c - \epsilon_\varnothing)]\big\|^2
+ \gamma\, \big\|\epsilon_\theta(x^r_t, \tau_\phi(c_r), t)
- \epsilon_\theta(x^r_t, \tau_{\phi_0}(c_r), t)\big\|^2,$$

$\epsilon_\varnothing = \epsilon_\theta(x_t, \tau_{\phi_0}(\varnothing), t)$,
$\epsilon_c = \epsilon_\theta(x_t, \tau_{\phi_0}(c), t)$. The first
``warmup_iterations`` use the plain prompt (no attack), as in the paper's code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.attacks.conditioning import token_embedding_replaced
from erase_diffusion.attacks.prompt_search import adversarial_ids
from erase_diffusion.methods.cross_attention import working_copy
from erase_diffusion.methods.hirm import early_layer_parameters
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class AdvUnlearnParams(MethodParams):
    """Parameters of AdvUnlearn."""

    iterations: int = Field(default=40, ge=1, le=100_000, description="Outer steps.")
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0, description="Text encoder's.")
    negative_guidance: float = Field(default=1.0, gt=0.0, le=20.0, description="η.")
    retain_weight: float = Field(
        default=10.0,
        ge=0.0,
        le=1e6,
        description="γ (at 1 the shapes world loses a third of its crosses; 10 keeps them).",
    )
    retain_batch: int = Field(default=4, ge=1, le=256)
    batch_size: int = Field(default=4, ge=1, le=256, description="Concept prompts per step.")
    ddim_steps: int = Field(default=10, ge=2, le=1000, description="Steps of the x_t sampler.")
    warmup_iterations: int = Field(default=10, ge=0, le=100_000)
    attack: Literal["pgd", "fast-at"] = Field(default="pgd")
    attack_steps: int = Field(default=3, ge=1, le=10_000)
    attack_learning_rate: float = Field(default=1e-2, gt=0.0, le=10.0)
    attack_every: int = Field(
        default=1, ge=1, le=100_000, description="Outer steps between adversarial updates."
    )
    layers: list[int] | None = Field(
        default=None, description="Text-encoder layers that train (None: the whole encoder)."
    )
    seed: int = Field(default=0, description="Seed of every draw.")


def esd_target(
    eps_empty: torch.Tensor, eps_concept: torch.Tensor, negative_guidance: float
) -> torch.Tensor:
    r"""$\epsilon_\varnothing - \eta(\epsilon_c - \epsilon_\varnothing)$."""
    return eps_empty - negative_guidance * (eps_concept - eps_empty)


def adversarial_step(delta: torch.Tensor, grad: torch.Tensor, optimizer: Any, attack: str) -> None:
    """One inner step: Adam on the gradient (``pgd``) or on its sign (``fast-at``)."""
    delta.grad = grad.sign() if attack == "fast-at" else grad
    optimizer.step()


def attack_embedding(
    pipe: TextToImage,
    ids: torch.Tensor,
    slot: int,
    start: torch.Tensor,
    draw: tuple[torch.Tensor, Any, torch.Tensor],
    params: AdvUnlearnParams,
) -> tuple[torch.Tensor, list[float]]:
    r"""The inner problem: from ``start``, ``params.attack_steps`` steps on the soft token
    $\delta$ read at the ``slot`` positions of ``ids``, minimising
    $\|\epsilon_\theta(x_t, \tau_\phi([\delta; c]), t) - \epsilon_c\|^2$ for the
    ``draw`` $(x_t, t, \epsilon_c)$; returns $\delta$ and the loss before each step.
    ``pipe``'s weights are only read."""
    import torch

    x, t, eps_concept = draw
    delta = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([delta], lr=params.attack_learning_rate)
    losses = []
    for _ in range(params.attack_steps):
        with token_embedding_replaced(pipe.text_encoder, slot, delta):
            context = pipe.text_encoder(ids).last_hidden_state
        predicted = pipe.unet(x, t, encoder_hidden_states=context).sample
        loss = torch.nn.functional.mse_loss(predicted, eps_concept)
        (grad,) = torch.autograd.grad(loss, [delta])
        adversarial_step(delta, grad, optimizer, params.attack)
        losses.append(float(loss.detach()))
    return delta.detach(), losses


def _partial_sample(
    unet: Any, scheduler: Any, context: torch.Tensor, stop: int, generator: torch.Generator
) -> torch.Tensor:
    import torch

    size = int(unet.config.sample_size)
    channels = int(unet.config.in_channels)
    x = torch.randn((context.shape[0], channels, size, size), generator=generator)
    with torch.no_grad():
        for t in scheduler.timesteps[:stop]:
            x = scheduler.step(unet(x, t, encoder_hidden_states=context).sample, t, x).prev_sample
    return x


def erase_advunlearn(
    pipe: TextToImage,
    request: EraseRequest,
    params: AdvUnlearnParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` by adversarial training of the text encoder, holding
    ``request.preserve_prompts`` with the utility-retaining term; returns a copy unless
    ``in_place``. Only the text encoder changes."""
    import torch

    params = method_params(AdvUnlearnParams, params, "advunlearn")
    edited = working_copy(pipe, in_place)
    encoder = edited.text_encoder
    frozen = copy.deepcopy(encoder).eval().requires_grad_(False)
    unet = edited.unet.eval().requires_grad_(False)
    if params.layers is None:
        chosen = list(encoder.parameters())
    else:
        chosen = early_layer_parameters(encoder, params.layers)
    encoder.requires_grad_(False)
    for p in chosen:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(chosen, lr=params.learning_rate)
    scheduler = copy.deepcopy(edited.scheduler)
    scheduler.set_timesteps(params.ddim_steps)
    generator = torch.Generator().manual_seed(params.seed)
    slot = int(edited.tokenizer.unk_token_id)  # the adversarial token's placeholder id
    table = encoder.get_input_embeddings().weight
    special = set(edited.tokenizer.all_special_ids)
    words = [i for i in range(table.shape[0]) if i not in special]

    def original(prompts: list[str]) -> torch.Tensor:
        with torch.no_grad():
            return frozen(edited.tokenize(prompts)).last_hidden_state

    concepts = list(request.concepts)
    retain = list(request.preserve_prompts)
    empty = original([""])
    start = [words[int(torch.randint(0, len(words), (1,), generator=generator))] for _ in concepts]
    deltas = [table[i].detach().clone() for i in start]
    b = params.batch_size
    encoder.train()
    # Same partial-denoising x_t and negative-guidance target as esd.py; the trained
    # module (text encoder), the adversarial prompt and the retain term differ.
    for step in range(params.iterations):
        k = step % len(concepts)
        concept = concepts[k]
        picks = torch.randint(0, len(concept.prompts), (b,), generator=generator).tolist()
        prompts = [concept.prompts[i] for i in picks]
        context_original = original(prompts)
        stop = int(torch.randint(0, params.ddim_steps, (1,), generator=generator))
        x = _partial_sample(unet, scheduler, context_original, stop, generator)
        t = scheduler.timesteps[stop]
        with torch.no_grad():
            eps_concept = unet(x, t, encoder_hidden_states=context_original).sample
            eps_empty = unet(x, t, encoder_hidden_states=empty.expand(b, -1, -1)).sample
        attacked = step >= params.warmup_iterations
        ids = (
            adversarial_ids(edited, prompts, [[slot]] * b, "prefix")
            if attacked
            else edited.tokenize(prompts)
        )
        if attacked and (step - params.warmup_iterations) % params.attack_every == 0:
            encoder.eval()
            deltas[k], _ = attack_embedding(
                edited, ids, slot, deltas[k], (x, t, eps_concept), params
            )
            encoder.train()
        with token_embedding_replaced(encoder, slot, deltas[k]):
            context = encoder(ids).last_hidden_state
        predicted = unet(x, t, encoder_hidden_states=context).sample
        loss = torch.nn.functional.mse_loss(
            predicted, esd_target(eps_empty, eps_concept, params.negative_guidance)
        )
        if retain and params.retain_weight > 0:
            chosen_retain = torch.randint(
                0, len(retain), (params.retain_batch,), generator=generator
            )
            retain_prompts = [retain[i] for i in chosen_retain.tolist()]
            retain_original = original(retain_prompts)
            x_retain = _partial_sample(unet, scheduler, retain_original, stop, generator)
            with torch.no_grad():
                eps_retain = unet(x_retain, t, encoder_hidden_states=retain_original).sample
            retain_context = encoder(edited.tokenize(retain_prompts)).last_hidden_state
            kept = unet(x_retain, t, encoder_hidden_states=retain_context).sample
            loss = loss + params.retain_weight * torch.nn.functional.mse_loss(kept, eps_retain)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    encoder.eval()
    encoder.requires_grad_(False)
    return edited
