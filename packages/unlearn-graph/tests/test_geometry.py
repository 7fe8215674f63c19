"""GraphShaper's pieces on cases worked out by hand: the curved spaces, the fusion, the
structure descriptors, the text encoder, the mixed-geometry world, a tiny learning check
and the ``graph-geometry-shaper`` benchmark."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from unlearn_graph.benchmarks.geometry import GRAPH_GEOMETRY_SHAPER
from unlearn_graph.geometry import LEARNERS
from unlearn_graph.geometry.graphshaper import (
    StructuralFusion,
    accuracy,
    boundary_split,
    make_text_graph_task,
)
from unlearn_graph.geometry.manifolds import distance, exp0, log0, mobius_add
from unlearn_graph.geometry.structure import local_structure
from unlearn_graph.geometry.text import HashedTextEncoder
from unlearn_graph.worlds.mixed_geometry import RING, TREE, MixedGeometryConfig, mixed_geometry
from unlearn_schema.configs import MethodConfig, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after

TINY = MixedGeometryConfig(
    num_trees=2, tree_depth=3, num_rings=2, ring_size=40, bridges=4, text_signal=0.3
)


def test_registry_and_benchmark_import_no_torch() -> None:
    assert heavy_modules_after("import unlearn_graph.geometry, unlearn_graph.geometry.params") == []
    assert heavy_modules_after("import unlearn_graph.benchmarks.geometry") == []
    assert next(iter(LEARNERS)) == "graphshaper"
    assert LEARNERS["graphshaper"].paper == "arXiv:2510.12085"


@pytest.mark.parametrize("curvature", [-1.0, -0.5, 1.0, 2.0])
def test_exp_and_log_at_the_origin_invert_each_other(curvature: float) -> None:
    torch.manual_seed(0)
    v = torch.randn(20, 5, dtype=torch.float64)
    v = v / v.norm(dim=-1, keepdim=True) * torch.linspace(0.05, 1.0, 20).unsqueeze(1)
    assert torch.allclose(log0(exp0(v, curvature), curvature), v, atol=1e-8)
    y = exp0(v, curvature)
    assert torch.allclose(exp0(log0(y, curvature), curvature), y, atol=1e-8)


def test_poincare_ball_by_hand() -> None:
    x = torch.tensor([0.5, 0.0], dtype=torch.float64)
    y = torch.tensor([0.0, 0.5], dtype=torch.float64)
    # exp_0((1, 0)) = tanh(1) (1, 0) on the unit ball.
    assert exp0(torch.tensor([1.0, 0.0]), -1.0).tolist() == pytest.approx([0.7615942, 0.0])
    # Möbius addition: ((1 + 2<x,y> + |y|^2) x + (1 - |x|^2) y) / (1 + 2<x,y> + |x|^2 |y|^2)
    # = (1.25 (0.5, 0) + 0.75 (0, 0.5)) / 1.0625.
    assert mobius_add(x, y, -1.0).tolist() == pytest.approx([0.625 / 1.0625, 0.375 / 1.0625])
    # d(x, y) = arccosh(1 + 2 |x - y|^2 / ((1 - |x|^2)(1 - |y|^2))), |x - y|^2 = 0.5.
    assert float(distance(x, y, -1.0)) == pytest.approx(math.acosh(1 + 2 * 0.5 / (0.75 * 0.75)))
    # From the origin: 2 artanh(0.5) = ln 3.
    assert float(distance(torch.zeros(2, dtype=torch.float64), x, -1.0)) == pytest.approx(
        math.log(3.0)
    )


def test_stereographic_sphere_by_hand() -> None:
    # Curvature 1: the unit circle of the chart is the equator, a quarter of a great
    # circle (pi/2) from the origin (the pole), and (1, 0), (0, 1) are pi/2 apart on it.
    origin = torch.zeros(2, dtype=torch.float64)
    east = torch.tensor([1.0, 0.0], dtype=torch.float64)
    north = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert float(distance(origin, east, 1.0)) == pytest.approx(math.pi / 2)
    assert float(distance(east, north, 1.0)) == pytest.approx(math.pi / 2)
    # Flat space is the plain Euclidean distance.
    assert float(distance(east, north, 0.0)) == pytest.approx(math.sqrt(2))


def test_fusion_weights_are_a_distribution_over_the_experts() -> None:
    torch.manual_seed(0)
    fusion = StructuralFusion(structure_dim=3, hidden=8, num_experts=3, width=4)
    weights = fusion(torch.randn(10, 3), torch.randn(10, 3, 8))
    assert weights.shape == (10, 3)
    assert torch.all(weights > 0)
    assert torch.allclose(weights.sum(-1), torch.ones(10))
    # Different structure gives different weights: the fusion reads it.
    assert not torch.allclose(weights[0], weights[1])


def test_structure_descriptors_by_hand() -> None:
    # A triangle 0-1-2 with a pendant 3 on node 2; then a path 0-1-2-3-4 (a tree).
    triangle = local_structure(4, np.array([[0, 0, 1, 2], [1, 2, 2, 3]]))
    assert triangle[:, 0] == pytest.approx(np.log1p([2, 2, 3, 1]))
    assert triangle[:, 1] == pytest.approx([1.0, 1.0, 1 / 3, 0.0])
    # Every two-hop ball is the whole graph: 4 edges, 4 nodes -> (4 - 4 + 1) / 4.
    assert triangle[:, 2] == pytest.approx([0.25] * 4)
    path = local_structure(5, np.array([[0, 1, 2, 3], [1, 2, 3, 4]]))
    assert path[:, 1] == pytest.approx([0.0] * 5) and path[:, 2] == pytest.approx([0.0] * 5)


def test_hashed_text_encoder() -> None:
    encoder = HashedTextEncoder(dim=64)
    rows = encoder.encode(["kato beru", "kato beru", "beru kato", ""])
    assert np.allclose(rows[0], rows[1]) and np.linalg.norm(rows[0]) == pytest.approx(1.0)
    assert not np.allclose(rows[0], rows[2])  # the bigram differs
    assert not rows[3].any()
    assert encoder.grams("a b c") == ["a", "b", "c", "a b", "b c"]
    with pytest.raises(ValueError, match="dim must be at least 2"):
        HashedTextEncoder(dim=1)


def test_mixed_geometry_world() -> None:
    world = mixed_geometry(TINY, seed=3)
    # 2 trees of 1 + 3 + 9 + 27 nodes and 2 rings of 40.
    assert world.graph.num_nodes == 2 * 40 + 2 * 40
    assert np.array_equal(mixed_geometry(TINY, seed=3).graph.edges, world.graph.edges)
    edges, region = world.graph.edges, world.region
    inside = region[edges[0]] == region[edges[1]]
    for r in range(4):
        members = int((region == r).sum())
        count = int((inside & (region[edges[0]] == r)).sum())
        if world.region_kind[region == r][0] == TREE:
            assert count == members - 1  # a tree
        else:
            assert world.region_kind[region == r][0] == RING and count == 2 * members
    # The boundary is exactly the ends of the edges between regions.
    ends = np.unique(edges[:, ~inside])
    assert np.array_equal(np.flatnonzero(world.boundary), ends)
    assert np.all(world.boundary_distance[world.boundary] == 0)
    assert np.all(world.boundary_distance[~world.boundary] >= 1)
    # Bridges join trees to rings only.
    kinds = world.region_kind
    assert np.all(kinds[edges[0][~inside]] != kinds[edges[1][~inside]])
    assert world.class_embeddings.shape == (4, TINY.embedding_dim)
    assert len(world.texts) == world.graph.num_nodes


def test_a_tiny_graphshaper_learns_and_its_weights_sum_to_one() -> None:
    world = mixed_geometry(TINY, seed=0)
    problem = make_text_graph_task(world, seed=0, train_ratio=0.4, val_ratio=0.2)
    record = LEARNERS["graphshaper"]
    fitted = record.function(problem, record.params_type(epochs=60), seed=0)
    assert torch.allclose(fitted.fusion_weights.sum(-1), torch.ones(problem.task.num_nodes))
    assert fitted.experts == ["euclidean", "hyperbolic", "spherical"]
    learned = accuracy(fitted.predictions, problem.task.y, problem.task.test_idx)
    untrained = LEARNERS["text-similarity"]
    guessed = untrained.function(problem, untrained.params_type(), seed=0)
    text_only = accuracy(guessed.predictions, problem.task.y, problem.task.test_idx)
    assert learned > 0.6 and learned > text_only  # 4 classes: chance is 0.25
    groups = boundary_split(problem)
    assert groups["boundary"].numel() + groups["interior"].numel() == problem.task.test_idx.numel()


def test_default_specs_parse_and_bad_splits_are_refused() -> None:
    for size in ("quick", "full"):
        parsed = GRAPH_GEOMETRY_SHAPER.parse(GRAPH_GEOMETRY_SHAPER.default_spec(size))
        assert [m.name for m in parsed.methods] == list(LEARNERS)
    spec = GRAPH_GEOMETRY_SHAPER.default_spec("quick")
    with pytest.raises(SpecError, match="a test set is needed"):
        GRAPH_GEOMETRY_SHAPER.parse(
            spec.model_copy(update={"params": {"train_ratio": 0.6, "val_ratio": 0.4}})
        )


def test_a_tiny_run_reports_every_group() -> None:
    spec = GRAPH_GEOMETRY_SHAPER.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="mixed-geometry", params=TINY.model_dump()),
            "methods": [
                MethodConfig(name="graphshaper", params={"epochs": 5}),
                MethodConfig(name="euclidean-gcn", params={"epochs": 5}),
                MethodConfig(name="text-similarity"),
            ],
        }
    )
    result = GRAPH_GEOMETRY_SHAPER.run(GRAPH_GEOMETRY_SHAPER.parse(spec), NullProgress(), "")
    accuracies = [m for m in result.metrics if m.name == "test_accuracy"]
    assert {(m.labels["method"], m.labels["nodes"]) for m in accuracies} == {
        (method, group)
        for method in ("graphshaper", "euclidean-gcn", "text-similarity")
        for group in ("all", "boundary", "interior", "tree", "ring")
    }
    assert all(0.0 <= m.value <= 1.0 for m in accuracies)
    margins = {m.labels["nodes"] for m in result.metrics if m.name == "graphshaper_margin"}
    assert margins == {"all", "boundary", "interior", "tree", "ring"}
    weights = [m for m in result.metrics if m.name == "fusion_weight"]
    assert len(weights) == 3 * 3  # experts x (tree, ring, boundary)
    for group in ("tree", "ring", "boundary"):
        assert sum(m.value for m in weights if m.labels["nodes"] == group) == pytest.approx(1.0)
    assert [c.name for c in result.curves] == ["accuracy-vs-boundary-distance"]
    assert len(result.summary.rows) == 3
