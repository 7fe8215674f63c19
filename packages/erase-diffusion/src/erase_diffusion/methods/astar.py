r"""A-STAR: test-time Attention Segregation and Retention (Agarwal et al., arXiv:2306.14544).

Not an erasure method: a sampling-time method for prompts that name several concepts
("a red circle ..."), registered beside the erasures so that a benchmark can apply it
to any pipeline, erased or not, and measure how the judge's multi-concept accuracy
moves. No weight changes; the latent is optimised during the first denoising steps.

**Maps.** In every cross-attention layer at the finest resolution that has one, the
attention probabilities of the conditional pass, averaged over heads and layers, with
the start token's column dropped and the rest renormalised, give one map
$A_i \in \mathbb{R}^{P}$ (P latent positions) per concept token $i$ of the prompt,
scaled to a maximum of 1: $\tilde A_i = A_i / \max_p A_i(p)$.

**Losses** (soft intersection over union $\mathrm{IoU}(X, Y) = \sum_p \min(X_p, Y_p) /
\sum_p \max(X_p, Y_p)$):

$$L_{seg} = \sum_{i<j} \mathrm{IoU}(\tilde A^t_i, \tilde A^t_j), \qquad
L_{ret} = \sum_i \big(1 - \mathrm{IoU}(\tilde A^t_i, B^{t+1}_i)\big),$$

segregation: two concepts' maps should not cover the same pixels; retention: each
concept keeps the region it held at the previous (noisier) step, $B^{t+1}_i =
1[\tilde A^{t+1}_i \ge \beta]$ the binarised map of that step (no retention term at the
first step). At each of the first $\lceil fK\rceil$ of the $K$ DDIM steps the latent
takes ``iterations`` gradient steps

$$z_t \leftarrow z_t - \alpha\, \nabla_{z_t} \big(L_{seg} + \lambda L_{ret}\big)$$

before the step is taken as usual. The concept tokens of a prompt are the occurrences
of ``params.words`` (default: the shapes world's shapes and colours) and of the
request's concept names.

`erase_astar` returns an `AStarPipeline`: its ``generate`` runs this sampler for
prompts; for ``prompt_embeds`` alone (no text to find the tokens in) it samples as the
plain pipeline does.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods._sampling import (
    ByHandProcessor,
    attention_output,
    finish_latents,
    heads,
    start_sampling,
)
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import Sampling, TextToImage

if TYPE_CHECKING:
    import torch

DEFAULT_WORDS: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "cross",
    "red",
    "green",
    "blue",
    "yellow",
    "purple",
)
"""The shapes world's shapes and colours: the concept tokens A-STAR looks for by default."""


class AStarParams(MethodParams):
    """Parameters of A-STAR."""

    step_size: float = Field(default=20.0, gt=0.0, le=1e5, description="α.")
    iterations: int = Field(default=1, ge=1, le=100, description="Latent updates per step.")
    optimised_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="f: share of the first steps optimised."
    )
    retention_weight: float = Field(default=1.0, ge=0.0, le=1e3, description="λ.")
    mask_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="β: binarises the previous step's map."
    )
    words: list[str] = Field(
        default_factory=lambda: list(DEFAULT_WORDS),
        description="Words whose tokens are concept tokens (plus the request's concepts).",
    )


