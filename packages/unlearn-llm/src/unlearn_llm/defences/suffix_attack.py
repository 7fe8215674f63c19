"""A GCG-like attack on the safety filter: adversarial tokens that make it pass a harmful prompt.

Greedy Coordinate Gradient (Zou et al., *Universal and Transferable Adversarial Attacks
on Aligned Language Models*, arXiv:2307.15043) as the erase-and-check paper uses it,
aimed at the filter instead of an LLM's refusal. ``length`` adversarial tokens are
placed as the mode says (``suffix``: appended; ``insertion``: one contiguous block at
a random position; ``infusion``: at random positions), starting as copies of one
token. Each step minimises $L = \\log p_{harmful}$ of the filter:

1. the gradient of $L$ with respect to the one-hot token at each adversarial position
   gives, per position, the ``top_k`` tokens with the most negative gradient
   (linearised gain $-\\nabla_{e_i} L \\cdot E^\\top$, $E$ the embedding matrix);
2. ``candidates`` prompts each swap one random adversarial position to one of its
   top-k tokens; the filter scores them all and the best replaces the current prompt
   when it lowers $L$.

It stops when the harmful score falls below ``stop_score`` or after ``steps`` steps.
The adversarial tokens never include padding or the unknown word.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from unlearn_llm.defences.erase_and_check import Mode
from unlearn_llm.defences.safety_classifier import HARMFUL, SafetyFilter, pad


@dataclass(frozen=True)
class AdversarialPrompt:
    """The attacked prompt, which of its positions are adversarial, and its harmful
    score before and after the attack."""

    tokens: tuple[int, ...]
    positions: tuple[int, ...]
    clean_score: float
    score: float
    steps: int


def adversarial_positions(n: int, mode: Mode, length: int, rng: random.Random) -> list[int]:
    """Where ``length`` adversarial tokens sit in an attacked prompt of ``n + length``."""
    total = n + length
    if mode == "suffix":
        return list(range(n, total))
    if mode == "insertion":
        start = rng.randint(0, n)
        return list(range(start, start + length))
    if mode == "infusion":
        return sorted(rng.sample(range(total), k=length))
    raise ValueError(f"mode: unknown attack mode {mode!r}; accepted: suffix, insertion, infusion")


def greedy_coordinate_attack(
    safety: SafetyFilter,
    tokens: Sequence[int],
    mode: Mode,
    length: int,
    rng: random.Random,
    *,
    steps: int = 40,
    top_k: int = 16,
    candidates: int = 64,
    stop_score: float = 0.1,
) -> AdversarialPrompt:
    """Adversarial tokens of ``mode`` and ``length`` against ``safety`` for ``tokens``."""
    if length < 1:
        raise ValueError(f"length: an attack adds >= 1 token, got {length}")
    model = safety.model
    clean = tuple(tokens)
    positions = adversarial_positions(len(clean), mode, length, rng)
    chosen = set(positions)
    start_token = safety.vocabulary.id("the")
    rest = iter(clean)
    current = [start_token if k in chosen else next(rest) for k in range(len(clean) + length)]
    allowed = torch.ones(safety.vocabulary.size, dtype=torch.bool)
    allowed[:2] = False  # padding and the unknown word
    clean_score = safety.harmful_scores([clean])[0]
    embedding = model.embed.weight.detach()

    def log_harmful(batch: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(model(batch), dim=-1)[:, HARMFUL]

    with torch.no_grad():
        loss = float(log_harmful(pad([current], model.max_length))[0])
    target = math.log(stop_score)
    step = 0
    while step < steps and loss >= target:
        step += 1
        one_hot = torch.zeros(len(current), embedding.shape[0])
        one_hot[torch.arange(len(current)), torch.tensor(current)] = 1.0
        one_hot.requires_grad_(True)
        mask = torch.ones(1, len(current), dtype=torch.bool)
        logits = model.forward_embeddings((one_hot @ embedding).unsqueeze(0), mask)
        torch.log_softmax(logits, dim=-1)[0, HARMFUL].backward()
        assert one_hot.grad is not None
        gain = -one_hot.grad[positions]  # (length, vocab): linearised drop of log p_harmful
        gain[:, ~allowed] = -torch.inf
        top = gain.topk(min(top_k, int(allowed.sum())), dim=-1).indices
        batch = []
        for _ in range(candidates):
            slot = rng.randrange(length)
            swapped = list(current)
            swapped[positions[slot]] = int(top[slot, rng.randrange(top.shape[1])])
            batch.append(swapped)
        with torch.no_grad():
            losses = log_harmful(pad(batch, model.max_length))
        best = int(losses.argmin())
        if float(losses[best]) < loss:
            loss, current = float(losses[best]), batch[best]
    return AdversarialPrompt(
        tokens=tuple(current),
        positions=tuple(positions),
        clean_score=clean_score,
        score=math.exp(loss),
        steps=step,
    )
