r"""TravelFraudBench-style world (TFG): a heterogeneous travel graph with planted fraud rings.

After Sajja, "TRAVELFRAUDBENCH: A Configurable Evaluation Framework for GNN Fraud Ring
Detection in Travel Networks" (arXiv:2604.21093): 9 node types, 12 edge types and three
ring types, each with its own shape:

* **ticketing** (a star with a shared device/IP cluster): an organiser and $k-1$ members
  each make one booking; all $k$ bookings are paid with the organiser's one card, so the
  ring's booking–card edges form the star $K_{1,k}$. Every ring user logs in from the
  ring's small cluster of devices and IPs (the organiser from all of them), and every
  cluster device is seen at every cluster IP.
* **ghost_hotel** (a biclique): $k$ reviewers and $h$ ghost hotels; every reviewer writes
  one review of every ghost hotel, so reviewer × hotel through the reviews is the complete
  bipartite graph $K_{k,h}$ ($k h$ review nodes).
* **account_takeover** (a chain): $k$ users' loyalty accounts, taken over from one
  attacker device and IP, pass points along the path $L_1 \to L_2 \to \dots \to L_k$.

The node and edge type names, the background behaviour (how ordinary users share
devices, cards and hotels) and the tabular features are our reading: the paper names the
counts and the ring shapes, not a schema. Every ring node is labelled fraud and carries
its ring's id; ring nodes are exclusive to one ring, and ring devices, IPs, cards, hotels
and loyalty accounts take no background edges, so each ring keeps its shape exactly.
Ring users also live ordinary lives (their own devices, card and bookings), which is
what keeps the task from being trivial.

Features: `feature_dim` standard-normal columns per node type; fraud nodes have
`feature_signal` added to the first two (a tabular signal an MLP can use, as in the
paper's MLP baseline). Split: each ring goes whole to one partition (stratified by kind),
other nodes are split at random, in the `split` proportions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

import networkx as nx
import numpy as np
from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel

from graph_algos.seeding import SeedLike, as_rng

if TYPE_CHECKING:
    from graph_algos.store.tables import GraphTables

NodeType = Literal[
    "user", "device", "ip", "card", "booking", "flight", "hotel", "review", "loyalty"
]
NODE_TYPES: tuple[str, ...] = get_args(NodeType)
EdgeType = tuple[str, str, str]
EDGE_TYPES: tuple[EdgeType, ...] = (
    ("user", "uses_device", "device"),
    ("user", "uses_ip", "ip"),
    ("device", "seen_at", "ip"),
    ("user", "owns_card", "card"),
    ("user", "makes", "booking"),
    ("booking", "paid_with", "card"),
    ("booking", "books_flight", "flight"),
    ("booking", "books_hotel", "hotel"),
    ("user", "writes", "review"),
    ("review", "rates", "hotel"),
    ("user", "owns_loyalty", "loyalty"),
    ("loyalty", "transfers_to", "loyalty"),
)
RingKind = Literal["ticketing", "ghost_hotel", "account_takeover"]
RING_KINDS: tuple[str, ...] = get_args(RingKind)
PARTITIONS: tuple[str, ...] = ("train", "val", "test")
# Most users have a device and a card of their own (1.4 users per background device, 1.8
# per card); a 500-node world still holds a ring of every kind at the default sizes.
DEFAULT_NODE_SHARES: dict[str, float] = {
    "user": 0.24,
    "device": 0.17,
    "ip": 0.12,
    "card": 0.13,
    "booking": 0.15,
    "flight": 0.03,
    "hotel": 0.04,
    "review": 0.08,
    "loyalty": 0.04,
}
# Rings may take at most this share of any node type, so the background stays the bulk.
MAX_RING_SHARE = 0.75


def _check_range(name: str, value: tuple[int, int], low: int) -> None:
    if not low <= value[0] <= value[1]:
        raise ValueError(f"{name} must be (min, max) with {low} <= min <= max, got {value}")


class TravelWorldConfig(StrictModel):
    """Size, ring counts, ring shapes, features and split of a TFG world."""

    nodes: int = Field(default=5_000, ge=500, le=200_000, description="Nodes of all types.")
    node_shares: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_NODE_SHARES),
        description="Share of the nodes each of the 9 types gets (normalised; all 9 needed).",
    )
    fraud_rate: float = Field(
        default=0.05, gt=0.0, le=0.5, description="Share of users in rings (if no ring_count)."
    )
    ring_count: int | None = Field(
        default=None, ge=1, description="Number of rings; overrides fraud_rate when set."
    )
    composition: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(RING_KINDS, 1.0),
        description="Relative weight of each ring kind (a kind left out gets none).",
    )
    ring_size: tuple[int, int] = Field(default=(4, 10), description="Users per ring (min, max).")
    ghost_hotels: tuple[int, int] = Field(default=(2, 3), description="Hotels per ghost ring.")
    shared_devices: tuple[int, int] = Field(default=(1, 3), description="Ticketing devices.")
    shared_ips: tuple[int, int] = Field(default=(1, 2), description="Ticketing IPs.")
    feature_dim: int = Field(default=8, ge=2, le=256, description="Feature columns per type.")
    feature_signal: float = Field(
        default=1.0, ge=0.0, description="Shift of fraud nodes' first two feature columns."
    )
    split: tuple[float, float, float] = Field(
        default=(0.6, 0.2, 0.2), description="Train, validation, test proportions."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TravelWorldConfig:
        missing = sorted(set(NODE_TYPES) - set(self.node_shares))
        unknown = sorted(set(self.node_shares) - set(NODE_TYPES))
        if missing or unknown:
            raise ValueError(
                f"node_shares needs exactly the 9 node types {NODE_TYPES}; "
                f"missing {missing}, unknown {unknown}"
            )
        unknown_kinds = sorted(set(self.composition) - set(RING_KINDS))
        if unknown_kinds:
            raise ValueError(
                f"composition accepts the ring kinds {RING_KINDS}, got unknown {unknown_kinds}"
            )
        bad = {k: v for k, v in self.node_shares.items() if not v > 0}
        if bad:
            raise ValueError(f"node_shares must be positive, got {bad}")
        _check_range("ring_size", self.ring_size, 2)
        _check_range("ghost_hotels", self.ghost_hotels, 1)
        _check_range("shared_devices", self.shared_devices, 1)
        _check_range("shared_ips", self.shared_ips, 1)
        if any(v < 0 for v in self.composition.values()) or sum(self.composition.values()) <= 0:
            raise ValueError(
                f"composition weights must be >= 0 with a positive sum, got {self.composition}"
            )
        if min(self.split) <= 0 or abs(sum(self.split) - 1.0) > 1e-9:
            raise ValueError(f"split must be three positive shares summing to 1, got {self.split}")
        return self


@dataclass(frozen=True)
class FraudRing:
    """One planted ring: its id, kind, partition, and its nodes per node type."""

    ring_id: int
    kind: str
    partition: str
    members: dict[str, np.ndarray]

    @property
    def users(self) -> np.ndarray:
        return self.members["user"]


@dataclass(frozen=True)
class TravelFraudWorld:
    """A generated TFG graph. Node ids are 0..count-1 within each type.

    ``edges[(src, relation, dst)]`` is a (2, E) int64 array of (source id, target id);
    ``ring[t]`` is each node's ring id (-1 outside rings), ``is_fraud[t] = ring[t] >= 0``;
    ``partition[t]`` is 0, 1, 2 for train, validation, test.
    """

    config: TravelWorldConfig
    num_nodes: dict[str, int]
    edges: dict[EdgeType, np.ndarray]
    features: dict[str, np.ndarray]
    ring: dict[str, np.ndarray]
    partition: dict[str, np.ndarray]
    rings: list[FraudRing] = field(default_factory=list)

    @property
    def is_fraud(self) -> dict[str, np.ndarray]:
        return {t: ids >= 0 for t, ids in self.ring.items()}

    @property
    def node_count(self) -> int:
        return sum(self.num_nodes.values())

    @property
    def edge_count(self) -> int:
        return sum(e.shape[1] for e in self.edges.values())

    @property
    def fraud_rate(self) -> float:
        """Share of users that belong to a ring."""
        return float((self.ring["user"] >= 0).mean())

    def mask(self, node_type: str, partition: str) -> np.ndarray:
        """Boolean mask of ``node_type``'s nodes in ``partition`` (train, val or test)."""
        if partition not in PARTITIONS:
            raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
        if node_type not in self.partition:
            raise ValueError(f"node_type must be one of {NODE_TYPES}, got {node_type!r}")
        return self.partition[node_type] == PARTITIONS.index(partition)


