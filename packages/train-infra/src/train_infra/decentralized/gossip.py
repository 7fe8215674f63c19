"""Barabási–Albert topology, data partitions, drop schedules and gossip averaging.

Each round every live node takes ``local_steps`` SGD steps of softmax regression on its
own data, then replaces its parameters by a weighted average with its live neighbours
(Metropolis–Hastings weights ``w_ij = 1 / (1 + max(deg_i, deg_j))``, ``w_ii = 1 - Σ_j
w_ij``, which make the averaging matrix doubly stochastic on the live graph):

``θ_i ← Σ_{j ∈ N(i) ∪ {i}} w_ij θ_j``.

Accuracy over rounds is the mean test accuracy over all live nodes (relays included:
they hold a model too). Simulation mode runs every node in one process with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from unlearn_schema import StrictModel

Partition = Literal["iid", "non-iid"]
DropKind = Literal["data", "connectivity"]


class TopologyError(ValueError):
    """The communication graph cannot support gossip (isolated nodes, disconnected)."""


def barabasi_albert(num_nodes: int, edges_per_node: int, seed: int = 0) -> list[set[int]]:
    """Adjacency sets of a Barabási–Albert graph (preferential attachment).

    Starts from a star on ``edges_per_node + 1`` nodes; each new node links to
    ``edges_per_node`` distinct existing nodes chosen with probability ∝ degree.
    """
    if edges_per_node < 1 or num_nodes <= edges_per_node:
        raise ValueError(
            f"need 1 <= edges_per_node < num_nodes, got edges_per_node={edges_per_node}, "
            f"num_nodes={num_nodes}"
        )
    rng = np.random.default_rng(seed)
    adjacency: list[set[int]] = [set() for _ in range(num_nodes)]
    ends: list[int] = []
    for node in range(1, edges_per_node + 1):
        adjacency[0].add(node)
        adjacency[node].add(0)
        ends += [0, node]
    for node in range(edges_per_node + 1, num_nodes):
        targets: set[int] = set()
        while len(targets) < edges_per_node:
            targets.add(ends[int(rng.integers(len(ends)))])
        for target in targets:
            adjacency[node].add(target)
            adjacency[target].add(node)
            ends += [node, target]
    return adjacency


def components(adjacency: list[set[int]], alive: np.ndarray) -> int:
    """Number of connected components among live nodes."""
    seen = np.zeros(len(adjacency), dtype=bool)
    count = 0
    for start in np.flatnonzero(alive):
        if seen[start]:
            continue
        count += 1
        stack = [int(start)]
        seen[start] = True
        while stack:
            node = stack.pop()
            for other in adjacency[node]:
                if alive[other] and not seen[other]:
                    seen[other] = True
                    stack.append(other)
    return count


def check_topology(adjacency: list[set[int]]) -> None:
    """Raise `TopologyError` naming isolated nodes or the number of components."""
    isolated = [i for i, neighbours in enumerate(adjacency) if not neighbours]
    if isolated:
        raise TopologyError(
            f"gossip needs every node connected, but nodes {isolated[:10]} have no neighbour"
        )
    count = components(adjacency, np.ones(len(adjacency), dtype=bool))
    if count > 1:
        raise TopologyError(f"gossip needs a connected graph, got {count} components")


def check_schedule(
    classes_per_node: int, num_classes: int, drop_round: int | None, rounds: int
) -> None:
    """Raise ValueError naming the fields when a scenario cannot run as configured."""
    if classes_per_node > num_classes:
        raise ValueError(f"classes_per_node={classes_per_node} exceeds num_classes={num_classes}")
    if drop_round is not None and drop_round >= rounds:
        raise ValueError(f"drop_round={drop_round} must be < rounds={rounds}")


class GossipNetwork(StrictModel):
    """The nodes, their graph and data, the number of rounds, and how many drop."""

    num_nodes: int = Field(default=50, ge=3, le=2000)
    edges_per_node: int = Field(default=2, ge=1, le=20, description="BA attachment m.")
    data_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Share of nodes holding data; others relay."
    )
    classes_per_node: int = Field(default=2, ge=1, description="Non-IID: labels seen per node.")
    samples_per_node: int = Field(default=100, ge=4, le=100_000)
    num_classes: int = Field(default=10, ge=2, le=100)
    num_features: int = Field(default=20, ge=2, le=1000)
    rounds: int = Field(default=60, ge=1, le=10_000)
    drop_fraction: float = Field(default=0.3, ge=0.0, lt=1.0)
    drop_by: Literal["random", "degree"] = Field(
        default="degree", description="Drop the highest-degree nodes of the kind, or random."
    )


class GossipConfig(GossipNetwork):
    """One decentralized-learning scenario: the network, the partition, drops, local SGD."""

    partition: Partition = "iid"
    local_steps: int = Field(default=2, ge=1, le=100)
    learning_rate: float = Field(default=0.5, gt=0.0, le=10.0)
    drop_round: int | None = Field(default=20, ge=0, description="Round at which nodes drop.")
    drop_kind: DropKind = "data"

    @model_validator(mode="after")
    def _consistent(self) -> GossipConfig:
        check_schedule(self.classes_per_node, self.num_classes, self.drop_round, self.rounds)
        return self


@dataclass
class GossipResult:
    rounds: list[int]
    accuracy: list[float]
    components: list[int]
    dropped: list[int] = field(default_factory=list)


def _make_task(config: GossipConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centroids = rng.normal(0, 1.0, (config.num_classes, config.num_features))
    return centroids, rng.normal(0, 1.0, (config.num_features,))


def _draw(
    centroids: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    x = centroids[labels] + rng.normal(0, 1.2, (labels.size, centroids.shape[1]))
    return x, labels


@dataclass
class _Scenario:
    adjacency: list[set[int]]
    holders: np.ndarray
    data: dict[int, tuple[np.ndarray, np.ndarray]]
    test_x: np.ndarray
    test_y: np.ndarray
    rng: np.random.Generator


def _scenario(config: GossipConfig, seed: int, check: bool) -> _Scenario:
    """Topology, data and test set: the same in every process given the same seed."""
    rng = np.random.default_rng(seed)
    adjacency = barabasi_albert(config.num_nodes, config.edges_per_node, seed)
    if check:
        check_topology(adjacency)
    n, c = config.num_nodes, config.num_classes
    centroids, _ = _make_task(config, rng)
    holders = np.zeros(n, dtype=bool)
    holders[rng.permutation(n)[: max(1, round(config.data_fraction * n))]] = True
    data: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for holder in np.flatnonzero(holders):
        if config.partition == "iid":
            labels = rng.integers(0, c, config.samples_per_node)
        else:
            allowed = rng.choice(c, config.classes_per_node, replace=False)
            labels = allowed[rng.integers(0, allowed.size, config.samples_per_node)]
        data[int(holder)] = _draw(centroids, labels, rng)
    test_x, test_y = _draw(centroids, rng.integers(0, c, 2000), rng)
    return _Scenario(adjacency, holders, data, test_x, test_y, rng)


def _apply_drops(
    config: GossipConfig, scenario: _Scenario, alive: np.ndarray, round_: int
) -> list[int]:
    """Mark the nodes scheduled to drop at ``round_`` dead; return them."""
    if config.drop_round is None or round_ != config.drop_round:
        return []
    kind = scenario.holders if config.drop_kind == "data" else ~scenario.holders
    pool = np.flatnonzero(kind & alive)
    count = min(pool.size, round(config.drop_fraction * config.num_nodes))
    if config.drop_by == "degree":
        degree = np.array([len(scenario.adjacency[i]) for i in pool])
        chosen = pool[np.argsort(-degree, kind="stable")[:count]]
    else:
        chosen = scenario.rng.choice(pool, count, replace=False)
    alive[chosen] = False
    return sorted(int(i) for i in chosen)


def _local_steps(config: GossipConfig, weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """``local_steps`` full-batch gradient steps of softmax regression, in place."""
    for _ in range(config.local_steps):
        logits = x @ weights[:-1] + weights[-1]
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        prob[np.arange(y.size), y] -= 1.0
        grad = np.vstack([x.T @ prob, prob.sum(axis=0)]) / y.size
        weights -= config.learning_rate * grad


def _live_degree(adjacency: list[set[int]], alive: np.ndarray) -> np.ndarray:
    return np.array([sum(bool(alive[j]) for j in neighbours) for neighbours in adjacency])


def _mix(
    node: int,
    own: np.ndarray,
    neighbours: dict[int, np.ndarray],
    live_degree: np.ndarray,
) -> np.ndarray:
    """Metropolis–Hastings average of ``own`` with the live neighbours' parameters."""
    total = np.zeros_like(own)
    share = 0.0
    for other in sorted(neighbours):
        w = 1.0 / (1.0 + max(live_degree[node], live_degree[other]))
        total += w * neighbours[other]
        share += w
    return total + (1.0 - share) * own


