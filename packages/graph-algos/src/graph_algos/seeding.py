"""Random seeds: every function that draws takes a seed or a ``numpy.random.Generator``."""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.Generator | None


def as_rng(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself (so callers can share one stream)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
