from __future__ import annotations

from unlearn_schema.testing import heavy_modules_after, requirement_names


def test_import_is_light() -> None:
    # Importing the package must not import torch: discovery and config validation
    # stay fast, and heavy imports live inside the functions that need them.
    assert heavy_modules_after("import erase_diffusion") == []


def test_dependencies_stay_within_the_package() -> None:
    names = requirement_names("erase-diffusion")
    assert "unlearn-schema" in names and names.isdisjoint({"torch-geometric", "dgl"})


def test_peft_is_only_an_optional_extra() -> None:
    # GS-LoRA (image models) needs peft; a plain install must not pull it in.
    from importlib.metadata import requires

    peft = [r for r in requires("erase-diffusion") or [] if r.lower().startswith("peft")]
    assert peft and all(r.replace('"', "'").endswith("extra == 'vision'") for r in peft)
