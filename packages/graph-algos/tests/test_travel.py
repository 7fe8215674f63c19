from __future__ import annotations

import numpy as np
import pytest
from graph_algos.worlds.travel import (
    EDGE_TYPES,
    NODE_TYPES,
    TravelFraudWorld,
    TravelWorldConfig,
    ring_recovery,
    to_graph_tables,
    to_networkx,
    travel_fraud_world,
)
from pydantic import ValidationError


@pytest.fixture(scope="module")
def world() -> TravelFraudWorld:
    return travel_fraud_world(TravelWorldConfig(nodes=6000, fraud_rate=0.08), seed=3)


def relation(world: TravelFraudWorld, name: str) -> np.ndarray:
    (key,) = [k for k in world.edges if k[1] == name]
    return world.edges[key]


def test_nine_node_types_twelve_edge_types_and_exact_node_count(world: TravelFraudWorld) -> None:
    assert len(NODE_TYPES) == 9 and len(set(NODE_TYPES)) == 9
    assert len(EDGE_TYPES) == 12 and len({e[1] for e in EDGE_TYPES}) == 12
    assert set(world.num_nodes) == set(NODE_TYPES)
    assert world.node_count == 6000
    assert set(world.edges) == set(EDGE_TYPES)
    for (src, _, dst), pairs in world.edges.items():
        assert pairs.shape[0] == 2 and pairs.shape[1] > 0
        assert pairs[0].max() < world.num_nodes[src] and pairs[1].max() < world.num_nodes[dst]
        # no duplicate edges
        assert len(np.unique(pairs[0] * world.num_nodes[dst] + pairs[1])) == pairs.shape[1]
    for t in NODE_TYPES:
        assert world.features[t].shape == (world.num_nodes[t], 8)
    assert {r.kind for r in world.rings} == {"ticketing", "ghost_hotel", "account_takeover"}
    assert world.fraud_rate == pytest.approx(0.08, abs=0.02)


def test_ticketing_rings_are_stars_on_one_card_with_a_shared_device_cluster(
    world: TravelFraudWorld,
) -> None:
    paid, makes = relation(world, "paid_with"), relation(world, "makes")
    uses_device = relation(world, "uses_device")
    rings = [r for r in world.rings if r.kind == "ticketing"]
    assert rings
    for r in rings:
        (card,) = r.members["card"]
        bookings = set(paid[0][paid[1] == card].tolist())
        assert bookings == set(r.members["booking"].tolist())  # star K_{1,k} at the card
        assert len(bookings) == len(r.users)
        booked_by = makes[0][np.isin(makes[1], list(bookings))]
        assert sorted(booked_by.tolist()) == sorted(r.users.tolist())  # one booking each
        devices = set(r.members["device"].tolist())
        for user in r.users.tolist():
            assert devices & set(uses_device[1][uses_device[0] == user].tolist())
        # ring devices are used by ring users only
        assert set(uses_device[0][np.isin(uses_device[1], list(devices))].tolist()) <= set(
            r.users.tolist()
        )


def test_ghost_hotel_rings_are_complete_bicliques(world: TravelFraudWorld) -> None:
    writes, rates = relation(world, "writes"), relation(world, "rates")
    author = dict(zip(writes[1].tolist(), writes[0].tolist(), strict=True))
    rings = [r for r in world.rings if r.kind == "ghost_hotel"]
    assert rings
    for r in rings:
        hotels = r.members["hotel"]
        inside = np.isin(rates[1], hotels)
        pairs = [(author[review], hotel) for review, hotel in rates[:, inside].T.tolist()]
        expected = {(u, h) for u in r.users.tolist() for h in hotels.tolist()}
        assert len(pairs) == len(expected) and set(pairs) == expected  # each pair once
        assert sorted(rates[0][inside].tolist()) == sorted(r.members["review"].tolist())


def test_account_takeover_rings_are_transfer_chains(world: TravelFraudWorld) -> None:
    transfers, owns = relation(world, "transfers_to"), relation(world, "owns_loyalty")
    rings = [r for r in world.rings if r.kind == "account_takeover"]
    assert rings
    for r in rings:
        accounts = r.members["loyalty"]
        touching = np.isin(transfers[0], accounts) | np.isin(transfers[1], accounts)
        edges = transfers[:, touching].T.tolist()
        assert len(edges) == len(accounts) - 1
        nxt = dict(edges)
        (start,) = set(accounts.tolist()) - set(nxt.values())
        walk = [start]
        while walk[-1] in nxt:
            walk.append(nxt[walk[-1]])
        assert sorted(walk) == sorted(accounts.tolist())  # one path through all of them
        owners = owns[0][np.isin(owns[1], accounts)]
        assert sorted(owners.tolist()) == sorted(r.users.tolist())