def _accuracy(weights: np.ndarray, scenario: _Scenario) -> float:
    predicted = (scenario.test_x @ weights[:-1] + weights[-1]).argmax(axis=1)
    return float(np.mean(predicted == scenario.test_y))


def run_gossip(config: GossipConfig, seed: int = 0, check: bool = True) -> GossipResult:
    """Simulate decentralized training; one process, numpy softmax regression per node."""
    scenario = _scenario(config, seed, check)
    adjacency = scenario.adjacency
    n = config.num_nodes
    weights = np.zeros((n, config.num_features + 1, config.num_classes))
    alive = np.ones(n, dtype=bool)
    result = GossipResult([], [], [])
    for round_ in range(config.rounds):
        result.dropped += _apply_drops(config, scenario, alive, round_)
        for node, (x, y) in scenario.data.items():
            if alive[node]:
                _local_steps(config, weights[node], x, y)
        live_degree = _live_degree(adjacency, alive)
        mixed = weights.copy()
        for node in np.flatnonzero(alive).tolist():
            neighbours = {j: weights[j] for j in adjacency[node] if alive[j]}
            mixed[node] = _mix(node, weights[node], neighbours, live_degree)
        weights = mixed
        scores = [_accuracy(weights[i], scenario) for i in range(n) if alive[i]]
        result.rounds.append(round_ + 1)
        result.accuracy.append(float(np.mean(scores)) if scores else 0.0)
        result.components.append(components(adjacency, alive))
    return result


