"""graph-algos' TravelFraudBench world through unlearn-graph's HeteroData exporter."""

from __future__ import annotations

from graph_algos.worlds.travel import EDGE_TYPES, NODE_TYPES, TravelWorldConfig, travel_fraud_world
from unlearn_graph.worlds.hetero import to_hetero_data


def test_a_tfg_world_becomes_heterodata_with_nine_node_and_twelve_edge_types() -> None:
    world = travel_fraud_world(TravelWorldConfig(nodes=1500), seed=0)
    data = to_hetero_data(world, reverse_edges=True)
    assert set(data.node_types) == set(NODE_TYPES)
    assert set(EDGE_TYPES) <= set(data.edge_types) and len(data.edge_types) == 24
    assert data.num_nodes == 1500
    users = data["user"]
    assert int(users.y.sum()) == int(world.is_fraud["user"].sum()) > 0
    for ring in world.rings:
        # a ring's users all sit in its one partition's mask
        mask = users[f"{ring.partition}_mask"]
        assert bool(mask[ring.users.tolist()].all())
    data.validate()
