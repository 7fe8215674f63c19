"""A hypergraph whose node labels depend on the hyperedge: planted roles per incidence.

Edge-dependent node classification (ENC, Choe et al. KDD 2023, arXiv:2306.03032) gives
every (node, hyperedge) incidence its own label: the same author is first author of
one paper and a middle author of another. `hyper_roles` plants such labels:

- every node $v$ has a community $c_v \\in \\{0..T-1\\}$ (balanced) and a seniority
  $s_v \\sim U(0, 1)$;
- every hyperedge $e$ has a type $\\tau_e$ (uniform) and a size $|e|$ uniform in
  ``[min_size, max_size]``; each member is drawn, without repeats, from the nodes of
  community $\\tau_e$ with probability ``in_type_share`` and from all nodes otherwise;
- node features $x_v = [\\,\\text{signal}\\cdot\\mathrm{onehot}(c_v) + \\sigma\\epsilon,\\;
  s_v + \\sigma_s\\epsilon',\\; \\epsilon''\\,]$ (``feature_noise`` $\\sigma$,
  ``seniority_noise`` $\\sigma_s$, ``extra_features`` pure-noise columns).

Labels, ``labels="roles"`` (three classes): ``leader`` if $v$ has the highest seniority
in $e$, else ``outsider`` if $c_v \\ne \\tau_e$, else ``member``. A node's label changes
from hyperedge to hyperedge: it leads where everyone else is junior, and it is an
outsider wherever the hyperedge's type is not its community. Reading it needs the
other members (for the rank) and the hyperedge's type (the majority community).

``labels="hyperedge-type"`` ($T$ classes): the label of $(v, e)$ is $\\tau_e$, the same
for every member: it depends on the hyperedge only. A model that sees only $x_v$ can do
no better than guessing $c_v$, right on about ``in_type_share`` $+ (1 -$
``in_type_share``$)/T$ of the incidences.

numpy only: no torch at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from unlearn_schema import StrictModel

HyperLabels = Literal["roles", "hyperedge-type"]
ROLE_NAMES = ("leader", "member", "outsider")


class HyperRolesConfig(StrictModel):
    """Size and difficulty knobs of the planted-roles hypergraph (`hyper_roles`)."""

    num_nodes: int = Field(default=600, ge=4, le=2_000_000)
    num_hyperedges: int = Field(default=400, ge=1, le=2_000_000)
    num_types: int = Field(default=3, ge=2, le=100, description="Communities = hyperedge types.")
    min_size: int = Field(default=3, ge=2, le=1000)
    max_size: int = Field(default=8, ge=2, le=1000)
    in_type_share: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Chance that a member is drawn from the hyperedge type's community.",
    )
    feature_signal: float = Field(default=1.0, ge=0.0, le=100.0)
    feature_noise: float = Field(default=0.25, ge=0.0, le=100.0)
    seniority_noise: float = Field(default=0.02, ge=0.0, le=10.0)
    extra_features: int = Field(default=4, ge=0, le=10_000)
    labels: HyperLabels = "roles"

    @model_validator(mode="after")
    def _check(self) -> HyperRolesConfig:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) > max_size ({self.max_size})")
        if self.max_size > self.num_nodes // self.num_types:
            raise ValueError(
                f"max_size ({self.max_size}) must be at most num_nodes // num_types "
                f"({self.num_nodes // self.num_types}): a hyperedge draws its members "
                "from one community without repeats"
            )
        return self


@dataclass(frozen=True)
class HyperWorld:
    """A hypergraph as incidence lists with one label per (node, hyperedge) pair."""

    features: np.ndarray  # (n, F) float32
    nodes: np.ndarray  # (P,) int64, the node of each incidence
    hyperedges: np.ndarray  # (P,) int64, the hyperedge of each incidence
    labels: np.ndarray  # (P,) int64
    communities: np.ndarray  # (n,) int64
    hyperedge_types: np.ndarray  # (m,) int64
    class_names: tuple[str, ...]

    @property
    def num_nodes(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_hyperedges(self) -> int:
        return int(self.hyperedge_types.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def hyper_roles(config: HyperRolesConfig, seed: int) -> HyperWorld:
    """Draw the planted-roles hypergraph of ``config`` (module docstring) from ``seed``."""
    rng = np.random.default_rng(seed)
    n, types = config.num_nodes, config.num_types
    communities = rng.permutation(np.arange(n) % types).astype(np.int64)
    seniority = rng.random(n)
    members_of = [np.flatnonzero(communities == t) for t in range(types)]
    hyperedge_types = rng.integers(0, types, size=config.num_hyperedges).astype(np.int64)
    nodes: list[np.ndarray] = []
    for kind in hyperedge_types.tolist():
        size = int(rng.integers(config.min_size, config.max_size + 1))
        chosen: set[int] = set()
        while len(chosen) < size:
            pool = members_of[kind] if rng.random() < config.in_type_share else None
            chosen.add(int(rng.choice(pool)) if pool is not None else int(rng.integers(n)))
        nodes.append(np.array(sorted(chosen), dtype=np.int64))
    sizes = np.array([len(members) for members in nodes])
    node_of = np.concatenate(nodes)
    edge_of = np.repeat(np.arange(config.num_hyperedges, dtype=np.int64), sizes)
    if config.labels == "hyperedge-type":
        labels = hyperedge_types[edge_of]
        class_names = tuple(f"type {t}" for t in range(types))
    else:
        outsider = communities[node_of] != hyperedge_types[edge_of]
        labels = np.where(outsider, ROLE_NAMES.index("outsider"), ROLE_NAMES.index("member"))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        for start, members in zip(starts.tolist(), nodes, strict=True):
            labels[start + int(np.argmax(seniority[members]))] = ROLE_NAMES.index("leader")
        class_names = ROLE_NAMES
    community_part = config.feature_signal * np.eye(types)[communities]
    community_part += config.feature_noise * rng.standard_normal((n, types))
    seniority_part = seniority + config.seniority_noise * rng.standard_normal(n)
    extra = rng.standard_normal((n, config.extra_features))
    features = np.concatenate([community_part, seniority_part[:, None], extra], axis=1)
    return HyperWorld(
        features=features.astype(np.float32),
        nodes=node_of,
        hyperedges=edge_of,
        labels=labels.astype(np.int64),
        communities=communities,
        hyperedge_types=hyperedge_types,
        class_names=class_names,
    )


__all__ = ["ROLE_NAMES", "HyperLabels", "HyperRolesConfig", "HyperWorld", "hyper_roles"]
