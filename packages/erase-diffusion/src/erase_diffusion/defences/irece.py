r"""IRECE: inference-time robustness for an erased pipeline (M-ErasureBench's defence).

*M-ErasureBench* (Concept Erasure beyond text prompts) proposes IRECE, a plug-and-play
module that, while the erased model denoises, localises the erased concept through
cross-attention read with the *un-erased* model's weights and perturbs the latents
where the concept sits. No weight of the erased model changes. The abstract gives the
two parts but not their formulas; this module writes them out as follows.

**Localise.** Let $c$ be the concept token's output of the un-erased text encoder
(averaged over the concept's prompts) and, in every cross-attention layer $l$,
$k_c^l = W_K^{l,\mathrm{orig}} c$ its key under the un-erased key projection. With the
running model's queries $q_p^{l,h}$ (position $p$, head $h$) and the keys
$k_j^{l,h}$ of the prompt being sampled, the concept's share of position $p$'s
attention, the concept key appended to the prompt's,

$$a^l_p = \frac{1}{H}\sum_h
\frac{\exp(q_p^{l,h}\cdot k_c^{l,h}/\sqrt{d})}
{\exp(q_p^{l,h}\cdot k_c^{l,h}/\sqrt{d}) + \sum_j \exp(q_p^{l,h}\cdot k_j^{l,h}/\sqrt{d})},$$

is averaged over layers (each upsampled bilinearly to the latent's size) into
$a_p \in (0, 1)$. The mask is $M_p = 1[a_p \ge \tau]$: a position whose features
match the concept (as the un-erased model knows it) more than the threshold
$\tau$ allows. Reading the un-erased *keys* on the running model's queries costs one
extra key per layer; a second, un-erased UNet pass would double the cost of sampling.

**Perturb.** After each of the first $\lceil f K\rceil$ of the $K$ DDIM steps
(the steps that lay out where things are), the new latent is
$x_{t'} \leftarrow x_{t'} + s\,\sqrt{1-\bar\alpha_{t'}}\; M \odot \xi$,
$\xi \sim \mathcal N(0, I)$ drawn from the defence's seed: fresh noise of strength
$s$ relative to the step's own noise level, only where the concept was found, so
the erased model redraws those positions from its (erased) conditional. Attacks that
plant the concept in the starting noise (inverted latents) or in a learned embedding
lose what they planted there; an image without the concept has an empty mask.

Plug-and-play: `defend_irece` returns a pipeline whose UNet holds the localising
attention processors and whose scheduler applies the perturbation in ``step``, so
every sampler of the package (`TextToImage.generate`, the attacks' DDIM loops) runs
the defence without knowing of it, on any erased pipeline.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import Concept, MethodParams

from erase_diffusion.methods._sampling import ByHandProcessor, attention_output, heads
from erase_diffusion.methods.request import EraseRequest, method_params

if TYPE_CHECKING:
    import torch

    from erase_diffusion.pipeline import TextToImage


class IRECEParams(MethodParams):
    """Parameters of the IRECE defence."""

    threshold: float = Field(
        default=0.15,
        gt=0.0,
        lt=1.0,
        description="Mask: positions whose concept attention share is at least this.",
    )
    strength: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        description="Noise added in the mask, relative to the step's noise level.",
    )
    perturb_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Share of the first DDIM steps perturbed."
    )
    seed: int = Field(default=0, description="Seed of the perturbation noise.")


class _Shared:
    """State the processors write and the scheduler reads (one object, never copied)."""

    def __init__(self, params: IRECEParams) -> None:
        self.params = params
        self.maps: dict[str, torch.Tensor] = {}  # layer -> (batch, positions) concept share
        self.masks: list[torch.Tensor] = []  # the masks applied, when recording
        self.record = False
        self.active = False  # the scheduler perturbs after the running step
        self.generator: torch.Generator | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        # The sampler deep-copies the scheduler; its copy must read the same maps.
        return self


def concept_share(
    query: torch.Tensor, keys: torch.Tensor, concept_key: torch.Tensor, heads: int
) -> torch.Tensor:
    """$a_p$ of one layer: the concept key's softmax share of each position's attention.

    ``query`` (b, positions, inner), ``keys`` (b, tokens, inner), ``concept_key`` (inner,);
    returns (b, positions), averaged over ``heads``.
    """
    import torch

    b, positions, inner = query.shape
    d = inner // heads
    q = query.reshape(b, positions, heads, d).transpose(1, 2)  # b h p d
    k = keys.reshape(b, -1, heads, d).transpose(1, 2)  # b h j d
    kc = concept_key.reshape(heads, d)
    prompt_scores = q @ k.transpose(-1, -2) / math.sqrt(d)  # b h p j
    concept_scores = torch.einsum("bhpd,hd->bhp", q, kc) / math.sqrt(d)
    every = torch.cat([prompt_scores, concept_scores.unsqueeze(-1)], dim=-1)
    return every.softmax(-1)[..., -1].mean(1)


class _LocalisingProcessor(ByHandProcessor):
    """Cross-attention that also writes the concept share of each position to ``shared``.

    While the scheduler will perturb after this step (``shared.active``) it computes the
    attention itself, so that the queries and keys serve both the output and the share;
    otherwise it is the layer's own processor, untouched.
    """

    def __init__(self, inner: Any, name: str, concept_key: torch.Tensor, shared: _Shared) -> None:
        super().__init__(inner, name)
        self.concept_key = concept_key
        self.shared = shared

    def by_hand_now(self) -> bool:
        return self.shared.active

    def by_hand(
        self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        import torch

        query, key, value, split = heads(attn, hidden_states, encoder_hidden_states)
        attended = torch.nn.functional.scaled_dot_product_attention(
            split(query), split(key), split(value)
        )
        out = attention_output(attn, attended, hidden_states, query.dtype)
        with torch.no_grad():
            self.shared.maps[self.name] = concept_share(query, key, self.concept_key, attn.heads)
        return out


def concept_mask(
    maps: dict[str, torch.Tensor], batch: int, height: int, width: int, threshold: float
) -> torch.Tensor | None:
    """$M$ (batch, 1, height, width) from the layers' shares (None when none match).

    A layer's map of ``2 * batch`` rows (guided sampling: unconditional, then
    conditional) contributes its conditional half. Each map is laid out at the
    layer's resolution, ``height / 2^k`` by ``width / 2^k``, and upsampled bilinearly.
    """
    import torch

    upsampled = []
    for share in maps.values():
        if share.shape[0] == 2 * batch:
            share = share[batch:]
        if share.shape[0] != batch:
            continue
        factor = math.sqrt(height * width / share.shape[1])
        h, w = round(height / factor), round(width / factor)
        if h * w != share.shape[1]:
            continue
        grid = share.reshape(batch, 1, h, w)
        upsampled.append(
            torch.nn.functional.interpolate(grid, size=(height, width), mode="bilinear")
        )
    if not upsampled:
        return None
    mean = torch.stack(upsampled).mean(0)
    return (mean >= threshold).to(mean.dtype)


def _scheduler_class(base: type[Any]) -> type[Any]:
    """``base`` (the pipeline's DDIM scheduler class) whose ``step`` applies IRECE."""

    class IRECEScheduler(base):
        irece: _Shared

        def set_timesteps(self, *args: Any, **kwargs: Any) -> None:
            import torch

            super().set_timesteps(*args, **kwargs)
            # Every sampling run starts here: the same noise for the same run.
            self.irece.generator = torch.Generator().manual_seed(self.irece.params.seed)
            self.irece.maps.clear()
            self._irece_steps = len(self.timesteps)
            self._irece_perturbed = math.ceil(
                self.irece.params.perturb_fraction * len(self.timesteps)
            )
            self._irece_done = 0
            self.irece.active = self.irece.params.strength > 0

        def step(
            self, model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any
        ) -> Any:
            import torch
            from diffusers.schedulers.scheduling_ddim import DDIMSchedulerOutput

            kwargs.pop("return_dict", None)
            out = super().step(model_output, timestep, sample, *args, return_dict=True, **kwargs)
            shared, params = self.irece, self.irece.params
            done, total = self._irece_done, self._irece_steps
            self._irece_done += 1
            shared.active = self._irece_done < self._irece_perturbed and params.strength > 0
            latent = out.prev_sample
            if done < self._irece_perturbed and params.strength > 0:
                b, _, h, w = latent.shape
                mask = concept_mask(shared.maps, b, h, w, params.threshold)
                if mask is not None:
                    if shared.record:
                        shared.masks.append(mask)
                    following = int(timestep) - self.config.num_train_timesteps // total
                    alpha = (
                        self.alphas_cumprod[following]
                        if following >= 0
                        else self.final_alpha_cumprod
                    )
                    noise = torch.randn(latent.shape, generator=shared.generator)
                    sigma = (1 - alpha).sqrt().to(latent.dtype)
                    latent = latent + params.strength * sigma * mask * noise.to(latent.dtype)
            shared.maps.clear()
            return DDIMSchedulerOutput(
                prev_sample=latent, pred_original_sample=out.pred_original_sample
            )

    return IRECEScheduler


@dataclass
class DefendedPipeline:
    """What `defend_irece` returns: the defended pipeline and a handle on its state."""

    pipe: TextToImage
    shared: _Shared = field(repr=False)

    def recorded_masks(self) -> list[torch.Tensor]:
        """The masks applied since `record_masks` was turned on (one per perturbed step)."""
        return list(self.shared.masks)

    def record_masks(self, on: bool = True) -> None:
        self.shared.record = on
        self.shared.masks.clear()


def concept_embedding(pipe: TextToImage, concept: Concept) -> torch.Tensor:
    """$c$: the text encoder's output at the concept's token, averaged over its prompts."""
    from erase_diffusion.attacks.conditioning import concept_token_id

    token = concept_token_id(pipe, concept.name)
    ids = pipe.tokenize(list(concept.prompts))
    hidden = pipe.encode(list(concept.prompts))
    rows = hidden[ids == token]
    if rows.shape[0] == 0:
        raise ValueError(
            f"none of the prompts of concept {concept.name!r} contains its token; give "
            "prompts that name the concept"
        )
    return rows.mean(0)


def defend_irece(
    pipe: TextToImage,
    request: EraseRequest | Concept,
    params: IRECEParams | dict[str, Any] | None = None,
    *,
    original: TextToImage | None = None,
) -> DefendedPipeline:
    """``pipe`` (an erased pipeline, not modified) with IRECE around its sampling.

    ``original`` is the un-erased pipeline whose text encoder and key projections
    localise the concept (default: ``pipe`` itself, which for an erasure that edits the
    keys localises the anchor instead; give the original). A request with several
    concepts defends the first; call again on the result for the next.
    """
    import torch

    typed = method_params(IRECEParams, params, "irece")
    concept = request.concepts[0] if isinstance(request, EraseRequest) else request
    source = original if original is not None else pipe
    with torch.no_grad():
        embedding = concept_embedding(source, concept)
    shared = _Shared(typed)
    unet = copy.deepcopy(pipe.unet)
    source_modules = dict(source.unet.named_modules())
    processors = {}
    for name, processor in unet.attn_processors.items():
        layer = name.removesuffix(".processor")
        if not layer.endswith("attn2"):
            processors[name] = processor
            continue
        with torch.no_grad():
            key = source_modules[layer].to_k(embedding.to(source_modules[layer].to_k.weight.dtype))
        processors[name] = _LocalisingProcessor(processor, layer, key, shared)
    unet.set_attn_processor(processors)
    scheduler = _scheduler_class(type(pipe.scheduler)).from_config(pipe.scheduler.config)
    scheduler.irece = shared
    defended = type(pipe)(
        unet=unet,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        scheduler=scheduler,
        vae=pipe.vae,
        guidance=pipe.guidance,
    )
    return DefendedPipeline(pipe=defended, shared=shared)
