from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError
from unlearn_schema import (
    BenchmarkResult,
    BenchmarkSpec,
    ConceptEraseRequest,
    DataSliceRequest,
    ForgetRequest,
    Hardware,
    MethodConfig,
    MethodParams,
    MetricValue,
    NodeDeletionRequest,
    RunReport,
    Series,
    SpecError,
    json_schemas,
    validate_or_raise,
    write_json_schemas,
)


def test_import_does_not_pull_in_torch() -> None:
    code = "import sys, unlearn_schema; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_misspelled_field_names_path_and_suggestion() -> None:
    with pytest.raises(SpecError) as info:
        validate_or_raise(BenchmarkSpec, {"benchmark": "x", "seed": [1]}, "spec.yaml")
    message = str(info.value)
    assert "seed: Extra inputs are not permitted" in message
    assert "did you mean 'seeds'?" in message
    assert "accepted fields:" in message and "methods" in message
    assert "spec.yaml" in message


def test_nested_misspelling_reports_full_path() -> None:
    data = {"benchmark": "x", "methods": [{"name": "npo", "parmas": {}}]}
    with pytest.raises(SpecError) as info:
        validate_or_raise(BenchmarkSpec, data)
    assert "methods[0].parmas" in str(info.value)
    assert "did you mean 'params'?" in str(info.value)


def test_wrong_size_lists_accepted_values() -> None:
    with pytest.raises(SpecError) as info:
        validate_or_raise(BenchmarkSpec, {"benchmark": "x", "size": "huge"})
    assert "size" in str(info.value) and "'quick' or 'full'" in str(info.value)


def test_request_union_picks_variant_by_kind_and_lists_kinds() -> None:
    adapter: TypeAdapter[object] = TypeAdapter(ForgetRequest)
    request = adapter.validate_python({"kind": "graph_edges", "edges": [[0, 1], [2, 3]]})
    assert type(request).__name__ == "EdgeDeletionRequest"
    with pytest.raises(ValidationError) as info:
        adapter.validate_python({"kind": "pixels", "nodes": [1]})
    assert "'graph_nodes'" in str(info.value) and "'concepts'" in str(info.value)


def test_misspelled_field_inside_request_is_located() -> None:
    data = {"benchmark": "x", "requests": [{"kind": "graph_nodes", "nodez": [1]}]}
    with pytest.raises(SpecError) as info:
        validate_or_raise(BenchmarkSpec, data)
    text = str(info.value)
    assert "requests[0].graph_nodes.nodez" in text
    assert "did you mean 'nodes'?" in text


def test_request_validators_reject_bad_values() -> None:
    with pytest.raises(ValidationError, match="unique"):
        NodeDeletionRequest(nodes=[1, 1])
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        NodeDeletionRequest(nodes=[-1])
    with pytest.raises(ValidationError, match="both erased and preserved"):
        ConceptEraseRequest(
            concepts=[{"name": "red", "prompts": ["a red circle"]}], preserve=["red"]
        )
    with pytest.raises(ValidationError, match="either 'indices' or 'start'/'stop'"):
        DataSliceRequest(dataset="train", indices=[1], start=0, stop=3)
    with pytest.raises(ValidationError, match="start < stop"):
        DataSliceRequest(dataset="train", start=5, stop=5)
    assert DataSliceRequest(dataset="train", start=0, stop=3).stop == 3


def test_method_params_are_validated_by_the_method_type() -> None:
    class NpoParams(MethodParams):
        beta: float = 0.1

    config = MethodConfig(name="npo", params={"beta": 0.5})
    assert config.typed_params(NpoParams).beta == 0.5
    with pytest.raises(ValidationError, match="Extra inputs"):
        MethodConfig(name="npo", params={"betta": 0.5}).typed_params(NpoParams)


def test_metric_values_must_be_finite_and_series_aligned() -> None:
    with pytest.raises(ValidationError, match="finite"):
        MetricValue(name="auc", value=float("nan"))
    with pytest.raises(ValidationError, match="x has 2 points but y has 1"):
        Series(label="a", x=[1, 2], y=[1])


def test_run_report_round_trips_through_json() -> None:
    report = RunReport(
        run_id="r1",
        benchmark="b",
        package="p",
        spec=BenchmarkSpec(benchmark="b", seeds=[3, 4]),
        seed=3,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        wall_time_s=1.5,
        result=BenchmarkResult(metrics=[MetricValue(name="m", value=0.5, direction="higher")]),
        package_versions={"python": "3.11"},
        hardware=Hardware(
            platform="linux", machine="x86_64", processor="x86_64", cpu_count=2, python="3.11"
        ),
    )
    again = RunReport.model_validate_json(report.model_dump_json())
    assert again == report


