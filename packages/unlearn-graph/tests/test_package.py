from __future__ import annotations

from unlearn_schema.testing import heavy_modules_after, requirement_names


def test_import_is_light() -> None:
    # Importing the package must not import torch: discovery and config validation
    # stay fast, and heavy imports live inside the functions that need them.
    assert heavy_modules_after("import unlearn_graph") == []


def test_dependencies_stay_within_the_package() -> None:
    names = requirement_names("unlearn-graph")
    assert "unlearn-schema" in names and names.isdisjoint({"diffusers", "transformers", "dgl"})
