"""Erase-and-check (Kumar et al., *Certifying LLM Safety against Adversarial Prompting*,
arXiv:2309.02705), its closed-form cost, and the randomized and greedy variants.

Given a prompt $P = (p_1, \\dots, p_n)$ of tokens, a safety filter $\\mathtt{is\\_harmful}$
and a certified size $d$, erase-and-check builds the set $E_d(P)$ of erased subsequences
(the prompt itself included) and labels $P$ harmful when the filter flags any of them:
$\\mathtt{EC}(P) = \\bigvee_{S \\in E_d(P)} \\mathtt{is\\_harmful}(S)$. The three modes
differ in which tokens an adversary may have added, hence in $E_d(P)$:

- ``suffix``: $\\alpha$ appended, $|\\alpha| \\le d$. Erase the last $i$ tokens,
  $i = 0, \\dots, d$: $|E_d| = d + 1$.
- ``insertion``: a contiguous $\\alpha$ inserted anywhere, $|\\alpha| \\le d$. Erase every
  contiguous block of length $j \\le d$ at every start: $|E_d| = 1 + \\sum_{j=1}^{d}(n-j+1)$,
  at most $nd + 1$ (the paper's $O(nd)$ for one insertion).
- ``infusion``: up to $d$ tokens inserted at arbitrary positions. Erase every subset
  of at most $d$ tokens: $|E_d| = \\sum_{i=0}^{d} \\binom{n}{i}$ (the paper's $O(n^d)$).

The certificate: if the filter flags the clean harmful prompt $P$, then for every
adversarial $\\alpha$ of the mode with $|\\alpha| \\le d$, some erased subsequence of the
attacked prompt equals $P$ exactly, so erase-and-check flags the attacked prompt. The
certified accuracy on harmful prompts at any $d$ is therefore the filter's accuracy on
the clean harmful prompts.

Erasures never empty a prompt (at least one token stays), so for $d \\ge n$ the counts
above are taken with $d = n - 1$. Subsequences are enumerated by position: two erasures
that give the same tokens (a repeated word) are both checked, as the counts say.

The empirical variants (no certificate; the paper's section on efficient defences):

- ``randomized_erase_and_check`` (RandEC): the prompt and a random fraction of the
  erased subsequences of $E_d(P)$.
- ``greedy_erase_and_check`` (GreedyEC): at each iteration, erase each remaining token
  once and check all those subsequences; stop with "harmful" if any is flagged,
  otherwise keep the one with the highest harmful score and repeat.

``is_harmful`` here is a batch function: token sequences -> harmful-class softmax
scores; a score of at least ``threshold`` (0.5) flags. Pure Python: the filter brings
torch, this module does not.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

Mode = Literal["suffix", "insertion", "infusion"]
MODES: tuple[Mode, ...] = ("suffix", "insertion", "infusion")

Tokens = tuple[int, ...]
HarmfulScores = Callable[[Sequence[Tokens]], Sequence[float]]
"""A safety filter as erase-and-check calls it: sequences -> harmful-class scores."""


@dataclass(frozen=True)
class CheckResult:
    """One prompt's verdict: ``harmful``, the classifier calls spent (``checks``), the
    highest harmful score seen, and the wall seconds it took."""

    harmful: bool
    checks: int
    max_score: float
    seconds: float


def _check_mode(mode: str, max_erase: int) -> None:
    if mode not in MODES:
        raise ValueError(f"mode: unknown erase-and-check mode {mode!r}; accepted: {MODES}")
    if max_erase < 0:
        raise ValueError(f"max_erase: the certified size d must be >= 0, got {max_erase}")


def subsequence_count(length: int, mode: Mode, max_erase: int) -> int:
    """$|E_d(P)|$ for a prompt of ``length`` tokens, the prompt itself included."""
    _check_mode(mode, max_erase)
    if length < 1:
        raise ValueError(f"length: a prompt has at least one token, got {length}")
    d = min(max_erase, length - 1)
    if mode == "suffix":
        return d + 1
    if mode == "insertion":
        return 1 + sum(length - j + 1 for j in range(1, d + 1))
    return sum(math.comb(length, i) for i in range(d + 1))


def iter_erased_subsequences(tokens: Sequence[int], mode: Mode, max_erase: int) -> Iterator[Tokens]:
    """The erased subsequences $E_d(P)$ of ``tokens``, the prompt itself first."""
    _check_mode(mode, max_erase)
    prompt = tuple(tokens)
    n = len(prompt)
    if n < 1:
        raise ValueError("tokens: erase-and-check needs a prompt of at least one token")
    d = min(max_erase, n - 1)
    yield prompt
    if mode == "suffix":
        for i in range(1, d + 1):
            yield prompt[: n - i]
    elif mode == "insertion":
        for j in range(1, d + 1):
            for start in range(n - j + 1):
                yield prompt[:start] + prompt[start + j :]
    else:
        for i in range(1, d + 1):
            for erased in itertools.combinations(range(n), i):
                gone = set(erased)
                yield tuple(t for k, t in enumerate(prompt) if k not in gone)


def erased_subsequences(tokens: Sequence[int], mode: Mode, max_erase: int) -> list[Tokens]:
    """``iter_erased_subsequences`` as a list."""
    return list(iter_erased_subsequences(tokens, mode, max_erase))


def _check_batches(
    is_harmful: HarmfulScores,
    sequences: Iterator[Tokens],
    threshold: float,
    batch_size: int,
) -> tuple[bool, int, float]:
    """Score ``sequences`` batch by batch; stop after the first batch that flags one."""
    checks, best = 0, 0.0
    while batch := list(itertools.islice(sequences, batch_size)):
        scores = is_harmful(batch)
        checks += len(batch)
        best = max(best, max(scores))
        if best >= threshold:
            return True, checks, best
    return False, checks, best


def erase_and_check(
    is_harmful: HarmfulScores,
    tokens: Sequence[int],
    mode: Mode,
    max_erase: int,
    *,
    threshold: float = 0.5,
    batch_size: int = 512,
) -> CheckResult:
    """The certified procedure: harmful iff some $S \\in E_d(P)$ scores >= ``threshold``.

    The filter sees the subsequences in batches of ``batch_size`` and the check stops
    after the first batch with a flagged one; a prompt labelled harmless has had all
    $|E_d(P)|$ subsequences checked (``checks`` equals ``subsequence_count``).
    """
    start = time.perf_counter()
    harmful, checks, best = _check_batches(
        is_harmful, iter_erased_subsequences(tokens, mode, max_erase), threshold, batch_size
    )
    return CheckResult(harmful, checks, best, time.perf_counter() - start)


def randomized_erase_and_check(
    is_harmful: HarmfulScores,
    tokens: Sequence[int],
    mode: Mode,
    max_erase: int,
    fraction: float,
    rng: random.Random,
    *,
    threshold: float = 0.5,
    batch_size: int = 512,
) -> CheckResult:
    """RandEC: the prompt and $\\lceil f(|E_d(P)| - 1) \\rceil$ erased subsequences drawn
    uniformly without replacement (``fraction`` $f$ in (0, 1]); no certificate."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction: the sampled share must be in (0, 1], got {fraction}")
    start = time.perf_counter()
    prompt, *erased = erased_subsequences(tokens, mode, max_erase)
    drawn = rng.sample(erased, k=math.ceil(fraction * len(erased)))
    harmful, checks, best = _check_batches(
        is_harmful, iter([prompt, *drawn]), threshold, batch_size
    )
    return CheckResult(harmful, checks, best, time.perf_counter() - start)


