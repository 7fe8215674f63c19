"""Erase-and-check (Kumar et al., *Certifying LLM Safety against Adversarial Prompting*,
arXiv:2309.02705), its closed-form cost, and the randomized, greedy and gradient variants.

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
- ``gradient_erase_and_check`` (GradEC): optimise a soft mask over the prompt's tokens by
  gradient descent on the filter's loss for the harmful class, and check the erased
  sequence the thresholded mask gives at every iteration (equations at the function).
- ``gradient_ranked_erase_and_check``: a deliberate variant, not the paper's: GreedyEC
  erasing, each round, the token that one gradient ranks first instead of trying all.

``is_harmful`` here is a batch function: token sequences -> harmful-class softmax
scores; a score of at least ``threshold`` (0.5) flags. The gradient procedures need the
filter's gradient, so they take the classifier itself (``EmbeddingClassifier``) and
import torch when called; the rest of the module is pure Python.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import torch

Mode = Literal["suffix", "insertion", "infusion"]
MODES: tuple[Mode, ...] = ("suffix", "insertion", "infusion")

Tokens = tuple[int, ...]
HarmfulScores = Callable[[Sequence[Tokens]], Sequence[float]]
"""A safety filter as erase-and-check calls it: sequences -> harmful-class scores."""


@dataclass(frozen=True)
class CheckResult:
    """One prompt's verdict: ``harmful``, the classifier calls spent (``checks``), the
    highest harmful score seen, the wall seconds it took, and (GradEC only) the gradient
    steps taken, each one forward and one backward pass of the filter."""

    harmful: bool
    checks: int
    max_score: float
    seconds: float
    gradient_steps: int = 0


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


class EmbeddingClassifier(Protocol):
    """What GradEC needs of a safety filter: token embeddings, and logits computed from
    (possibly scaled) embeddings; ``SafetyClassifier`` is one."""

    @property
    def embed(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Token ids (batch, length) -> embeddings (batch, length, width)."""
        ...

    def forward_embeddings(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (batch, classes) from embeddings; ``mask`` True at real tokens."""
        ...


def _check_gradient_inputs(
    model: EmbeddingClassifier, tokens: Sequence[int], iterations: int
) -> None:
    if iterations < 0:
        raise ValueError(f"iterations: the gradient variants run >= 0 iterations, got {iterations}")
    if not tokens:
        raise ValueError("tokens: erase-and-check needs a prompt of at least one token")
    longest = getattr(model, "max_length", None)
    if isinstance(longest, int) and len(tokens) > longest:
        raise ValueError(
            f"a prompt of {len(tokens)} tokens is longer than the filter's max_length={longest}"
        )


def _harmful_score(model: EmbeddingClassifier, tokens: Tokens, harmful_class: int) -> float:
    """The filter's softmax score of ``harmful_class`` for one token sequence."""
    import torch

    with torch.no_grad():
        ids = torch.tensor([list(tokens)], dtype=torch.long)
        output = model.forward_embeddings(model.embed(ids), torch.ones_like(ids, dtype=torch.bool))
        return float(torch.softmax(output, dim=-1)[0, harmful_class])


def gradient_erasure_masks(
    model: EmbeddingClassifier,
    tokens: Sequence[int],
    iterations: int,
    *,
    learning_rate: float = 10.0,
    weight_decay: float = 0.01,
    harmful_class: int = 1,
) -> Iterator[tuple[bool, ...]]:
    """GradEC's keep-masks $b^{(0)}, \\dots, b^{(T)}$ (True: the token stays), from the
    mask-logit descent written out at ``gradient_erase_and_check``. The inputs are checked
    at the call; the gradient step that gives $b^{(k+1)}$ runs only when it is asked for.

    A mask that would erase every token keeps the one with the largest logit (erasures
    never empty a prompt, as in ``erase_and_check``).
    """
    import torch

    _check_gradient_inputs(model, tokens, iterations)
    if learning_rate <= 0.0 or weight_decay < 0.0:
        raise ValueError(
            f"learning_rate must be > 0 and weight_decay >= 0, got {learning_rate}, {weight_decay}"
        )
    with torch.no_grad():
        embeddings = model.embed(torch.tensor([list(tokens)], dtype=torch.long))
    # validated here, eagerly; the descent itself runs lazily
    return _mask_descent(model, embeddings, iterations, learning_rate, weight_decay, harmful_class)


def _mask_descent(
    model: EmbeddingClassifier,
    embeddings: torch.Tensor,
    iterations: int,
    learning_rate: float,
    weight_decay: float,
    harmful_class: int,
) -> Iterator[tuple[bool, ...]]:
    import torch

    everywhere = torch.ones(embeddings.shape[:2], dtype=torch.bool)
    target = torch.tensor([harmful_class])
    logits = torch.zeros(embeddings.shape[1])  # m^(0) = 0: sigma = 1/2, every token kept

    def keep_mask() -> tuple[bool, ...]:
        kept = logits >= 0.0  # sigma(m_i) >= 1/2
        if not bool(kept.any()):
            kept[int(logits.argmax())] = True
        return tuple(bool(k) for k in kept)

    yield keep_mask()
    for _ in range(iterations):
        with torch.enable_grad():
            leaf = logits.clone().requires_grad_(True)
            # L(m) = CE(f(sigma(m) * E), harmful): the mask scales the word embeddings only
            output = model.forward_embeddings(
                torch.sigmoid(leaf)[None, :, None] * embeddings, everywhere
            )
            loss = torch.nn.functional.cross_entropy(output, target)
            (gradient,) = torch.autograd.grad(loss, leaf)
        # m <- m - eta (grad L + lambda m): SGD with weight decay, no momentum
        logits = logits - learning_rate * (gradient + weight_decay * logits)
        yield keep_mask()


def gradient_erase_and_check(
    model: EmbeddingClassifier,
    tokens: Sequence[int],
    iterations: int,
    *,
    threshold: float = 0.5,
    learning_rate: float = 10.0,
    weight_decay: float = 0.01,
    harmful_class: int = 1,
) -> CheckResult:
    """GradEC: erase the tokens a gradient-optimised mask drops, checking every iteration.

    Mask logits $m \\in \\mathbb{R}^n$ start at $m^{(0)} = 0$. With $E$ the prompt's word
    embeddings and $f$ the filter's logits, the loss is the cross-entropy of the
    soft-masked prompt for the harmful class,
    $L(m) = -\\log \\mathrm{softmax}\\big(f(\\sigma(m) \\odot E)\\big)_{\\text{harmful}}$,
    and each iteration takes one SGD step with weight decay,
    $m^{(k+1)} = m^{(k)} - \\eta\\,(\\nabla_m L(m^{(k)}) + \\lambda m^{(k)})$
    ($\\eta = 10$, $\\lambda = 0.01$, the reference code's settings). Iteration $k$'s
    erased sequence keeps the tokens with $\\sigma(m^{(k)}_i) \\ge 1/2$, i.e.
    $S_k = (p_i : m^{(k)}_i \\ge 0)$, so $S_0 = P$; a token whose presence lowers the
    harmful score gets a positive gradient and is erased first. The verdict is
    $\\mathrm{GradEC}_T(P) = \\bigvee_{k=0}^{T} \\mathtt{is\\_harmful}(S_k)$, stopping at
    the first flagged $S_k$; no certificate.

    Cost: at most $T + 1$ filter calls on erased sequences (``checks``) and $T$ gradient
    steps, each one forward and one backward pass (``gradient_steps``). A sequence
    already checked is not scored again: the verdict is the same as the reference
    code's, which re-scores it, and only the call count is lower. The checks use
    ``model`` itself (softmax of ``harmful_class`` >= ``threshold``, i.e. the argmax for
    two classes). Erased tokens are removed, as everywhere in this module; the
    reference code instead decodes them as the padding token, which the filter then
    reads in their place.
    """
    start = time.perf_counter()
    prompt = tuple(tokens)
    checked: set[Tokens] = set()
    best, steps = 0.0, 0
    masks = gradient_erasure_masks(
        model,
        prompt,
        iterations,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        harmful_class=harmful_class,
    )
    for step, keep in enumerate(masks):
        steps = step  # mask k came after k gradient steps
        erased = tuple(t for t, k in zip(prompt, keep, strict=True) if k)
        if erased in checked:
            continue
        checked.add(erased)
        score = _harmful_score(model, erased, harmful_class)
        best = max(best, score)
        if score >= threshold:
            break
    return CheckResult(best >= threshold, len(checked), best, time.perf_counter() - start, steps)


def gradient_ranked_erase_and_check(
    model: EmbeddingClassifier,
    tokens: Sequence[int],
    iterations: int,
    *,
    threshold: float = 0.5,
    harmful_class: int = 1,
) -> CheckResult:
    """Gradient-ranked GreedyEC, a deliberate variant (not in the paper): GreedyEC's
    one-token-per-round erasure, with the token chosen by one gradient instead of by
    scoring all $n$ one-token erasures.

    Each round scales the current sequence's word embeddings by weights $w$ and takes
    $g_i = \\partial L / \\partial w_i$ at $w = 1$, with
    $L(w) = -\\log \\mathrm{softmax}(f(w \\odot E))_{\\text{harmful}}$. Erasing token $i$
    ($w_i: 1 \\to 0$) changes the loss by about $-g_i$, so the token with the largest
    $g_i$ is the one whose erasure raises the harmful score most to first order: it is
    erased, and the shorter sequence checked. Harmful as soon as a checked sequence
    scores >= ``threshold``. Cost: at most $T + 1$ filter calls and $T$ gradient steps
    for $T$ ``iterations`` (GreedyEC: $1 + \\sum_{t<T} (n - t)$ calls). The paper's GradEC
    is ``gradient_erase_and_check``; the paper's code has a related greedy variant that
    ranks tokens after two mask-descent steps.
    """
    import torch

    _check_gradient_inputs(model, tokens, iterations)
    start = time.perf_counter()
    current = tuple(tokens)
    best = _harmful_score(model, current, harmful_class)
    checks, steps = 1, 0
    target = torch.tensor([harmful_class])
    while best < threshold and steps < iterations and len(current) > 1:
        ids = torch.tensor([list(current)], dtype=torch.long)
        with torch.no_grad():
            embeddings = model.embed(ids)
        with torch.enable_grad():
            weights = torch.ones(len(current), requires_grad=True)
            everywhere = torch.ones_like(ids, dtype=torch.bool)
            output = model.forward_embeddings(weights[None, :, None] * embeddings, everywhere)
            loss = torch.nn.functional.cross_entropy(output, target)
            (gradient,) = torch.autograd.grad(loss, weights)
        top = int(gradient.argmax())
        current = current[:top] + current[top + 1 :]
        steps += 1
        best = max(best, _harmful_score(model, current, harmful_class))
        checks += 1
    return CheckResult(best >= threshold, checks, best, time.perf_counter() - start, steps)
