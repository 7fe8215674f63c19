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

**Discrete attack** (``attack="discrete"``). The paper poses the inner problem over
prompts, $c' $ at most $\epsilon$ tokens away from $c$ ($\|c' - c\|_0 \le \epsilon$,
the threat model of UnlearnDiffAtk, with which it evaluates); its released code solves
the soft-token relaxation above. The discrete option keeps the prompt text: $k$ =
``attack_tokens`` vocabulary tokens $v_1 \dots v_k \in V$ put before $c$, the same loss,

$$v^\star = \arg\min_{v \in V^k} \big\|\epsilon_\theta(x_t, \tau_\phi([v; c]), t)
- \epsilon_c\big\|^2,$$

solved by coordinate search: each of the ``attack_steps`` steps takes the next
position $p$ (cyclically), ranks every token $w$ by the first-order change of the loss
when $v_p$ becomes $w$, $(E_w - E_{v_p})^\top \nabla_{E_{v_p}} L$ ($E$ the input
embedding table: the gradient with respect to the one-hot token choice, as AutoPrompt
and GCG rank swaps), evaluates the ``attack_candidates`` best-ranked tokens exactly
(``None``: the whole vocabulary, exact coordinate descent, cheap on the shapes world's
17 words) and keeps the best one if it lowers the loss (the loss never increases).
The tokens warm-start from the previous outer step's, as $\delta$ does.

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
    attack: Literal["pgd", "fast-at", "discrete"] = Field(
        default="pgd",
        description="Soft-token attack (Adam or sign steps) or discrete token search.",
    )
    attack_steps: int = Field(default=3, ge=1, le=10_000)
    attack_tokens: int = Field(
        default=3,
        ge=1,
        le=16,
        description="k adversarial prefix tokens of the discrete attack (the soft attacks use 1).",
    )
    attack_candidates: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Discrete attack: tokens tried exactly per step, best first-order first "
        "(None: every token of the vocabulary).",
    )
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


@contextmanager
def _embedding_offset(encoder: Any, offset: torch.Tensor) -> Iterator[None]:
    """While open, the encoder's input embeddings (b, L, d) read ``offset`` added: at
    zero the outputs are unchanged and the gradient with respect to ``offset`` is the
    gradient with respect to each position's input embedding."""

    def add(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return output + offset.to(output.dtype)

    handle = encoder.get_input_embeddings().register_forward_hook(add)
    try:
        yield
    finally:
        handle.remove()


def attack_tokens(
    pipe: TextToImage,
    ids: torch.Tensor,
    positions: list[int],
    vocabulary: list[int],
    draw: tuple[torch.Tensor, Any, torch.Tensor],
    params: AdvUnlearnParams,
) -> tuple[torch.Tensor, list[float]]:
    r"""The discrete inner problem: ``params.attack_steps`` coordinate steps on the
    adversarial tokens at ``positions`` of ``ids`` (b, L; the same tokens in every row),
    each choosing among ``vocabulary`` the token that minimises
    $\|\epsilon_\theta(x_t, \tau_\phi(\text{ids}), t) - \epsilon_c\|^2$ for the ``draw``
    $(x_t, t, \epsilon_c)$ (see the module doc); returns the new ids and the loss before
    each step. ``pipe``'s weights are only read."""
    import torch

    x, t, eps_concept = draw
    encoder, unet = pipe.text_encoder, pipe.unet
    table = encoder.get_input_embeddings().weight.detach()
    allowed = torch.tensor(vocabulary, dtype=torch.long)
    tried = len(vocabulary) if params.attack_candidates is None else params.attack_candidates
    tried = min(tried, len(vocabulary))
    ids = ids.clone()
    rows = ids.shape[0]
    losses = []
    for step in range(params.attack_steps):
        position = positions[step % len(positions)]
        offset = torch.zeros((*ids.shape, table.shape[1]), requires_grad=True)
        with _embedding_offset(encoder, offset):
            context = encoder(ids).last_hidden_state
        loss = torch.nn.functional.mse_loss(
            unet(x, t, encoder_hidden_states=context).sample, eps_concept
        )
        (grad,) = torch.autograd.grad(loss, [offset])
        # First-order change of the loss when the token at ``position`` becomes w; the
        # current token's own term is the same for every w, so ranking by E_w . g will do.
        change = table[allowed] @ grad[:, position].sum(0)
        candidates = allowed[change.topk(tried, largest=False).indices]
        trial = ids.repeat(tried, 1)
        trial[:, position] = candidates.repeat_interleave(rows)
        with torch.no_grad():
            context = encoder(trial).last_hidden_state
            predicted = unet(x.repeat(tried, 1, 1, 1), t, encoder_hidden_states=context).sample
            error = (predicted - eps_concept.repeat(tried, 1, 1, 1)) ** 2
            exact = error.reshape(tried, -1).mean(1)
        best = int(exact.argmin())
        if float(exact[best]) < float(loss.detach()):
            ids[:, position] = candidates[best]
        losses.append(float(loss.detach()))
    return ids, losses


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
    discrete = params.attack == "discrete"
    # The discrete attack's tokens per concept: k random words, then the latest found.
    tokens = (
        [
            [
                words[int(i)]
                for i in torch.randint(0, len(words), (params.attack_tokens,), generator=generator)
            ]
            for _ in concepts
        ]
        if discrete
        else []
    )
    positions = list(range(1, 1 + params.attack_tokens))  # after <start>: a prefix
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
        if not attacked:
            ids = edited.tokenize(prompts)
        elif discrete:
            ids = adversarial_ids(edited, prompts, [tokens[k]] * b, "prefix")
        else:
            ids = adversarial_ids(edited, prompts, [[slot]] * b, "prefix")
        if attacked and (step - params.warmup_iterations) % params.attack_every == 0:
            encoder.eval()
            draw = (x, t, eps_concept)
            if discrete:
                ids, _ = attack_tokens(edited, ids, positions, words, draw, params)
                tokens[k] = ids[0, positions].tolist()
            else:
                deltas[k], _ = attack_embedding(edited, ids, slot, deltas[k], draw, params)
            encoder.train()
        if discrete:
            context = encoder(ids).last_hidden_state
        else:
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
