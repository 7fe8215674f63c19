r"""HiRM: High-Level Representation Misdirection (Lee, Kim and Hwang, *Localized Concept
Erasure in Text-to-Image Diffusion Models via High-Level Representation Misdirection*,
arXiv:2602.19631).

The update location and the erasure target are decoupled: only the text encoder's early
layers $\phi_{\le k}$ train (the first layer by default, where causal tracing places the
visual attributes), while the loss reads the last layer's output $h_\phi(y)$, the
high-level representation the UNet's cross-attention sees. The target concept's rows are
misdirected to a designated vector $v$ and the other prompts' rows are held where the
frozen encoder $\phi_0$ put them:

$$L(\phi_{\le k}) = \frac{1}{|F|}\sum_{y \in F} \frac{1}{|T_y|}\sum_{i \in T_y}
\big\|h_\phi(y)_i - v_i\big\|^2
+ \alpha\,\frac{1}{|R|}\sum_{y \in R} \frac{1}{|y|}\sum_i
\big\|h_\phi(y)_i - h_{\phi_0}(y)_i\big\|^2,$$

with $F$ the concept's prompts, $R$ the request's preserve prompts and $T_y$ the
positions from the concept's first token on (the encoder is causal: earlier positions
never see the concept, and moving them would move every prompt that shares the prefix).
The designated vector is ``direction``:

* ``"random"`` (HiRM-R): $v_i = c\,u$, one random unit vector $u$ per concept, with
  $c$ = ``scale`` times the mean norm of the concept's original rows;
* ``"anchor"`` (HiRM-S, semantic): $v_i = h_{\phi_0}(y^*)_i$, the frozen encoder's rows
  of the prompt with the concept's word swapped for its anchor. The paper's semantic
  direction is a supercategory ("cat" to "animal"); the shapes world has no
  supercategory word, so the concept's anchor (a sibling: circle to square) stands in.

The retain term with weight $\alpha$ (``preserve_weight``) keeps the preserved prompts'
high-level rows in place, which is what lets the early-layer update stay local.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import Concept, MethodParams

from erase_diffusion.methods.cross_attention import anchor_prompt, working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class HiRMParams(MethodParams):
    """Parameters of HiRM."""

    direction: Literal["random", "anchor"] = Field(
        default="random",
        description="'random' (HiRM-R) or 'anchor' (semantic, HiRM-S with the anchor).",
    )
    scale: float = Field(
        default=1.0,
        gt=0.0,
        le=100.0,
        description="c of the random target, in units of the concept rows' mean norm.",
    )
    layers: list[int] = Field(
        default_factory=lambda: [0],
        min_length=1,
        description="Text-encoder layers that train (0 is the first).",
    )
    preserve_weight: float = Field(default=1.0, ge=0.0, le=1e6, description="α.")
    iterations: int = Field(default=100, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    seed: int = Field(default=0, description="Seed of the random directions.")


def early_layer_parameters(text_encoder: Any, layers: list[int]) -> list[torch.nn.Parameter]:
    """Every parameter of the listed encoder layers; raises naming the valid indices."""
    count = int(text_encoder.config.num_hidden_layers)
    bad = [i for i in layers if not 0 <= i < count]
    if bad:
        raise ValueError(f"layers {bad} do not exist: the text encoder has layers 0..{count - 1}")
    marks = tuple(f".layers.{i}." for i in layers)
    return [p for n, p in text_encoder.named_parameters() if any(m in n for m in marks)]


def concept_positions(pipe: TextToImage, concept: Concept) -> torch.Tensor:
    """Mask (prompts, tokens): True from the concept's first token on (every position
    when the name does not occur in a prompt)."""
    import torch

    ids = pipe.tokenize(list(concept.prompts))
    word = [t for t in pipe.tokenize([concept.name])[0].tolist()]
    word = [t for t in word if t not in pipe.tokenizer.all_special_ids]
    mask = torch.zeros(ids.shape, dtype=torch.bool)
    for row, tokens in enumerate(ids.tolist()):
        hits = [j for j, tok in enumerate(tokens) if tok in word]
        mask[row, hits[0] if hits else 0 :] = True
    return mask


def misdirection_targets(
    pipe: TextToImage, concept: Concept, params: HiRMParams, generator: torch.Generator
) -> torch.Tensor:
    """$v$ for every row of the concept's prompts (prompts, tokens, d), from the frozen
    encoder ``pipe``."""
    import torch

    original = pipe.encode(list(concept.prompts))
    if params.direction == "anchor":
        if not concept.anchor:
            raise ValueError(
                f"direction='anchor' needs an anchor for concept {concept.name!r}; give one "
                "or use direction='random'"
            )
        return pipe.encode([anchor_prompt(p, concept) for p in concept.prompts])
    u = torch.randn(original.shape[-1], generator=generator)
    norm = original.norm(dim=-1).mean()
    return (params.scale * norm * u / u.norm()).expand_as(original).clone()


def hirm_loss(
    forget: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    keep: tuple[torch.Tensor, torch.Tensor] | None,
    preserve_weight: float,
) -> torch.Tensor:
    r"""The objective above. ``forget``: per concept, its rows $h_\phi$ (prompts, tokens,
    d), targets $v$ of the same shape and the position mask $T_y$ (prompts, tokens);
    ``keep``: the preserved prompts' current and frozen rows, or None (no retain term)."""
    import torch

    loss = torch.zeros(())
    for rows, target, mask in forget:
        squared = ((rows - target) ** 2).sum(-1)  # (prompts, tokens)
        per_prompt = (squared * mask).sum(-1) / mask.sum(-1)
        loss = loss + per_prompt.mean() / len(forget)
    if keep is not None and preserve_weight > 0:
        rows, frozen = keep
        loss = loss + preserve_weight * ((rows - frozen) ** 2).sum(-1).mean()
    return loss


def erase_hirm(
    pipe: TextToImage,
    request: EraseRequest,
    params: HiRMParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` by misdirecting their last-layer text representations
    while training only ``params.layers`` of the text encoder and holding
    ``request.preserve_prompts`` in place; returns a copy unless ``in_place``."""
    import torch

    params = method_params(HiRMParams, params, "hirm")
    edited = working_copy(pipe, in_place)
    encoder = edited.text_encoder
    chosen = early_layer_parameters(encoder, params.layers)
    generator = torch.Generator().manual_seed(params.seed)
    # Targets and retained rows come from the encoder before any update.
    forget = []
    for concept in request.concepts:
        ids = edited.tokenize(list(concept.prompts))
        mask = concept_positions(edited, concept)
        forget.append((ids, mask, misdirection_targets(edited, concept, params, generator)))
    keep_prompts = list(request.preserve_prompts)
    keep_ids = edited.tokenize(keep_prompts) if keep_prompts else None
    keep_rows = edited.encode(keep_prompts) if keep_prompts else None
    encoder.requires_grad_(False)
    for p in chosen:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(chosen, lr=params.learning_rate)
    encoder.train()
    # Same optimiser step and tear-down as esd.py and few_shot_text_encoder.py; only the
    # loss and the trained parameters differ.
    for _ in range(params.iterations):
        rows = [(encoder(ids).last_hidden_state, target, mask) for ids, mask, target in forget]
        keep = None
        if keep_ids is not None and keep_rows is not None:
            keep = (encoder(keep_ids).last_hidden_state, keep_rows)
        loss = hirm_loss(rows, keep, params.preserve_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    encoder.eval()
    encoder.requires_grad_(False)
    return edited
