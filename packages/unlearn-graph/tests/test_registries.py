from __future__ import annotations

import inspect
from importlib.metadata import entry_points

import pytest
from unlearn_graph.attacks import ATTACKS
from unlearn_graph.methods import METHODS
from unlearn_graph.metrics import METRICS
from unlearn_schema import MethodParams, Registry, UnknownNameError
from unlearn_schema.testing import heavy_modules_after

REGISTRIES = {"method": METHODS, "attack": ATTACKS, "metric": METRICS}
PAPERS = {
    "gnndelete": "arXiv:2302.13406",
    "d2dgn": "arXiv:2309.16173",
    "grapheraser": "arXiv:2103.14991",
    "gif": "arXiv:2304.02835",
    "egnn": "arXiv:2305.15529",
}


def test_the_methods_and_their_papers() -> None:
    assert list(METHODS) == [
        "retrain",
        "gradient-ascent",
        "gnndelete",
        "d2dgn",
        "grapheraser",
        "gif",
        "egnn",
    ]
    for name, paper in PAPERS.items():
        assert METHODS[name].paper == paper
    assert list(ATTACKS) == [
        "membership-auc",
        "member-probability-ratio",
        "link-stealing-auc",
        "relearning",
    ]
    assert ATTACKS["link-stealing-auc"].paper == "arXiv:2005.02131"


@pytest.mark.parametrize("kind", REGISTRIES)
def test_every_record_has_a_summary_and_resolves(kind: str) -> None:
    registry = REGISTRIES[kind]
    for row in registry.describe():
        assert row["kind"] == kind and row["summary"] and len(str(row["summary"])) <= 90
        assert "paper" in row
    for record in registry.values():
        assert issubclass(record.params_type, MethodParams) or record.params.endswith(":NoParams")
        assert callable(record.function)


def test_every_method_entry_has_one_shape() -> None:
    """(object, problem, params, *, seed): keyword-only extras, the same in every method."""
    for record in METHODS.values():
        parameters = list(inspect.signature(record.function).parameters.values())
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        keyword = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
        assert len(positional) == 3 and positional[2] == "params", record.name
        assert keyword == ["seed"], record.name
        assert "lr" not in record.params_type.model_fields, record.name


@pytest.mark.parametrize("kind", ["metric", "attack"])
def test_metric_params_are_the_functions_keyword_options(kind: str) -> None:
    for record in REGISTRIES[kind].values():
        options = {
            p.name
            for p in inspect.signature(record.function).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        }
        assert set(record.params_type.model_fields) <= options, record.name


@pytest.mark.parametrize("kind", REGISTRIES)
def test_unknown_names_raise(kind: str) -> None:
    registry = REGISTRIES[kind]
    with pytest.raises(UnknownNameError, match="unknown"):
        registry["no-such-name"]
    with pytest.raises(UnknownNameError, match=r"methods\[0\]: unknown"):
        registry.lookup("no-such-name", path="methods[0]")
    with pytest.raises(UnknownNameError, match="did you mean 'gnndelete'"):
        METHODS["gnndelet"]


def test_entry_points_name_the_registries() -> None:
    groups = {"unlearn.methods": METHODS, "unlearn.attacks": ATTACKS, "unlearn.metrics": METRICS}
    for group, registry in groups.items():
        (ep,) = [e for e in entry_points(group=group) if e.name == "unlearn-graph"]
        loaded = ep.load()
        assert isinstance(loaded, Registry) and loaded is registry


def test_registries_and_params_import_no_torch() -> None:
    listing = (
        "from unlearn_graph.methods import METHODS\n"
        "from unlearn_graph.metrics import METRICS\n"
        "from unlearn_graph.attacks import ATTACKS\n"
        "for registry in (METHODS, METRICS, ATTACKS):\n"
        "    registry.describe()"
    )
    # nothing heavy to list the registries; still no torch once every params type is loaded
    assert heavy_modules_after(listing, ("torch", "numpy", "torch_geometric")) == []
    validating = (
        f"{listing}\nfor record in METHODS.values():\n    record.validate_params({{}}, 'params')"
    )
    assert heavy_modules_after(validating) == []