def _node_counts(config: TravelWorldConfig) -> dict[str, int]:
    total = sum(config.node_shares.values())
    counts = {t: max(1, int(config.nodes * config.node_shares[t] / total)) for t in NODE_TYPES}
    counts["user"] += config.nodes - sum(counts.values())
    return counts


@dataclass
class _RingPlan:
    kind: str
    size: int
    hotels: int = 0
    devices: int = 0
    ips: int = 0


def _plan_rings(config: TravelWorldConfig, users: int, rng: np.random.Generator) -> list[_RingPlan]:
    low, high = config.ring_size
    count = config.ring_count
    if count is None:
        count = max(1, round(config.fraud_rate * users / ((low + high) / 2)))
    weights = np.array([config.composition.get(k, 0.0) for k in RING_KINDS])
    kinds = rng.choice(len(RING_KINDS), size=count, p=weights / weights.sum())
    sizes = rng.integers(low, high + 1, size=count)
    plans = []
    for kind, size in zip(kinds.tolist(), sizes.tolist(), strict=True):
        plan = _RingPlan(RING_KINDS[kind], size)
        if plan.kind == "ghost_hotel":
            plan.hotels = int(rng.integers(config.ghost_hotels[0], config.ghost_hotels[1] + 1))
        elif plan.kind == "ticketing":
            plan.devices = int(rng.integers(config.shared_devices[0], config.shared_devices[1] + 1))
            plan.ips = int(rng.integers(config.shared_ips[0], config.shared_ips[1] + 1))
        else:
            plan.devices = plan.ips = 1
        plans.append(plan)
    return plans