def run_gossip_distributed(config: GossipConfig, seed: int = 0) -> GossipResult | None:
    """The same algorithm with one ``torch.distributed`` process per node.

    Call it in every process of an initialised group of ``num_nodes`` ranks (gloo on
    CPU). Each round a live node exchanges its parameters with its live neighbours only,
    by point-to-point ``isend``/``irecv``; every node knows the drop schedule, so nobody
    waits for a dropped peer. Rank 0 returns the result (the accuracies are gathered),
    the other ranks return None. Bit-identical to `run_gossip` for the same seed.
    """
    import torch
    import torch.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    if world != config.num_nodes:
        raise ValueError(
            f"distributed gossip needs one process per node: world size {world}, "
            f"num_nodes {config.num_nodes}"
        )
    scenario = _scenario(config, seed, check=True)
    adjacency = scenario.adjacency
    own = np.zeros((config.num_features + 1, config.num_classes))
    alive = np.ones(config.num_nodes, dtype=bool)
    result = GossipResult([], [], [])
    for round_ in range(config.rounds):
        result.dropped += _apply_drops(config, scenario, alive, round_)
        score = float("nan")
        if alive[rank]:
            if rank in scenario.data:
                _local_steps(config, own, *scenario.data[rank])
            peers = sorted(j for j in adjacency[rank] if alive[j])
            outgoing = torch.from_numpy(own.copy())
            incoming = {j: torch.empty_like(outgoing) for j in peers}
            requests = [dist.isend(outgoing, j) for j in peers]
            requests += [dist.irecv(incoming[j], j) for j in peers]
            for request in requests:
                if request is not None:
                    request.wait()
            received = {j: t.numpy() for j, t in incoming.items()}
            own = _mix(rank, own, received, _live_degree(adjacency, alive))
            score = _accuracy(own, scenario)
        gathered = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
        dist.all_gather(gathered, torch.tensor([score], dtype=torch.float64))
        values = [float(t.item()) for t in gathered]
        live_scores = [v for v, a in zip(values, alive, strict=True) if a]
        result.rounds.append(round_ + 1)
        result.accuracy.append(float(np.mean(live_scores)) if live_scores else 0.0)
        result.components.append(components(adjacency, alive))
    return result if rank == 0 else None


def main(argv: list[str] | None = None) -> None:
    """``python -m train_infra.decentralized.gossip --config JSON --out PATH`` per rank."""
    import argparse
    import json

    import torch.distributed as dist

    parser = argparse.ArgumentParser(description="one node of distributed gossip learning")
    parser.add_argument("--config", default="{}", help="GossipConfig fields as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="rank 0 writes the result JSON here")
    args = parser.parse_args(argv)
    config = GossipConfig.model_validate_json(args.config)
    dist.init_process_group("gloo")
    try:
        result = run_gossip_distributed(config, args.seed)
        if result is not None:
            with open(args.out, "w") as handle:
                json.dump(result.__dict__, handle)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Gloo's worker threads can abort the interpreter's teardown after a finished run
    # ("terminate called without an active exception", exit -6; pytorch/pytorch#179291),
    # as seen once in CI on the snapshot demo. The result is written, so leave at once.
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