def greedy_erase_and_check(
    is_harmful: HarmfulScores,
    tokens: Sequence[int],
    iterations: int,
    *,
    threshold: float = 0.5,
) -> CheckResult:
    """GreedyEC: check the prompt, then for ``iterations`` rounds check every one-token
    erasure of the current sequence and keep the one with the highest harmful score;
    harmful as soon as any checked sequence scores >= ``threshold``.

    Cost: $1 + \\sum_{t=0}^{T-1} (n - t)$ calls at most for $T$ iterations.
    """
    if iterations < 0:
        raise ValueError(f"iterations: GreedyEC runs >= 0 rounds, got {iterations}")
    start = time.perf_counter()
    current = tuple(tokens)
    if not current:
        raise ValueError("tokens: erase-and-check needs a prompt of at least one token")
    best = float(is_harmful([current])[0])
    checks = 1
    for _ in range(iterations):
        if best >= threshold or len(current) <= 1:
            break
        candidates = [current[:k] + current[k + 1 :] for k in range(len(current))]
        scores = list(is_harmful(candidates))
        checks += len(candidates)
        top = max(range(len(scores)), key=scores.__getitem__)
        best = max(best, scores[top])
        current = candidates[top]
    return CheckResult(best >= threshold, checks, best, time.perf_counter() - start)
