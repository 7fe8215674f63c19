"""Graph-classification worlds, the TUDataset reader and the HISTOGRAPH benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from unlearn_graph.benchmarks.histograph import GRAPH_HISTOGRAPH, GRAPH_HISTOGRAPH_SPEED
from unlearn_graph.worlds.graph_classes import (
    GraphClassesConfig,
    graph_classes,
    load_tu_dir,
    tu_files_missing,
)
from unlearn_schema.configs import WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after


def test_benchmark_import_is_light() -> None:
    assert heavy_modules_after("import unlearn_graph.benchmarks.histograph") == []


def test_generated_classes_are_balanced_seeded_and_alike_in_size_and_density() -> None:
    config = GraphClassesConfig(classes=["sbm", "motif", "ba", "er"], graphs_per_class=30)
    data = graph_classes(config, seed=3)
    again = graph_classes(config, seed=3)
    assert np.array_equal(data.labels, again.labels)
    assert all(np.array_equal(a, b) for a, b in zip(data.edges, again.edges, strict=True))
    assert np.bincount(data.labels).tolist() == [30, 30, 30, 30]
    for label in range(4):
        graphs = np.nonzero(data.labels == label)[0]
        sizes = [len(data.features[i]) for i in graphs]
        degree = np.mean([2 * data.edges[i].shape[1] / len(data.features[i]) for i in graphs])
        assert min(sizes) >= 20 and max(sizes) <= 40
        assert 3.0 < degree < 5.0, (data.class_names[label], degree)
    for features, pairs in zip(data.features, data.edges, strict=True):
        assert np.all(pairs[0] < pairs[1])  # undirected, each pair once
        degree = np.bincount(pairs.reshape(-1), minlength=len(features))
        assert np.array_equal(features.argmax(1), np.minimum(degree, 7))


def test_motif_graphs_hold_the_planted_cliques() -> None:
    data = graph_classes(GraphClassesConfig(classes=["motif", "er"], graphs_per_class=5), 0)
    for features, pairs, label in zip(data.features, data.edges, data.labels, strict=True):
        n = len(features)
        adjacency = np.zeros((n, n), dtype=int)
        adjacency[pairs[0], pairs[1]] = adjacency[pairs[1], pairs[0]] = 1
        # Every edge of a 4-clique lies in at least 2 triangles; count nodes in a K4.
        in_clique = [
            any(
                adjacency[a, b] and adjacency[a, c] and adjacency[b, c]
                for a in np.nonzero(adjacency[v])[0]
                for b in np.nonzero(adjacency[v])[0]
                for c in np.nonzero(adjacency[v])[0]
                if a < b < c
            )
            for v in range(n)
        ]
        if data.class_names[label] == "motif":
            assert sum(in_clique) >= 8  # two disjoint 4-cliques


def _write_tu(folder: Path, name: str, copies: int = 1) -> None:
    # Graph 1: a triangle (nodes 1-3), label 1; graph 2: one edge (nodes 4-5), label -1;
    # the pair repeated ``copies`` times.
    folder.mkdir(parents=True)
    pairs, graph_of = [], []
    for k in range(copies):
        o = 5 * k
        pairs += [(o + 1, o + 2), (o + 2, o + 1), (o + 2, o + 3), (o + 3, o + 2)]
        pairs += [(o + 1, o + 3), (o + 3, o + 1), (o + 4, o + 5), (o + 5, o + 4)]
        graph_of += [2 * k + 1] * 3 + [2 * k + 2] * 2
    (folder / f"{name}_A.txt").write_text("".join(f"{a}, {b}\n" for a, b in pairs))
    (folder / f"{name}_graph_indicator.txt").write_text("".join(f"{g}\n" for g in graph_of))
    (folder / f"{name}_graph_labels.txt").write_text("1\n-1\n" * copies)
    (folder / f"{name}_node_labels.txt").write_text("0\n2\n0\n2\n2\n" * copies)


def test_tu_reader_reads_the_text_format_by_hand(tmp_path: Path) -> None:
    _write_tu(tmp_path / "TOY" / "raw", "TOY")
    data = load_tu_dir(tmp_path, "TOY")  # finds <folder>/TOY/raw, PyG's layout
    assert data.class_names == ["-1", "1"] and data.labels.tolist() == [1, 0]
    assert [e.tolist() for e in data.edges] == [[[0, 0, 1], [1, 2, 2]], [[0], [1]]]
    # node labels {0, 2} one-hot: 0 -> (1, 0), 2 -> (0, 1)
    assert data.features[0].tolist() == [[1, 0], [0, 1], [1, 0]]
    assert data.features[1].tolist() == [[0, 1], [0, 1]]


def test_absent_tu_files_are_named(tmp_path: Path) -> None:
    assert tu_files_missing(tmp_path, "MUTAG") == [
        "MUTAG_A.txt",
        "MUTAG_graph_indicator.txt",
        "MUTAG_graph_labels.txt",
    ]
    with pytest.raises(FileNotFoundError, match=r"lacks MUTAG_A\.txt"):
        load_tu_dir(tmp_path, "MUTAG")
    spec = GRAPH_HISTOGRAPH.default_spec("quick").model_copy(
        update={"world": WorldSpec(name="tu", params={"folder": str(tmp_path), "name": "MUTAG"})}
    )
    with pytest.raises(SpecError, match="nothing is downloaded"):
        GRAPH_HISTOGRAPH.parse(spec)


def test_default_specs_parse() -> None:
    for benchmark in (GRAPH_HISTOGRAPH, GRAPH_HISTOGRAPH_SPEED):
        for size in ("quick", "full"):
            parsed = benchmark.parse(benchmark.default_spec(size))
            assert parsed.world_name == "graph-classes"
    full = GRAPH_HISTOGRAPH.parse(GRAPH_HISTOGRAPH.default_spec("full"))
    assert full.params.depths == [4, 8, 16, 32] and full.params.backbones == ["gcn", "gin"]


def test_a_tiny_run_reports_every_cell_and_skips_absent_tu_data(tmp_path: Path) -> None:
    _write_tu(tmp_path / "TOY", "TOY", copies=5)
    spec = GRAPH_HISTOGRAPH.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="graph-classes", params={"graphs_per_class": 6}),
            "params": {
                "backbones": ["gcn"],
                "depths": [1, 2],
                "readouts": ["histograph", "mean"],
                "epochs": 2,
                "hidden": 8,
                "heads": 2,
                "tu_datasets": [
                    {"folder": str(tmp_path / "absent"), "name": "MUTAG"},
                    {"folder": str(tmp_path / "TOY"), "name": "TOY"},
                ],
            },
        }
    )
    parsed = GRAPH_HISTOGRAPH.parse(spec)
    result = GRAPH_HISTOGRAPH.run(parsed, NullProgress(), str(tmp_path))
    accuracy = [m for m in result.metrics if m.name == "test_accuracy"]
    assert len(accuracy) == 2 * 2 * 2  # datasets x depths x readouts (MUTAG skipped)
    assert all(0.0 <= m.value <= 1.0 for m in accuracy)
    assert {m.labels["dataset"] for m in accuracy} == {"graph-classes", "TOY"}
    assert any("MUTAG: skipped" in note for note in result.notes)
    assert len([m for m in result.metrics if m.name == "depth_drop"]) == 2 * 2
    weights = [c for c in result.curves if c.name.startswith("histograph-layer-weights")]
    assert weights and all(abs(sum(s.y) - 1.0) < 1e-4 for s in weights[0].series)
    assert result.summary is not None and len(result.summary.rows) == 2 * 2


def test_the_speed_run_reports_the_overhead_against_the_goal() -> None:
    spec = GRAPH_HISTOGRAPH_SPEED.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="graph-classes", params={"graphs_per_class": 4}),
            "params": {"depths": [2], "graphs": 8, "repeats": 3, "hidden": 8, "heads": 2},
        }
    )
    result = GRAPH_HISTOGRAPH_SPEED.run(GRAPH_HISTOGRAPH_SPEED.parse(spec), NullProgress(), "")
    overhead = [m for m in result.metrics if m.name == "overhead"]
    assert len(overhead) == 1 and overhead[0].reference == 0.30
    times = {m.labels["readout"]: m.value for m in result.metrics if m.name == "forward_time"}
    assert len([m for m in result.metrics if m.name == "forward_wall_time"]) == 2
    assert set(times) == {"mean", "histograph"} and all(t > 0 for t in times.values())
    assert overhead[0].value == pytest.approx(times["histograph"] / times["mean"] - 1, rel=1e-6)
    # the parts of the HISTOGRAPH forward, timed alone, and the overhead they add
    parts = {m.labels["part"]: m.value for m in result.metrics if m.name == "part_time"}
    assert set(parts) == {"backbone", "readout", "mean pooling"}
    (added,) = [m for m in result.metrics if m.name == "added_overhead"]
    expected = (parts["readout"] - parts["mean pooling"]) / times["mean"]
    assert added.value == pytest.approx(expected, rel=1e-6) and added.reference == 0.30
    assert result.summary is not None and result.summary.header[-1] == "added, part by part"
    faults = {m.labels["readout"]: m.value for m in result.metrics if m.name == "page_faults"}
    assert set(faults) == {"mean", "histograph"} and all(f >= 0 for f in faults.values())
    assert any(note.startswith("page_faults:") for note in result.notes)
