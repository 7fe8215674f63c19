r"""TRCE: two-stage malicious concept erasure (Chen et al., *TRCE: Towards Reliable
Malicious Concept Erasure in Text-to-Image Diffusion Models*, ICCV 2025,
arXiv:2503.07389).

**Stage 1, textual semantic erasure** (``stages`` ``"text"`` or ``"both"``). The
mapping target is the [EoT] embedding, which carries the whole prompt's meaning: the
cross-attention keys and values are solved in closed form so that the malicious prompt's
[EoT] rows $e^m_i$ read like those of a contextually identical safe prompt $e^s_i$ (the
prompt with the concept's word swapped for its anchor), while the preserved prompts'
rows $e^k_j$ keep their keys and values (the paper's closed form, plus UCE's ridge
$\gamma$ to keep it well posed):

$$W' = \Big(\sum_i w_i\, W e^s_i (e^m_i)^\top + \eta \sum_j W e^k_j (e^k_j)^\top
+ \gamma W\Big) \Big(\sum_i w_i\, e^m_i (e^m_i)^\top + \eta \sum_j e^k_j (e^k_j)^\top
+ \gamma I\Big)^{-1}.$$

The weights $w_i$ are per token group, as in the authors' code: the start token, the
concept's word, the first [EoT] and the later ones. Stable Diffusion pads with [EoT];
our tokenizer pads with ``<|pad|>``, whose rows (after ``<|endoftext|>``) play the role
of the later [EoT]s. By default only the [EoT] rows are mapped.

**Stage 2, denoising trajectory steering** (``"trajectory"`` or ``"both"``). Early
latents $z^m_t$ of the malicious prompts' sampling trajectories are drawn with the
original model $\epsilon_\theta$ (the first ``early_steps`` of ``ddim_steps`` DDIM
steps). Safe and unsafe directions are guidance-augmented,

$$f_{safe} = \epsilon_\theta(z^m_t, \varnothing, t) + \beta\big(\epsilon_\theta(z^m_t, c^s, t)
- \epsilon_\theta(z^m_t, \varnothing, t)\big),$$

and $f_{unsafe}$ the same with $c^m$; the trained model's prediction
$\hat\epsilon = \hat\epsilon_\theta(z^m_t, c^m, t)$ is pulled towards the safe one and
pushed from the unsafe one by a triplet margin loss, while the unconditional prediction
on the preserved prompts' trajectories $z^u_t$ (any step) is held where the stage-1
model $\epsilon_{\theta_1}$ put it:

$$L = \mathbb{E}\big[\max\big(\|\hat\epsilon - f_{safe}\|^2 - \|\hat\epsilon - f_{unsafe}\|^2
+ m\,\|f_{safe} - f_{unsafe}\|^2,\ 0\big)\big] + \alpha\,
\mathbb{E}\big\|\hat\epsilon_\theta(z^u_t, \varnothing, t) - \epsilon_{\theta_1}(z^u_t,
\varnothing, t)\big\|^2.$$

Only the "visual" layers train, as in the paper: every self-attention parameter
(``attn1``) and the cross-attention queries (``attn2.to_q``); stage 1's keys and values
stay fixed. Our margin $m$ is relative to $\|f_{safe} - f_{unsafe}\|^2$ (the paper's is
absolute) so that one default fits any model's noise scale: at $m = 1$ the hinge is
zero once $\hat\epsilon$ is at least as close to $f_{safe}$, relative to $f_{unsafe}$,
as $f_{safe}$ itself. The authors' code also applies the hinge to the unconditional
prediction; the paper's loss, followed here, does not. The paper's LLM-written prompt
sets (synonyms and templates) are the concept's prompts here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import Concept, MethodParams

from erase_diffusion.methods.cross_attention import (
    anchor_prompt,
    closed_form_edit,
    cross_attention_projections,
    preserve_rows,
    working_copy,
    write_projections,
)
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class TRCEParams(MethodParams):
    """Parameters of TRCE (stage 1: closed form; stage 2: trajectory steering)."""

    stages: Literal["both", "text", "trajectory"] = Field(
        default="both", description="'text' (stage 1), 'trajectory' (stage 2) or both."
    )
    preserve_weight: float = Field(default=1.0, gt=0.0, le=1e6, description="η.")
    ridge: float = Field(default=0.1, gt=0.0, le=1e6, description="γ: pull towards W.")
    start_weight: float = Field(default=0.0, ge=0.0, le=1e6, description="w of [SoT].")
    key_weight: float = Field(default=0.0, ge=0.0, le=1e6, description="w of the concept word.")
    first_eot_weight: float = Field(default=1.0, ge=0.0, le=1e6, description="w of [EoT].")
    later_eot_weight: float = Field(
        default=1.0, ge=0.0, le=1e6, description="w of the rows after [EoT] (padding)."
    )
    guidance: float = Field(default=2.0, ge=0.0, le=30.0, description="β of f_safe, f_unsafe.")
    margin: float = Field(default=1.0, ge=0.0, le=100.0, description="m, relative.")
    preserve_scale: float = Field(default=1.0, ge=0.0, le=1e6, description="α.")
    iterations: int = Field(default=60, ge=1, le=100_000)
    learning_rate: float = Field(default=3e-4, gt=0.0, le=1.0)
    batch_size: int = Field(default=8, ge=1, le=256)
    ddim_steps: int = Field(default=12, ge=2, le=1000, description="Steps of the trajectories.")
    early_steps: int = Field(default=3, ge=1, le=1000, description="Early steps steered.")
    trajectories: int = Field(default=2, ge=1, le=64, description="Trajectories per prompt.")
    seed: int = Field(default=0, description="Seed of the trajectories and batches.")


def token_weights(pipe: TextToImage, concept: Concept, params: TRCEParams) -> torch.Tensor:
    """Weight $w$ of every token position of every concept prompt (prompts, tokens)."""
    import torch

    ids = pipe.tokenize(list(concept.prompts))
    tokenizer = pipe.tokenizer
    word = [t for t in pipe.tokenize([concept.name])[0].tolist()]
    word = [t for t in word if t not in tokenizer.all_special_ids]
    weights = torch.zeros(ids.shape, dtype=torch.float64)
    for row, tokens in enumerate(ids.tolist()):
        end = tokens.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in tokens else None
        for j, tok in enumerate(tokens):
            if j == 0 and tok == tokenizer.bos_token_id:
                weights[row, j] = params.start_weight
            elif tok in word:
                weights[row, j] = params.key_weight
            elif end is not None and j == end:
                weights[row, j] = params.first_eot_weight
            elif end is not None and j > end:
                weights[row, j] = params.later_eot_weight
    return weights


def eot_rows(
    pipe: TextToImage, request: EraseRequest, params: TRCEParams
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Rows $\sqrt{w_i}\,e^m_i$ and $\sqrt{w_i}\,e^s_i$ (n, d) of every weighted position:
    with them the weighted sums of the closed form are plain Gram matrices."""
    import torch

    erased, targets = [], []
    for concept in request.concepts:
        prompts = list(concept.prompts)
        malicious = pipe.encode(prompts).double()
        safe = pipe.encode([anchor_prompt(p, concept) for p in prompts]).double()
        weights = token_weights(pipe, concept, params)
        keep = weights > 0
        root = weights[keep].sqrt().unsqueeze(-1)
        erased.append(root * malicious[keep])
        targets.append(root * safe[keep])
    return torch.cat(erased), torch.cat(targets)


