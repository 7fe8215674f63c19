"""What a critical-node selector works on, and the random baseline.

Every selector in the registry (centralities, greedy critical node deletion, CELF,
reverse-reachable sets, RWCS, GC-RWCS, random) has one shape::

    select(adjacency, problem: NodeSelection, params, *, seed=None) -> list[int]

and returns ``problem.budget`` nodes, most critical first, so that one ranking serves
every smaller budget too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from unlearn_schema import NoParams

from graph_algos.seeding import SeedLike, as_rng

Cascade = Literal["ic", "lt"]
"""Independent cascade or linear threshold (weights 1/deg(v) into v)."""


@dataclass(frozen=True)
class NodeSelection:
    r"""Select ``budget`` nodes; the cascade they are judged by, for influence selectors.

    - ``cascade`` / ``probability``: the diffusion model of the influence selectors
      (CELF, reverse-reachable sets); the others ignore them.
    - ``spread``: the Monte Carlo spread estimate $\sigma(S)$ the run judges seed sets by;
      CELF maximises it when given (common random numbers), else builds its own.
    - ``rng``: a random stream shared with the caller; the random baseline draws from it
      instead of ``seed`` when given, so that a recipe's later draws follow on from it.
    """

    budget: int
    cascade: Cascade = "ic"
    probability: float = 0.1
    spread: Callable[[list[int]], float] | None = None
    rng: np.random.Generator | None = None


def select_at_random(
    adjacency: sp.spmatrix, problem: NodeSelection, params: NoParams, *, seed: SeedLike = None
) -> list[int]:
    """Baseline selector: ``budget`` nodes uniformly at random, without replacement."""
    del params
    rng = problem.rng if problem.rng is not None else as_rng(seed)
    return [int(v) for v in rng.permutation(adjacency.shape[0])[: problem.budget]]