def test_json_schemas_cover_top_level_models(tmp_path: object) -> None:
    schemas = json_schemas()
    assert {"benchmark-spec", "forget-request", "run-report", "method-config"} <= set(schemas)
    assert schemas["benchmark-spec"]["additionalProperties"] is False
    kinds = json.dumps(schemas["forget-request"])
    assert "graph_node_features" in kinds and "data_slice" in kinds
    written = write_json_schemas(tmp_path)  # type: ignore[arg-type]
    assert len(written) == len(schemas)
    for path in written:
        assert json.loads(path.read_text())  # every file is complete JSON


def test_heatmap_rejects_ragged_grids_and_non_finite_values() -> None:
    from unlearn_schema import Heatmap

    good = {
        "name": "h",
        "title": "t",
        "x_label": "x",
        "y_label": "y",
        "z_label": "z",
        "x": [1.0, 2.0],
        "y": [1.0],
        "z": [[0.0, 1.0]],
    }
    assert Heatmap.model_validate(good).z == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="z row 0 has 1 values but x has 2"):
        Heatmap.model_validate({**good, "z": [[0.0]]})
    with pytest.raises(ValueError, match="z has 2 rows but y has 1"):
        Heatmap.model_validate({**good, "z": [[0.0, 1.0], [0.0, 1.0]]})
    with pytest.raises(ValueError, match="not finite"):
        Heatmap.model_validate({**good, "z": [[0.0, float("nan")]]})


def test_graph_plot_checks_edges_and_per_node_lists() -> None:
    from unlearn_schema import BenchmarkResult, GraphPlot

    good = {"name": "g", "title": "t", "node_count": 3, "edges": [(0, 1), (1, 2)]}
    plot = GraphPlot.model_validate({**good, "groups": [0, 0, 1], "group_names": {1: "ring"}})
    result = BenchmarkResult(graphs=[plot])
    assert BenchmarkResult.model_validate_json(result.model_dump_json()).graphs == [plot]
    with pytest.raises(ValueError, match=r"out of range: \[\(2, 3\)\]"):
        GraphPlot.model_validate({**good, "edges": [(0, 1), (2, 3)]})
    with pytest.raises(ValueError, match="groups has 2 entries but node_count is 3"):
        GraphPlot.model_validate({**good, "groups": [0, 1]})
    with pytest.raises(ValueError, match="positions has 1 entries"):
        GraphPlot.model_validate({**good, "positions": [(0.0, 0.0)]})


def test_reading_file_names_the_file_and_keeps_missing_files_apart(tmp_path: Path) -> None:
    import json

    from unlearn_schema import UnreadableFileError, reading_file

    bad = tmp_path / "meta.json"
    bad.write_text("{torn")
    with pytest.raises(UnreadableFileError) as caught, reading_file(bad, "the metadata"):
        json.loads(bad.read_text())
    assert str(caught.value).startswith(f"{bad}: cannot read the metadata (JSONDecodeError: ")
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)
    with pytest.raises(FileNotFoundError), reading_file(bad, "the metadata"):
        (tmp_path / "absent").read_text()


def test_a_registered_choice_names_the_bad_field_and_parses_once() -> None:
    import pytest
    from pydantic import ValidationError
    from unlearn_schema import MethodSpec, RegisteredChoice, Registry

    registry = Registry(
        "method",
        [
            MethodSpec(
                name="walk", params=f"{__name__}:StepsParams", entry="builtins:len", summary="-"
            )
        ],
    )

    class Choice(RegisteredChoice):
        @classmethod
        def registry(cls) -> Registry:
            return registry

    chosen = Choice(name="walk", params={"steps": 5})
    assert chosen.spec.name == "walk" and chosen.typed == StepsParams(steps=5)
    with pytest.raises(
        ValidationError, match=r"name\n.*unknown method 'wlak' \(did you mean 'walk'"
    ):
        Choice(name="wlak")
    with pytest.raises(ValidationError, match=r"params\.stpes\n.*accepted fields: steps"):
        Choice(name="walk", params={"stpes": 1})


class StepsParams(MethodParams):
    """The params of the registered choice's test record (module level: resolvable)."""

    steps: int = 3