def steering_loss(
    predicted: torch.Tensor, safe: torch.Tensor, unsafe: torch.Tensor, margin: float
) -> torch.Tensor:
    """The triplet hinge, per sample mean squared distances, averaged over the batch."""
    import torch

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) ** 2).flatten(1).mean(1)

    gap = distance(safe, unsafe)
    hinge = distance(predicted, safe) - distance(predicted, unsafe) + margin * gap
    return torch.clamp(hinge, min=0.0).mean()


def _trajectories(
    unet: Any,
    context: torch.Tensor,
    scheduler: Any,
    steps: int,
    generator: torch.Generator,
) -> list[tuple[torch.Tensor, Any]]:
    """(latents, timestep) at each of the first ``steps`` DDIM steps from fresh noise."""
    import torch

    size, channels = int(unet.config.sample_size), int(unet.config.in_channels)
    x = torch.randn((context.shape[0], channels, size, size), generator=generator)
    x = x * scheduler.init_noise_sigma
    out = []
    with torch.no_grad():
        for t in scheduler.timesteps[:steps]:
            out.append((x, t))
            eps = unet(x, t, encoder_hidden_states=context).sample
            x = scheduler.step(eps, t, x).prev_sample
    return out


def steer_trajectories(
    edited: TextToImage, original_unet: Any, request: EraseRequest, params: TRCEParams
) -> list[float]:
    """Stage 2 on ``edited`` in place; returns the loss of every iteration."""
    import torch

    if params.early_steps > params.ddim_steps:
        raise ValueError(
            f"early_steps ({params.early_steps}) must be at most ddim_steps ({params.ddim_steps})"
        )
    generator = torch.Generator().manual_seed(params.seed)
    scheduler = copy.deepcopy(edited.scheduler)
    scheduler.set_timesteps(params.ddim_steps)
    malicious_prompts = [p for c in request.concepts for p in c.prompts]
    safe_prompts = [anchor_prompt(p, c) for c in request.concepts for p in c.prompts]
    repeat = params.trajectories
    malicious = edited.encode(malicious_prompts).repeat(repeat, 1, 1)
    safe = edited.encode(safe_prompts).repeat(repeat, 1, 1)
    empty = edited.encode([""])
    # The paper caches trajectories of the original model: one pass, reused every step.
    steered = _trajectories(original_unet, malicious, scheduler, params.early_steps, generator)
    kept_prompts = list(request.preserve_prompts) or safe_prompts
    kept = edited.encode(kept_prompts)
    preserved = _trajectories(original_unet, kept, scheduler, params.ddim_steps, generator)
    reference = copy.deepcopy(edited.unet).eval().requires_grad_(False)  # θ₁ (stage 1)
    unet = edited.unet
    unet.requires_grad_(False)
    chosen = [p for n, p in unet.named_parameters() if ".attn1." in n or ".attn2.to_q." in n]
    for p in chosen:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(chosen, lr=params.learning_rate)
    losses = []
    unet.train()
    for _ in range(params.iterations):
        step = int(torch.randint(0, len(steered), (1,), generator=generator))
        latents, t = steered[step]
        picks = torch.randint(0, latents.shape[0], (params.batch_size,), generator=generator)
        z, c_m, c_s = latents[picks], malicious[picks], safe[picks]
        uncond = empty.expand(params.batch_size, -1, -1)
        with torch.no_grad():
            e_empty = original_unet(z, t, encoder_hidden_states=uncond).sample
            e_safe = original_unet(z, t, encoder_hidden_states=c_s).sample
            e_unsafe = original_unet(z, t, encoder_hidden_states=c_m).sample
            f_safe = e_empty + params.guidance * (e_safe - e_empty)
            f_unsafe = e_empty + params.guidance * (e_unsafe - e_empty)
        predicted = unet(z, t, encoder_hidden_states=c_m).sample
        loss = steering_loss(predicted, f_safe, f_unsafe, params.margin)
        if params.preserve_scale > 0:
            k = int(torch.randint(0, len(preserved), (1,), generator=generator))
            z_u, t_u = preserved[k]
            rows = torch.randint(0, z_u.shape[0], (params.batch_size,), generator=generator)
            with torch.no_grad():
                held = reference(z_u[rows], t_u, encoder_hidden_states=uncond).sample
            now = unet(z_u[rows], t_u, encoder_hidden_states=uncond).sample
            loss = loss + params.preserve_scale * torch.nn.functional.mse_loss(now, held)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    unet.eval()
    unet.requires_grad_(False)
    return losses


