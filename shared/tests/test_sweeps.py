from __future__ import annotations

import pytest
from pydantic import ValidationError
from unlearn_schema import SweepSpec, json_schemas

BASE = {"sweep": "demo", "spec": {"benchmark": "planted-quickstart"}}


def test_a_mapping_grid_is_one_product_and_a_list_a_union() -> None:
    one = SweepSpec.model_validate({**BASE, "grid": {"seeds": [0, 1, 2], "size": ["quick"]}})
    assert len(one.grid) == 1 and one.cell_count() == 3
    union = SweepSpec.model_validate(
        {**BASE, "grid": [{"methods": ["a", "b"], "seeds": [0, 1]}, {"methods": ["c"]}]}
    )
    assert union.cell_count() == 2 * 2 + 1


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"sweep": "Has Spaces"}, "lowercase letters"),
        ({"grid": {"seeds": []}}, "grid[0].seeds: an empty list"),
        ({"grid": {"world..params": [1]}}, "is not a spec path"),
        ({"grid": {"benchmark": ["x"]}}, "one benchmark"),
        ({"grid": [{}]}, "grid[0] is empty"),
        ({"spec": {"benchmark": "x", "sedes": [0]}}, "spec.sedes"),
        ({"grid": {"seeds": [0]}, "pareto": {"x": "a", "y": "b"}}, "pareto.by: 'methods'"),
    ],
)
def test_bad_sweeps_name_the_field(change: dict[str, object], needle: str) -> None:
    data = {**BASE, "grid": {"seeds": [0]}, **change}
    with pytest.raises(ValidationError) as error:
        SweepSpec.model_validate(data)
    assert needle in str(error.value)


def test_the_base_spec_is_kept_as_written() -> None:
    # Parts left out must stay out, so that the benchmark's defaults fill them per cell.
    sweep = SweepSpec.model_validate({**BASE, "grid": {"seeds": [0]}})
    assert sweep.spec == {"benchmark": "planted-quickstart"}


def test_json_schema_is_exported() -> None:
    schema = json_schemas()["sweep-spec"]
    assert {"sweep", "spec", "grid"} <= set(schema["properties"])
