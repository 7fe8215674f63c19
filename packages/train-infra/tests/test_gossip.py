"""Decentralized learning: BA topology, connectivity errors, drops hurt as expected."""

from __future__ import annotations

import numpy as np
import pytest
from train_infra.decentralized.gossip import (
    GossipConfig,
    TopologyError,
    barabasi_albert,
    check_topology,
    run_gossip,
)


def test_barabasi_albert_has_the_right_size_and_hubs() -> None:
    adjacency = barabasi_albert(300, 2, seed=1)
    degrees = np.array([len(a) for a in adjacency])
    assert degrees.sum() // 2 == 2 + 2 * (300 - 3)  # the seed star, then m edges per node
    assert degrees.min() >= 1 and degrees.max() > 5 * np.median(degrees)
    check_topology(adjacency)


def test_isolated_nodes_and_split_graphs_are_clear_errors() -> None:
    with pytest.raises(TopologyError, match=r"nodes \[2\] have no neighbour"):
        check_topology([{1}, {0}, set()])
    with pytest.raises(TopologyError, match="2 components"):
        check_topology([{1}, {0}, {3}, {2}])


def test_gossip_learns_and_losing_relays_hurts_non_iid_more() -> None:
    base = GossipConfig(num_nodes=40, rounds=40, drop_round=15, partition="non-iid")
    none = run_gossip(base.model_copy(update={"drop_round": None}), seed=0)
    assert none.accuracy[-1] > none.accuracy[0] + 0.2
    relays = run_gossip(base.model_copy(update={"drop_kind": "connectivity"}), seed=0)
    assert relays.components[-1] > 1  # dropping hubs splits the network
    assert relays.accuracy[-1] < none.accuracy[-1]


def test_config_errors_name_the_values() -> None:
    with pytest.raises(ValueError, match="classes_per_node=5 exceeds num_classes=3"):
        GossipConfig(num_classes=3, classes_per_node=5)
    with pytest.raises(ValueError, match="drop_round=10 must be < rounds=10"):
        GossipConfig(rounds=10, drop_round=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_distributed_mode_equals_the_simulation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import subprocess
    import sys

    config = GossipConfig(num_nodes=5, edges_per_node=1, rounds=6, drop_round=3, drop_fraction=0.2)
    port = str(_free_port())
    out = tmp_path / "result.json"
    command = [sys.executable, "-m", "train_infra.decentralized.gossip"]
    processes = [
        subprocess.Popen(
            [*command, "--config", config.model_dump_json(), "--out", str(out)],
            env={
                **os.environ,
                "RANK": str(r),
                "WORLD_SIZE": "5",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": port,
            },
        )
        for r in range(5)
    ]
    try:
        codes = [p.wait(timeout=180) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0] * 5
    distributed = json.loads(out.read_text())
    simulated = run_gossip(config, seed=0)
    assert distributed["accuracy"] == simulated.accuracy
    assert distributed["dropped"] == simulated.dropped
