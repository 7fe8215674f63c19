r"""The long-term-decay lower bound on the RoPE base (arXiv:2405.14591).

*Base of RoPE Bounds Context Length* (Men, Xu et al., arXiv:2405.14591): with query and
key components i.i.d., the expected attention a query pays a similar key at distance
$m$, minus what it pays a random key, is $2\sigma^2 B_{m,\theta}$ (its Theorem 1) with

$$
B_{m,\theta} = \sum_{i=0}^{d/2-1} \cos(m\,\theta_i), \qquad \theta_i = b^{-2i/d}.
$$

The model can only tell similar tokens from random ones at distance $m$ while
$B_{m,\theta} \ge 0$, so a context of $L$ tokens asks for a base $b$ with
$B_{m,\theta} \ge 0$ for every distance $0 \le m \le L$; the paper's lower bound is the
smallest such base ($b \ge$ it, its Table 1 and Figure 1, for $d = 128$).

`rope_decay_lower_bound` finds that smallest base exactly. The set of bases that satisfy
the criterion is not an interval: for a fixed $L$ it is made of narrow islands
(widths down to a few $10^{-4}$ of the base at $L = 4096$), so a plain grid or a
bisection can miss the first one. The search walks up from ``search_from`` and jumps
only over bases proven to fail. When $B_{m} = -\delta < 0$ at base $b$, every term
$\cos(m\,b^{-2i/d})$ changes with $\ln b$ at a rate of at most $m\,\theta_i\,2i/d$
(and $\theta_i$ only shrinks as $b$ grows), so $B_m$ stays negative for

$$
\Delta \ln b < \delta \,\big/\, \big(m \textstyle\sum_i \tfrac{2i}{d}\,\theta_i\big)
$$

and no base in that span can satisfy the criterion. The walk takes the largest such
jump over the distances it knows fail; a base where no distance fails is the answer.
Pure numpy, float64.
"""

from __future__ import annotations

import math

import numpy as np

_CHUNK = 4096  # distances evaluated at once (a 4096 x d/2 float64 block)
_WITNESSES = 64  # failing distances remembered from one base to the next


def _check(context_length: int, head_dim: int) -> None:
    if not (isinstance(context_length, int) and context_length >= 1):
        raise ValueError(f"context_length must be an integer >= 1, got {context_length!r}")
    if not (isinstance(head_dim, int) and head_dim >= 2 and head_dim % 2 == 0):
        raise ValueError(f"head_dim must be an even integer >= 2, got {head_dim!r}")


def rope_frequencies(base: float, head_dim: int) -> np.ndarray:
    """$\\theta_i = b^{-2i/d}$ for $i = 0 \\dots d/2 - 1$."""
    if not (math.isfinite(base) and base > 1.0):
        raise ValueError(f"base must be a finite number > 1, got {base!r}")
    return np.asarray(base ** (-np.arange(0, head_dim, 2) / head_dim), dtype=np.float64)


def long_term_decay(base: float, head_dim: int, distances: np.ndarray) -> np.ndarray:
    """$B_{m,\\theta} = \\sum_i \\cos(m\\,\\theta_i)$ at every distance $m$ in ``distances``."""
    theta = rope_frequencies(base, head_dim)
    m = np.asarray(distances, dtype=np.float64)
    return np.cos(np.multiply.outer(m, theta)).sum(axis=-1)


def first_negative_distance(base: float, head_dim: int, context_length: int) -> int | None:
    """The smallest $m \\le L$ with $B_{m,\\theta} < 0$, or None when there is none."""
    _check(context_length, head_dim)
    for start in range(0, context_length + 1, _CHUNK):
        m = np.arange(start, min(start + _CHUNK, context_length + 1))
        negative = np.flatnonzero(long_term_decay(base, head_dim, m) < 0)
        if negative.size:
            return int(m[negative[0]])
    return None


def rope_decay_lower_bound(
    context_length: int,
    head_dim: int = 128,
    *,
    search_from: float = 2.0,
    search_to: float = 1e15,
    min_jump: float = 1e-9,
) -> float:
    """The smallest base $b \\ge$ ``search_from`` with $B_{m,\\theta} \\ge 0$ for all $m \\le L$.

    arXiv:2405.14591's lower bound on the RoPE base for a context of ``context_length``
    tokens (see the module docstring for the walk). The walk never jumps over a base
    that satisfies the criterion, except by ``min_jump`` (in $\\ln b$) when the proven
    span is shorter: islands narrower than that relative width may be missed.
    Raises `ValueError` when no base up to ``search_to`` satisfies it.
    """
    _check(context_length, head_dim)
    if not (1.0 < search_from < search_to and math.isfinite(search_to)):
        raise ValueError(
            f"need 1 < search_from < search_to (finite), got {search_from!r} and {search_to!r}"
        )
    if not min_jump > 0:
        raise ValueError(f"min_jump must be > 0, got {min_jump!r}")
    rates = np.arange(0, head_dim, 2) / head_dim  # d ln(theta_i) / d ln(b) = -2i/d
    log_base, log_end = math.log(search_from), math.log(search_to)
    witnesses = np.zeros(0)
    starts = list(range(0, context_length + 1, _CHUNK))
    first_block = 0
    while log_base <= log_end:
        theta = np.exp(-rates * log_base)
        speed = float((rates * theta).sum())  # the rate bound, per unit of distance
        jump = _jump(witnesses, theta, speed)
        if jump is None:
            # No remembered distance fails here: scan all of them, from the block where
            # the last failure was (any failing distance proves a jump, so the order is
            # free), stop at the first block that has failing ones and remember those.
            witnesses = np.zeros(0)
            for start in starts[first_block:] + starts[:first_block]:
                m = np.arange(start, min(start + _CHUNK, context_length + 1), dtype=np.float64)
                decay = np.cos(np.multiply.outer(m, theta)).sum(axis=-1)
                failing = decay < 0
                if failing.any():
                    ratios = -decay[failing] / (m[failing] * speed)
                    best = np.argsort(ratios)[::-1][:_WITNESSES]
                    witnesses = m[failing][best]
                    jump = float(ratios[best[0]])
                    first_block = start // _CHUNK
                    break
            if jump is None:
                return math.exp(log_base)
        log_base += max(jump, min_jump)
    raise ValueError(
        f"no base in [{search_from:g}, {search_to:g}] keeps B_m >= 0 up to distance "
        f"{context_length} for head_dim {head_dim}; raise search_to"
    )


def _jump(witnesses: np.ndarray, theta: np.ndarray, speed: float) -> float | None:
    """The largest proven jump in $\\ln b$ from the remembered failing distances."""
    if witnesses.size == 0:
        return None
    decay = np.cos(np.multiply.outer(witnesses, theta)).sum(axis=-1)
    failing = decay < 0
    if not failing.any():
        return None
    return float((-decay[failing] / (witnesses[failing] * speed)).max())


# Table 1 of arXiv:2405.14591 (head_dim 128): context length -> its lower bound of the base.
PAPER_TABLE: dict[int, float] = {
    1024: 4.3e3,
    2048: 1.6e4,
    4096: 2.7e4,
    8192: 8.4e4,
    16384: 3.1e5,
    32768: 6.4e5,
    65536: 2.1e6,
    131072: 7.8e6,
    262144: 3.6e7,
    524288: 6.4e7,
    1048576: 5.1e8,
}