def test_split_keeps_every_ring_whole_and_labels_follow_rings(world: TravelFraudWorld) -> None:
    partitions = {r.partition for r in world.rings}
    assert partitions == {"train", "val", "test"}
    for r in world.rings:
        for t, ids in r.members.items():
            assert (world.partition[t][ids] == ("train", "val", "test").index(r.partition)).all()
            assert (world.ring[t][ids] == r.ring_id).all()
    assert (
        sum(int(world.mask("user", p).sum()) for p in ("train", "val", "test"))
        == (world.num_nodes["user"])
    )
    fraud = world.is_fraud["user"]
    assert fraud.sum() == sum(len(r.users) for r in world.rings)
    # the tabular signal: fraud users' first feature column is shifted by feature_signal
    x = world.features["user"][:, 0]
    assert x[fraud].mean() - x[~fraud].mean() == pytest.approx(1.0, abs=0.3)


def test_same_seed_same_world_and_another_seed_another() -> None:
    config = TravelWorldConfig(nodes=800)
    first, again = travel_fraud_world(config, seed=11), travel_fraud_world(config, seed=11)
    other = travel_fraud_world(config, seed=12)
    for key in EDGE_TYPES:
        assert np.array_equal(first.edges[key], again.edges[key])
    assert all(np.array_equal(first.partition[t], again.partition[t]) for t in NODE_TYPES)
    assert np.array_equal(first.features["user"], again.features["user"])
    assert not np.array_equal(first.edges[EDGE_TYPES[0]], other.edges[EDGE_TYPES[0]])


def test_ring_count_composition_and_sizes_are_honoured() -> None:
    config = TravelWorldConfig(
        nodes=3000, ring_count=7, composition={"ghost_hotel": 1.0}, ring_size=(3, 3)
    )
    world = travel_fraud_world(config, seed=0)
    assert len(world.rings) == 7 and {r.kind for r in world.rings} == {"ghost_hotel"}
    assert all(len(r.users) == 3 for r in world.rings)
    assert not world.is_fraud["loyalty"].any() and not world.is_fraud["card"].any()


def test_bad_configs_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match=r"unknown \[.plane.\]"):
        TravelWorldConfig(node_shares={**TravelWorldConfig().node_shares, "plane": 0.1})
    with pytest.raises(ValidationError, match="ring kinds"):
        TravelWorldConfig(composition={"phishing": 1.0})
    with pytest.raises(ValidationError, match="ring_size"):
        TravelWorldConfig(ring_size=(5, 2))
    with pytest.raises(ValidationError, match="split"):
        TravelWorldConfig(split=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match=r"do not fit in nodes=500.*user"):
        travel_fraud_world(TravelWorldConfig(nodes=500, ring_count=40), seed=0)


def test_ring_recovery_counts_rings_with_most_members_flagged() -> None:
    world = travel_fraud_world(TravelWorldConfig(nodes=2000, ring_count=4), seed=1)
    flagged = np.zeros(world.num_nodes["user"], dtype=bool)
    first, second = world.rings[0], world.rings[1]
    flagged[first.users] = True  # 100 % of ring 0
    flagged[second.users[: int(0.5 * len(second.users))]] = True  # half of ring 1
    recovery = ring_recovery(world, flagged)
    assert recovery["all"] == pytest.approx(0.25)
    assert ring_recovery(world, np.ones_like(flagged))["all"] == 1.0
    with pytest.raises(ValueError, match="one boolean per user"):
        ring_recovery(world, flagged[:-1])


def test_networkx_export_keeps_types_labels_and_edges() -> None:
    world = travel_fraud_world(TravelWorldConfig(nodes=600), seed=2)
    graph = to_networkx(world)
    assert graph.number_of_nodes() == 600 and graph.number_of_edges() == world.edge_count
    ring = world.rings[0]
    node = graph.nodes[("user", int(ring.users[0]))]
    assert node["is_fraud"] and node["ring"] == ring.ring_id and node["partition"] == ring.partition
    src, relation_name, dst = EDGE_TYPES[0]
    s, d = world.edges[EDGE_TYPES[0]][:, 0].tolist()
    assert graph.has_edge((src, s), (dst, d), key=relation_name)


def test_graph_tables_export_has_a_table_per_type_and_a_relation_per_edge_type() -> None:
    world = travel_fraud_world(TravelWorldConfig(nodes=600), seed=4)
    tables = to_graph_tables(world)
    assert tables.node_counts == world.num_nodes and tables.directed
    assert [(r.source_type, r.name, r.target_type) for r in tables.relations] == list(EDGE_TYPES)
    assert sum(len(r) for r in tables.relations) == world.edge_count


@pytest.mark.requires("ladybug")
def test_cypher_finds_a_ticketing_star_in_the_graph_database() -> None:
    from graph_algos.store import open_store

    config = TravelWorldConfig(nodes=800, ring_count=2, composition={"ticketing": 1.0})
    world = travel_fraud_world(config, seed=5)
    ring = world.rings[0]
    card = int(ring.members["card"][0])
    with open_store("ladybug") as store:
        store.load(to_graph_tables(world))
        found = store.query(
            f"MATCH (b:booking)-[:paid_with]->(c:card) WHERE c.id = {card} RETURN b.id"
        )
    assert sorted(found["b.id"].tolist()) == sorted(ring.members["booking"].tolist())