def erase_trce(
    pipe: TextToImage,
    request: EraseRequest,
    params: TRCEParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
    losses: list[float] | None = None,
) -> TextToImage:
    """Erase ``request.concepts`` with TRCE's stages (``params.stages``) while preserving
    ``request.preserve_prompts``; a copy unless ``in_place``.

    Pass a list as ``losses`` to receive stage 2's loss per iteration.
    """
    params = method_params(TRCEParams, params, "trce")
    layers = cross_attention_projections(pipe.unet)
    originals = [layer.weight.detach().clone() for _, layer in layers]
    original_unet = copy.deepcopy(pipe.unet).eval().requires_grad_(False)
    edited = working_copy(pipe, in_place)
    if params.stages in ("both", "text"):
        erased, targets = eot_rows(edited, request, params)
        if erased.shape[0] == 0:
            raise ValueError(
                "every token weight of stage 1 is 0: set first_eot_weight, later_eot_weight, "
                "key_weight or start_weight above 0, or use stages='trajectory'"
            )
        preserve = preserve_rows(edited, request.preserve_prompts)
        edit = closed_form_edit(erased, targets, preserve, params.preserve_weight, params.ridge)
        write_projections(edited.unet, edit.apply(originals))
    if params.stages in ("both", "trajectory"):
        found = steer_trajectories(edited, original_unet, request, params)
        if losses is not None:
            losses.extend(found)
    return edited