def soft_iou(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """$\\sum \\min / \\sum \\max$ over the last axis."""
    import torch

    top = torch.minimum(first, second).sum(-1)
    return top / torch.maximum(first, second).sum(-1).clamp(min=1e-8)


def astar_loss(
    maps: torch.Tensor, previous: torch.Tensor | None, retention_weight: float
) -> torch.Tensor:
    """$L_{seg} + \\lambda L_{ret}$ of one prompt: ``maps`` (concepts, P), each scaled to
    a maximum of 1; ``previous`` the binarised maps $B$ of the step before, or None."""
    import torch

    loss = torch.zeros((), dtype=maps.dtype)
    for i in range(maps.shape[0]):
        for j in range(i + 1, maps.shape[0]):
            loss = loss + soft_iou(maps[i], maps[j])
    if previous is not None and retention_weight > 0:
        loss = loss + retention_weight * (1 - soft_iou(maps, previous)).sum()
    return loss


class _Store:
    """Attention probabilities the processors write while ``collect`` is on."""

    def __init__(self) -> None:
        self.collect = False
        self.probs: dict[str, torch.Tensor] = {}


class _RecordingProcessor(ByHandProcessor):
    """Cross-attention written out (so its probabilities keep their gradient) while
    collecting; the layer's own processor otherwise."""

    def __init__(self, inner: Any, name: str, store: _Store) -> None:
        super().__init__(inner, name)
        self.store = store

    def by_hand_now(self) -> bool:
        return self.store.collect

    def by_hand(
        self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        query, key, value, split = heads(attn, hidden_states, encoder_hidden_states)
        d = key.shape[-1] // attn.heads
        probs = (split(query) @ split(key).transpose(-1, -2) / math.sqrt(d)).softmax(-1)
        self.store.probs[self.name] = probs.mean(1)  # (b, positions, tokens)
        return attention_output(attn, probs @ split(value), hidden_states, query.dtype)


def concept_maps(probs: Mapping[str, torch.Tensor], tokens: Sequence[int]) -> torch.Tensor:
    """$\\tilde A$ (b, len(tokens), P) from the layers' probabilities (b, P, T): the layers
    of the largest P, averaged; start token dropped, renormalised; each map max-scaled."""
    import torch

    finest = max(p.shape[1] for p in probs.values())
    mean = torch.stack([p for p in probs.values() if p.shape[1] == finest]).mean(0)
    text = mean[..., 1:]
    text = text / text.sum(-1, keepdim=True)
    maps = text[..., [t - 1 for t in tokens]].transpose(1, 2)  # (b, concepts, P)
    return maps / maps.amax(-1, keepdim=True).clamp(min=1e-8)


def concept_tokens(pipe: TextToImage, prompt: str, words: Sequence[str]) -> list[int]:
    """Token positions of ``prompt`` that hold one of ``words`` (one token per word)."""
    ids = pipe.tokenize([prompt])[0].tolist()
    wanted = set()
    for word in words:
        found = [
            t for t in pipe.tokenize([word])[0].tolist() if t not in pipe.tokenizer.all_special_ids
        ]
        if len(found) == 1 and found[0] != pipe.tokenizer.unk_token_id:
            wanted.add(found[0])
    return [j for j, t in enumerate(ids) if j > 0 and t in wanted]


@dataclass
class AStarPipeline(TextToImage):
    """A pipeline whose ``generate`` runs A-STAR's latent optimisation for prompts."""

    astar: AStarParams = field(default_factory=AStarParams)
    astar_words: tuple[str, ...] = ()
    _store: _Store = field(default_factory=_Store, repr=False)

    def copy(self) -> AStarPipeline:
        plain = super().copy()
        return wrap_astar(plain, self.astar, self.astar_words)

    def generate_from_prompts(self, prompts: list[str], sampling: Sampling) -> torch.Tensor:
        """`TextToImage.generate` for ``prompts``, with A-STAR."""
        import torch

        # Same set-up as TextToImage.generate (noise from ``seed``, DDIM, guidance); the
        # A-STAR update of the latent before each of the first steps is what differs.
        guidance = self.guidance if sampling.guidance is None else sampling.guidance
        batch_size = sampling.batch_size
        embeds = self.encode(prompts)
        n = embeds.shape[0]
        scheduler, noise = start_sampling(
            self, n, sampling.steps, sampling.seed, sampling.height, sampling.width
        )
        tokens = [concept_tokens(self, p, self.astar_words) for p in prompts]
        guided = guidance != 1.0
        uncond = self.encode([""]) if guided else embeds[:0]
        optimised = math.ceil(self.astar.optimised_fraction * len(scheduler.timesteps))
        outputs = []
        for start in range(0, n, batch_size):
            cond = embeds[start : start + batch_size]
            rows = tokens[start : start + batch_size]
            b = cond.shape[0]
            context = torch.cat([uncond.expand(b, -1, -1), cond]) if guided else cond
            latents = noise[start : start + batch_size]
            previous: list[torch.Tensor | None] = [None] * b
            for index, t in enumerate(scheduler.timesteps):
                if index < optimised and any(len(r) >= 2 for r in rows):
                    latents, previous = self._astar_update(latents, t, cond, rows, previous)
                with torch.no_grad():
                    latents = self.denoise_step(scheduler, latents, t, context, guidance)
            outputs.append(finish_latents(self, latents))
        return torch.cat(outputs)

    def _astar_update(
        self,
        latents: torch.Tensor,
        t: Any,
        cond: torch.Tensor,
        rows: list[list[int]],
        previous: list[torch.Tensor | None],
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """``iterations`` gradient steps on the latent; returns it and the new masks $B$."""
        import torch

        params = self.astar
        maps_now: list[torch.Tensor | None] = list(previous)
        for _ in range(params.iterations):
            z = latents.detach().requires_grad_(True)
            self._store.collect = True
            try:
                with torch.enable_grad():
                    self.unet(z, t, encoder_hidden_states=cond)
                    loss = torch.zeros(())
                    for row, tokens in enumerate(rows):
                        if len(tokens) < 2:
                            continue
                        maps = concept_maps(self._store.probs, tokens)[row]
                        loss = loss + astar_loss(maps, previous[row], params.retention_weight)
                        maps_now[row] = (maps.detach() >= params.mask_threshold).to(maps.dtype)
                    (grad,) = torch.autograd.grad(loss, z) if loss.requires_grad else (None,)
            finally:
                self._store.collect = False
                self._store.probs.clear()
            if grad is not None:
                latents = (z - params.step_size * grad).detach()
        return latents, maps_now


def wrap_astar(pipe: TextToImage, params: AStarParams, words: Sequence[str]) -> AStarPipeline:
    """``pipe``'s parts (shared, not copied) in an `AStarPipeline` whose cross-attention
    layers can record their probabilities."""
    store = _Store()
    processors = {}
    for name, processor in pipe.unet.attn_processors.items():
        layer = name.removesuffix(".processor")
        inner = processor.inner if isinstance(processor, _RecordingProcessor) else processor
        processors[name] = (
            _RecordingProcessor(inner, layer, store) if layer.endswith("attn2") else inner
        )
    pipe.unet.set_attn_processor(processors)
    return AStarPipeline(
        unet=pipe.unet,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        scheduler=pipe.scheduler,
        vae=pipe.vae,
        guidance=pipe.guidance,
        astar=params,
        astar_words=tuple(dict.fromkeys(words)),
        _store=store,
    )


def erase_astar(
    pipe: TextToImage,
    request: EraseRequest,
    params: AStarParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> AStarPipeline:
    """``pipe`` sampling with A-STAR (segregating ``params.words`` and the request's
    concept names); its UNet is a copy unless ``in_place``. No weight changes."""
    params = method_params(AStarParams, params, "astar")
    base = (
        pipe
        if in_place
        else TextToImage(
            unet=copy.deepcopy(pipe.unet),
            text_encoder=pipe.text_encoder,
            tokenizer=pipe.tokenizer,
            scheduler=pipe.scheduler,
            vae=pipe.vae,
            guidance=pipe.guidance,
        )
    )
    words = [*params.words, *(c.name for c in request.concepts)]
    return wrap_astar(base, params, words)