def _demand(plans: list[_RingPlan]) -> dict[str, int]:
    need = dict.fromkeys(NODE_TYPES, 0)
    for p in plans:
        need["user"] += p.size
        need["device"] += p.devices
        need["ip"] += p.ips
        if p.kind == "ticketing":
            need["card"] += 1
            need["booking"] += p.size
        elif p.kind == "ghost_hotel":
            need["hotel"] += p.hotels
            need["review"] += p.size * p.hotels
        else:
            need["loyalty"] += p.size
    return need


def _check_fits(need: dict[str, int], counts: dict[str, int], config: TravelWorldConfig) -> None:
    over = {t: (need[t], counts[t]) for t in NODE_TYPES if need[t] > MAX_RING_SHARE * counts[t]}
    if over:
        detail = ", ".join(f"{t}: {n} of {c}" for t, (n, c) in over.items())
        raise ValueError(
            f"the rings do not fit in nodes={config.nodes}: they need more than "
            f"{MAX_RING_SHARE:.0%} of these node types ({detail}); lower ring_count, "
            "fraud_rate or the ring sizes, or raise nodes or those types' node_shares"
        )


class _Edges:
    """Edge lists collected per edge type, joined and de-duplicated at the end."""

    def __init__(self) -> None:
        self.parts: dict[EdgeType, list[tuple[np.ndarray, np.ndarray]]] = {
            e: [] for e in EDGE_TYPES
        }

    def add(self, relation: str, source: np.ndarray | int, target: np.ndarray | int) -> None:
        key = next(e for e in EDGE_TYPES if e[1] == relation)
        s, t = np.broadcast_arrays(np.asarray(source, np.int64), np.asarray(target, np.int64))
        self.parts[key].append((s.ravel(), t.ravel()))

    def arrays(self, counts: dict[str, int]) -> dict[EdgeType, np.ndarray]:
        out = {}
        for key, parts in self.parts.items():
            width = counts[key[2]]
            if not parts:
                out[key] = np.empty((2, 0), dtype=np.int64)
                continue
            codes = np.unique(np.concatenate([s * width + t for s, t in parts]))
            out[key] = np.stack([codes // width, codes % width])
        return out


def _plant_ring(
    plan: _RingPlan,
    take: dict[str, np.ndarray],
    edges: _Edges,
    flights: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Add one ring's edges; ``take[t]`` are its (fresh, exclusive) nodes of type t."""
    users = take["user"]
    k = plan.size
    if plan.kind == "ticketing":
        card, bookings = take["card"][0], take["booking"]
        devices, ips = take["device"], take["ip"]
        edges.add("owns_card", users[0], card)
        edges.add("makes", users, bookings)
        edges.add("paid_with", bookings, card)
        edges.add("books_flight", bookings, rng.integers(flights, size=k))
        edges.add("uses_device", users, devices[np.arange(k) % len(devices)])
        edges.add("uses_ip", users, ips[np.arange(k) % len(ips)])
        edges.add("uses_device", users[0], devices)
        edges.add("uses_ip", users[0], ips)
        edges.add("seen_at", np.repeat(devices, len(ips)), np.tile(ips, len(devices)))
    elif plan.kind == "ghost_hotel":
        hotels, reviews = take["hotel"], take["review"]
        h = len(hotels)
        edges.add("writes", np.repeat(users, h), reviews)
        edges.add("rates", reviews, np.tile(hotels, k))
    else:
        loyalty, device, ip = take["loyalty"], take["device"][0], take["ip"][0]
        edges.add("owns_loyalty", users, loyalty)
        edges.add("transfers_to", loyalty[:-1], loyalty[1:])
        edges.add("uses_device", users, device)
        edges.add("uses_ip", users, ip)
        edges.add("seen_at", device, ip)
    return {t: ids for t, ids in take.items() if len(ids)}


def _background(
    counts: dict[str, int], free: dict[str, np.ndarray], edges: _Edges, rng: np.random.Generator
) -> None:
    """Ordinary behaviour of every user, on the nodes no ring holds."""
    n_users = counts["user"]
    users = np.arange(n_users)

    def spread(pool: np.ndarray) -> np.ndarray:
        # Each user gets one node of the pool; every pool node goes to some user when
        # there are at least as many users (no isolated devices, IPs or cards).
        return pool[rng.permutation(n_users) % len(pool)]

    def extra(pool: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
        who = users[rng.random(n_users) < share]
        return who, pool[rng.integers(len(pool), size=len(who))]

    first_device, first_ip = spread(free["device"]), spread(free["ip"])
    card = spread(free["card"])
    edges.add("uses_device", users, first_device)
    edges.add("uses_device", *extra(free["device"], 0.3))
    edges.add("uses_ip", users, first_ip)
    edges.add("uses_ip", *extra(free["ip"], 0.5))
    edges.add("seen_at", first_device, first_ip)
    edges.add("owns_card", users, card)

    bookings = free["booking"]
    booker = rng.integers(n_users, size=len(bookings))
    edges.add("makes", booker, bookings)
    edges.add("paid_with", bookings, card[booker])
    to_hotel = rng.random(len(bookings)) < 0.4
    hotels = free["hotel"]
    edges.add(
        "books_hotel", bookings[to_hotel], hotels[rng.integers(len(hotels), size=to_hotel.sum())]
    )
    edges.add(
        "books_flight",
        bookings[~to_hotel],
        rng.integers(counts["flight"], size=(~to_hotel).sum()),
    )

    reviews = free["review"]
    edges.add("writes", rng.integers(n_users, size=len(reviews)), reviews)
    edges.add("rates", reviews, hotels[rng.integers(len(hotels), size=len(reviews))])

    loyalty = free["loyalty"]
    edges.add("owns_loyalty", rng.integers(n_users, size=len(loyalty)), loyalty)
    if len(loyalty) >= 2:
        transfers = len(loyalty) // 4
        a = loyalty[rng.integers(len(loyalty), size=transfers)]
        b = loyalty[rng.integers(len(loyalty), size=transfers)]
        edges.add("transfers_to", a[a != b], b[a != b])


def _shares_to_counts(items: int, split: tuple[float, float, float]) -> np.ndarray:
    """How many of ``items`` go to each partition: largest remainder, and at least one
    each once there are three or more."""
    exact = np.asarray(split) * items
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts))[: items - counts.sum()]:
        counts[i] += 1
    if items >= 3:
        for i in np.flatnonzero(counts == 0):
            counts[np.argmax(counts)] -= 1
            counts[i] = 1
    return counts


def _partitions(
    items: int, split: tuple[float, float, float], rng: np.random.Generator
) -> np.ndarray:
    labels = np.repeat(np.arange(3, dtype=np.int8), _shares_to_counts(items, split))
    return labels[rng.permutation(items)]


def travel_fraud_world(
    config: TravelWorldConfig | None = None, seed: SeedLike = None
) -> TravelFraudWorld:
    """Generate a TFG world (see the module docstring); the same seed gives the same world."""
    config = config or TravelWorldConfig()
    rng = as_rng(seed)
    counts = _node_counts(config)
    plans = _plan_rings(config, counts["user"], rng)
    _check_fits(_demand(plans), counts, config)

    order = {t: rng.permutation(counts[t]) for t in NODE_TYPES}
    used = dict.fromkeys(NODE_TYPES, 0)
    ring = {t: np.full(counts[t], -1, dtype=np.int32) for t in NODE_TYPES}
    edges = _Edges()
    members: list[tuple[str, dict[str, np.ndarray]]] = []
    for ring_id, plan in enumerate(plans):
        need = _demand([plan])
        take = {t: order[t][used[t] : used[t] + need[t]] for t in NODE_TYPES}
        for t in NODE_TYPES:
            used[t] += need[t]
            ring[t][take[t]] = ring_id
        members.append((plan.kind, _plant_ring(plan, take, edges, counts["flight"], rng)))
    # Flights and users are shared with the background; the other ring nodes are not.
    free = {t: order[t] if t in ("user", "flight") else order[t][used[t] :] for t in NODE_TYPES}
    _background(counts, free, edges, rng)

    ring_partition = np.zeros(len(plans), dtype=np.int8)
    kinds = np.array([kind for kind, _ in members])
    for kind in RING_KINDS:
        of_kind = np.flatnonzero(kinds == kind)
        ring_partition[of_kind] = _partitions(len(of_kind), config.split, rng)
    partition = {}
    for t in NODE_TYPES:
        labels = _partitions(counts[t], config.split, rng)
        inside = ring[t] >= 0
        labels[inside] = ring_partition[ring[t][inside]]
        partition[t] = labels

    features = {}
    for t in NODE_TYPES:
        x = rng.standard_normal((counts[t], config.feature_dim), dtype=np.float32)
        x[ring[t] >= 0, :2] += np.float32(config.feature_signal)
        features[t] = x

    rings = [
        FraudRing(i, kind, PARTITIONS[ring_partition[i]], nodes)
        for i, (kind, nodes) in enumerate(members)
    ]
    return TravelFraudWorld(config, counts, edges.arrays(counts), features, ring, partition, rings)


def ring_recovery(
    world: TravelFraudWorld,
    flagged: np.ndarray,
    partition: str | None = None,
    threshold: float = 0.8,
) -> dict[str, float]:
    """Share of rings (per kind, and ``all``) with at least ``threshold`` of their users
    flagged at once, the paper's ring-recovery task; ``flagged`` is a boolean per user.
    Only rings of ``partition`` count when it is given; a kind with no ring there is
    left out."""
    flagged = np.asarray(flagged, dtype=bool)
    if flagged.shape != (world.num_nodes["user"],):
        raise ValueError(
            f"flagged must be one boolean per user ({world.num_nodes['user']}), "
            f"got shape {flagged.shape}"
        )
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if partition is not None and partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS} or None, got {partition!r}")
    hits: dict[str, list[bool]] = {}
    for r in world.rings:
        if partition is None or r.partition == partition:
            hits.setdefault(r.kind, []).append(bool(flagged[r.users].mean() >= threshold))
    out = {kind: float(np.mean(v)) for kind, v in hits.items()}
    if hits:
        out["all"] = float(np.mean([h for v in hits.values() for h in v]))
    return out


def to_networkx(world: TravelFraudWorld) -> nx.MultiDiGraph:
    """The world as a ``networkx.MultiDiGraph``: nodes ``(type, id)`` with attributes
    ``node_type``, ``is_fraud``, ``ring`` and ``partition``; edges keyed by relation."""
    graph = nx.MultiDiGraph()
    for t in NODE_TYPES:
        ring, part = world.ring[t].tolist(), world.partition[t].tolist()
        graph.add_nodes_from(
            ((t, i), {"node_type": t, "is_fraud": r >= 0, "ring": r, "partition": PARTITIONS[p]})
            for i, (r, p) in enumerate(zip(ring, part, strict=True))
        )
    for (src, relation, dst), pairs in world.edges.items():
        graph.add_edges_from(
            ((src, s), (dst, d), relation)
            for s, d in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True)
        )
    return graph


def to_graph_tables(world: TravelFraudWorld) -> GraphTables:
    """The world as `graph_algos.store.GraphTables` (one node table per type, one
    directed relation per edge type), ready for ``store.load`` and Cypher queries such
    as ``MATCH (u:user)-[:uses_device]->(d:device) RETURN u.id, d.id``."""
    from graph_algos.store.tables import GraphTables, Relation

    relations = [
        Relation(src, relation, dst, source=pairs[0], target=pairs[1])
        for (src, relation, dst), pairs in world.edges.items()
    ]
    return GraphTables(node_counts=dict(world.num_nodes), relations=relations, directed=True)
