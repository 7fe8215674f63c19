r"""RealEra, both stages (Liu et al., *RealEra: Semantic-level Concept Erasure via
Neighbor-Concept Mining*, arXiv:2410.09140): the closed-form cross-attention edit of
`erase_diffusion.methods.realera` first, then LoRA modules on the UNet's cross-attention
trained for *prediction-noise alignment*.

Stage 1 mines the neighbour prompts $n$ (the concept's prompt embeddings $e$ with the
rows from the concept's token on moved by at most $\rho_n\|e\|$) and the beyond-concept
prompts $b$ (moved by $\rho_n\|e\| < \|\delta\| \le \rho_b\|e\|$), and solves the
cross-attention keys and values in closed form (`erase_realera`). Stage 2 adds rank-$r$
adapters $W + \tfrac{\alpha}{r} BA$ (peft ``LoraConfig``, $B = 0$ at the start, so
training starts from stage 1's model) to the cross-attention projections named by
``lora_modules`` and trains only $A, B$ on

$$L = \mathbb{E}_{n, t, x_t} \big\|\epsilon_{\theta'}(x_t, n, t) -
\epsilon_{\theta}(x_t, n^*, t)\big\|^2 + \mu\, \mathbb{E}_{b, t, x_t}
\big\|\epsilon_{\theta'}(x_t, b, t) - \epsilon_{\theta}(x_t, b, t)\big\|^2$$

with $\theta$ the original (unedited) UNet, $\theta'$ the edited one with its adapters,
$n^*$ the anchor prompt's embedding paired with $n$ (the concept's own prompts are
neighbours at radius 0), and $\mu$ the beyond weight of stage 1. As in ESD
(`erase_diffusion.methods.esd`; same loop shape: only the loss and the trained weights
differ), $x_t$ is drawn by partially denoising pure noise with the model being trained,
conditioned on the same prompt embeddings. The adapters are merged into the weights at
the end, so the returned pipeline has plain layers.

Which projections carry the adapters: the paper's text that we could read says "the
LoRA module" without listing layers; the default (the keys and values of every
cross-attention layer, the matrices stage 1 edits, as MACE's LoRA stage does) is our
reading, ``lora_modules`` adds the queries and the output projection.

peft is an optional dependency (``erase-diffusion[vision]``), imported here only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from erase_diffusion.methods._denoiser import sample_until, sampling_scheduler
from erase_diffusion.methods.cross_attention import cross_attention_projections, working_copy
from erase_diffusion.methods.realera import MinedRows, RealEraParams, erase_realera, mine_rows
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch

CrossAttentionProjection = Literal["to_q", "to_k", "to_v", "to_out.0"]


def _keys_and_values() -> list[CrossAttentionProjection]:
    return ["to_k", "to_v"]


class RealEraLoRAParams(RealEraParams):
    """Parameters of RealEra's two stages: the closed form's, then the LoRA stage's."""

    closed_form: bool = Field(
        default=True, description="Run stage 1 (the closed form) before the LoRA stage."
    )
    lora_modules: list[CrossAttentionProjection] = Field(
        default_factory=_keys_and_values,
        min_length=1,
        description="Cross-attention (attn2) projections that get adapters.",
    )
    lora_rank: int = Field(default=4, ge=1, le=256, description="r: rank of each adapter.")
    lora_alpha: int = Field(default=4, ge=1, le=10_000, description="α: adapters scaled by α/r.")
    iterations: int = Field(default=50, ge=0, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(
        default=4, ge=1, le=256, description="Neighbour prompts (and as many beyond) a step."
    )
    ddim_steps: int = Field(default=6, ge=2, le=1000, description="Steps of the x_t sampler.")


def add_lora(unet: Any, params: RealEraLoRAParams) -> Any:
    """Wrap ``unet`` (in place) with peft adapters on the ``params.lora_modules`` of its
    cross-attention layers; returns the peft model. Only the adapters require grad."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RealEra's LoRA stage needs peft: pip install 'erase-diffusion[vision]'"
        ) from error

    names = "|".join(m.replace(".", r"\.") for m in params.lora_modules)
    config = LoraConfig(
        r=params.lora_rank,
        lora_alpha=params.lora_alpha,
        lora_dropout=0.0,
        target_modules=rf".*\.attn2\.({names})",
    )
    return get_peft_model(unet, config)


def alignment_loss(
    predicted: torch.Tensor, target: torch.Tensor, neighbours: int, beyond_weight: float
) -> torch.Tensor:
    r"""$\|\epsilon' - \epsilon\|^2$ averaged over the first ``neighbours`` samples plus
    $\mu$ times the same average over the rest (the beyond prompts; none: no term)."""
    import torch

    loss = torch.nn.functional.mse_loss(predicted[:neighbours], target[:neighbours])
    if predicted.shape[0] > neighbours:
        beyond = torch.nn.functional.mse_loss(predicted[neighbours:], target[neighbours:])
        loss = loss + beyond_weight * beyond
    return loss


def train_noise_alignment(
    unet: Any, original: Any, scheduler: Any, rows: MinedRows, params: RealEraLoRAParams
) -> list[float]:
    """Train the adapters of ``unet`` (already wrapped by `add_lora`) on RealEra's
    alignment loss against the frozen ``original``; returns the loss of every step."""
    import torch

    if rows.erased_prompts is None or rows.anchor_prompts is None:
        raise ValueError(
            "the LoRA stage trains on whole prompt embeddings: pass the MinedRows that "
            "erase_diffusion.methods.realera.mine_rows returns (erased_prompts and "
            "anchor_prompts set), got rows without them"
        )
    erased, anchors = rows.erased_prompts, rows.anchor_prompts
    beyond = rows.beyond_prompts if rows.beyond_prompts is not None else erased[:0]
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=params.learning_rate)
    sampler = sampling_scheduler(scheduler, params.ddim_steps)
    generator = torch.Generator().manual_seed(params.seed)
    size, channels = int(unet.config.sample_size), int(unet.config.in_channels)
    losses: list[float] = []
    unet.train()
    # Same loop as esd.py: draw prompts, a stop step and x_t; only the targets differ.
    for _ in range(params.iterations):
        picks = torch.randint(0, erased.shape[0], (params.batch_size,), generator=generator)
        context, teacher = erased[picks], anchors[picks]
        if beyond.shape[0]:
            far = torch.randint(0, beyond.shape[0], (params.batch_size,), generator=generator)
            context = torch.cat([context, beyond[far]])
            teacher = torch.cat([teacher, beyond[far]])
        stop = int(torch.randint(0, params.ddim_steps, (1,), generator=generator))
        x = torch.randn((context.shape[0], channels, size, size), generator=generator)
        x = sample_until(unet, sampler, context, x, stop)
        t = sampler.timesteps[stop]
        with torch.no_grad():
            target = original(x, t, encoder_hidden_states=teacher).sample
        predicted = unet(x, t, encoder_hidden_states=context).sample
        loss = alignment_loss(predicted, target, params.batch_size, params.beyond_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    unet.eval()
    return losses


def erase_realera_lora(
    pipe: TextToImage,
    request: EraseRequest,
    params: RealEraLoRAParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
    losses: list[float] | None = None,
) -> TextToImage:
    """Erase ``request.concepts`` with RealEra's two stages (closed form, then LoRA
    noise alignment, adapters merged); a copy unless ``in_place``.

    ``request.preserve_prompts`` enter the closed form only (the LoRA loss keeps the
    beyond prompts, as the paper's). Pass a list as ``losses`` to receive the LoRA
    stage's loss at every step.
    """
    params = method_params(RealEraLoRAParams, params, "realera")
    cross_attention_projections(pipe.unet)  # no cross-attention: raise before any copy
    original = copy.deepcopy(pipe.unet).eval().requires_grad_(False)
    mined: list[MinedRows] = []
    if params.closed_form:
        edited = erase_realera(pipe, request, params, in_place=in_place, mined=mined)
    else:
        edited = working_copy(pipe, in_place)
        mined.append(mine_rows(edited, request, params))
    wrapped = add_lora(edited.unet, params)
    trace = train_noise_alignment(edited.unet, original, edited.scheduler, mined[0], params)
    if losses is not None:
        losses.extend(trace)
    edited.unet = wrapped.merge_and_unload().requires_grad_(False)
    return edited
