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


def test_tfg_detection_runs_small_and_reports_auc_recovery_and_ablation(tmp_path: object) -> None:
    import pytest
    from unlearn_graph.benchmarks.fraud_rings import TFG_DETECTION
    from unlearn_schema import NullProgress

    spec = TFG_DETECTION.default_spec("quick").model_copy(deep=True)
    assert spec.world is not None
    spec.world.params = {"nodes": 1500, "fraud_rate": 0.08}
    spec.params = {"detectors": ["mlp", "sage"], "epochs": 15, "ablate": ["uses_device"]}
    parsed = TFG_DETECTION.parse(spec)
    result = TFG_DETECTION.run(parsed, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    assert names == {"auc", "ring_recovery", "ablated_auc", "auc_drop"}
    auc = {m.labels["method"]: m.value for m in result.metrics if m.name == "auc"}
    assert set(auc) == {"mlp", "sage"} and all(0.5 < v <= 1.0 for v in auc.values())
    recovery = [m for m in result.metrics if m.name == "ring_recovery"]
    assert {m.labels["ring_kind"] for m in recovery} >= {"all"}
    assert all(0.0 <= m.value <= 1.0 for m in recovery)
    (drop,) = [m for m in result.metrics if m.name == "auc_drop"]
    (ablated,) = [m for m in result.metrics if m.name == "ablated_auc"]
    assert drop.value == pytest.approx(auc["sage"] - ablated.value)
    assert result.summary is not None and [r[0] for r in result.summary.rows] == ["mlp", "sage"]
    # each drawn ring: its members, marked in the hover text, and their neighbours
    assert result.graphs
    for plot in result.graphs:
        assert plot.labels is not None and any("(ring)" in text for text in plot.labels)
        assert plot.group_names and plot.edges
    spec.params = {"ablate": ["teleports"]}
    with pytest.raises(Exception, match="unknown relations \\['teleports'\\]"):
        TFG_DETECTION.check(TFG_DETECTION.parse(spec))  # type: ignore[misc]
