r"""Adversarial prompt search in the style of UnlearnDiffAtk (Zhang et al., arXiv:2310.11868).

UnlearnDiffAtk turns the erased model into its own attack judge: for a prompt $y$ and a
target image $x_0$ of the concept, it looks for $k$ discrete adversarial tokens
$\delta \in V^k$ put in front of the prompt that minimise the erased model's
denoising loss on the target (its Eq. 3),

$$\delta^\star = \arg\min_{\delta \in V^k} \; \mathbb{E}_{\epsilon, t}
\big\|\epsilon - \epsilon_{\theta'}(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,
\; \tau([\delta; y]),\; t)\big\|^2 ,$$

so that the prompt $[\delta; y]$ makes the erased model $\theta'$ denoise *towards* the
concept image. The search is discrete: every candidate is a token of the vocabulary
$V$ and the prompt stays text. UnlearnDiffAtk solves it with projected gradient steps
on a relaxed token choice; the shapes world's vocabulary has a few dozen words, so this
attack solves it exactly per coordinate: greedy coordinate descent that, for each
adversarial position in turn, tries *every* vocabulary token and keeps the one of
lowest loss (a fixed draw of $(t, \epsilon)$ per item, so the loss never increases).
It scales with $|V|$: at Stable Diffusion's 49 408 tokens a sweep is slow but exact.

Each attacked item is one concept image (rendered, with its true caption $y$ as the
prompt), optimised on its own as in the paper. The CRR is read on images the erased
model generates from $[\delta^\star; y]$; the clean CRR on $y$ alone from the same
noise. ASR is UnlearnDiffAtk's: the share of items with at least one concept image.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.attacks.conditioning import concept_images, to_latents
from erase_diffusion.attacks.target import (
    DiffusionAttackOutcome,
    DiffusionAttackTarget,
    judged_outcome,
)
from erase_diffusion.methods.request import method_params

if TYPE_CHECKING:
    import torch

    from erase_diffusion.pipeline import TextToImage


class PromptSearchParams(MethodParams):
    """Parameters of the adversarial prompt search."""

    tokens: int = Field(default=4, ge=1, le=32, description="Adversarial tokens $k$.")
    position: Literal["prefix", "suffix"] = Field(
        default="prefix",
        description="Where the tokens go: before the prompt (UnlearnDiffAtk) or after it.",
    )
    sweeps: int = Field(default=2, ge=1, le=100, description="Passes over the k positions.")
    prompts: int = Field(default=8, ge=1, le=1000, description="Attacked items (concept images).")
    noise_draws: int = Field(
        default=4, ge=1, le=256, description="Fixed (t, ε) draws per item in the loss."
    )
    images_per_prompt: int = Field(default=2, ge=1, le=64)


def adversarial_ids(
    pipe: TextToImage, prompts: list[str], adversarial: list[list[int]], position: str
) -> torch.Tensor:
    """Token ids (n, L) of each prompt with its adversarial tokens before or after its words."""
    import torch

    tok = pipe.tokenizer
    length = pipe.max_tokens
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rows = []
    for prompt, extra in zip(prompts, adversarial, strict=True):
        words = tok(prompt, add_special_tokens=False).input_ids
        body = list(extra) + words if position == "prefix" else words + list(extra)
        row = [tok.bos_token_id, *body, tok.eos_token_id]
        if len(row) > length:
            raise ValueError(
                f"prompt {prompt!r} takes {len(words)} tokens; with {len(extra)} adversarial "
                f"tokens and the two special ones it exceeds the text encoder's {length}: "
                "use fewer tokens"
            )
        rows.append(row + [pad] * (length - len(row)))
    return torch.tensor(rows, dtype=torch.long)


def _vocabulary(pipe: TextToImage) -> list[int]:
    special = set(pipe.tokenizer.all_special_ids)
    return [i for i in range(len(pipe.tokenizer)) if i not in special]


def search_tokens(
    pipe: TextToImage,
    images: torch.Tensor,
    captions: list[str],
    params: PromptSearchParams,
    seed: int,
) -> tuple[list[list[int]], list[float]]:
    """Per item, the adversarial tokens of lowest denoising loss, and that loss.

    Greedy coordinate descent over the whole vocabulary (see the module docstring);
    ``pipe``'s weights are only read.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    vocabulary = torch.tensor(_vocabulary(pipe))
    items, draws = len(captions), params.noise_draws
    x0 = to_latents(pipe, images)
    steps = int(pipe.scheduler.config.num_train_timesteps)
    t = torch.randint(0, steps, (items * draws,), generator=generator)
    noise = torch.randn((items * draws, *x0.shape[1:]), generator=generator)
    a = pipe.scheduler.alphas_cumprod[t].view(-1, 1, 1, 1).to(x0.dtype)
    noisy = a.sqrt() * x0.repeat_interleave(draws, 0) + (1 - a).sqrt() * noise
    picks = torch.randint(0, len(vocabulary), (items, params.tokens), generator=generator)
    current = vocabulary[picks].tolist()
    chunk = max(1, 512 // (items * draws))

    def losses(candidates: torch.Tensor, position: int) -> torch.Tensor:
        # (candidates, items): the loss of every item with candidate c at ``position``.
        out = []
        with torch.no_grad():
            for start in range(0, len(candidates), chunk):
                block = candidates[start : start + chunk].tolist()
                trial = [
                    [*row[:position], c, *row[position + 1 :]] for c in block for row in current
                ]
                ids = adversarial_ids(pipe, captions * len(block), trial, params.position)
                context = pipe.text_encoder(ids).last_hidden_state.repeat_interleave(draws, 0)
                repeated = noisy.repeat(len(block), 1, 1, 1)
                predicted = pipe.unet(repeated, t.repeat(len(block)), context).sample
                error = ((predicted - noise.repeat(len(block), 1, 1, 1)) ** 2).flatten(1).mean(1)
                out.append(error.view(len(block), items, draws).mean(2))
        return torch.cat(out)

    best = torch.full((items,), float("inf"))
    for _ in range(params.sweeps):
        for position in range(params.tokens):
            loss = losses(vocabulary, position)
            best, choice = loss.min(0)
            for i, c in enumerate(choice.tolist()):
                current[i][position] = int(vocabulary[c])
    return current, best.tolist()


def prompt_search(
    target: DiffusionAttackTarget, params: PromptSearchParams | dict[str, Any] | None = None
) -> DiffusionAttackOutcome:
    """Search adversarial tokens on the erased model itself; prompt it with them."""
    import torch

    typed = method_params(PromptSearchParams, params, "prompt-search")
    start = time.perf_counter()
    images, captions = concept_images(target, typed.prompts, target.seed)
    tokens, loss = search_tokens(target.pipe, images, captions, typed, target.seed)
    search_s = time.perf_counter() - start
    ids = adversarial_ids(target.pipe, captions, tokens, typed.position)
    with torch.no_grad():
        attacked_context = target.pipe.text_encoder(ids).last_hidden_state
    rounds = typed.images_per_prompt
    options: dict[str, Any] = {
        "steps": target.steps,
        "guidance": target.guidance,
        "seed": target.seed,
    }
    attacked = target.pipe.generate(prompt_embeds=attacked_context.repeat(rounds, 1, 1), **options)
    clean = target.pipe.generate(captions * rounds, **options)
    decode = target.pipe.tokenizer.convert_ids_to_tokens
    outcome = judged_outcome(
        "prompt-search",
        target,
        attacked,
        clean,
        len(captions),
        {"search_s": search_s, "denoising_loss": float(sum(loss) / len(loss))},
        start,
    )
    words = [" ".join(decode(row)) for row in tokens]
    outcome.prompts = [
        f"{c} {w}" if typed.position == "suffix" else f"{w} {c}"
        for w, c in zip(words, captions, strict=True)
    ]
    return outcome
