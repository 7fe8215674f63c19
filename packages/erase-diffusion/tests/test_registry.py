"""The method and metric registries: records, lookups and the entry points that name them."""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points

import pytest
from erase_diffusion.methods import METHODS
from erase_diffusion.metrics import METRICS
from unlearn_schema import MethodParams, UnknownNameError
from unlearn_schema.testing import heavy_modules_after

PAPERS = {
    "uce": "arXiv:2308.14761",
    "realera-closed-form": "arXiv:2410.09140",
    "realera": "arXiv:2410.09140",
    "trce": "arXiv:2503.07389",
    "co-erasing": "arXiv:2505.11131",
    "rece": "arXiv:2407.12383",
    "rece-cumulative": "arXiv:2407.12383",
    "cgce": "arXiv:2511.05865",
    "astar": "arXiv:2306.14544",
    "geom-erasing": "arXiv:2310.05873",
    "mace": "arXiv:2403.06135",
    "esd-x": "arXiv:2303.07345",
    "esd-u": "arXiv:2303.07345",
    "doco": "arXiv:2405.15304",
    "all-but-one": "arXiv:2312.12807",
    "ant": "arXiv:2504.12782",
    "few-shot-text-encoder": "arXiv:2405.07288",
    "hirm": "arXiv:2602.19631",
    "spm": "arXiv:2312.16145",
    "advunlearn": "arXiv:2405.15234",
}


def test_every_method_has_a_summary_a_paper_and_typed_params() -> None:
    # Every registered method has its paper here, and nothing else is here.
    assert sorted(METHODS) == sorted(PAPERS)
    for name, record in METHODS.items():
        assert record.summary.strip() and len(record.summary) < 120, name
        assert record.paper == PAPERS[name]
        assert issubclass(record.params_type, MethodParams), name


def test_every_method_entry_has_the_one_shape() -> None:
    # (pipeline, request, params, *, in_place=...): positional in that order, options keyword-only.
    for name, record in METHODS.items():
        parameters = list(inspect.signature(record.function).parameters.values())
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == ["pipe", "request", "params"], name
        keyword = {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}
        assert "in_place" in keyword, name


def test_every_metric_is_registered_with_a_summary() -> None:
    assert set(METRICS) == {
        "erasure-rate",
        "preservation-accuracy",
        "frechet-distance",
        "prompt-alignment",
    }
    for name, record in METRICS.items():
        assert record.summary.strip(), name
        assert callable(record.function), name
        assert record.params_type.model_fields == {}, name
    assert METRICS["frechet-distance"].paper == "arXiv:1706.08500"


def test_unknown_names_are_errors_never_a_default_method() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown method 'esd'.*accepted: .*esd-u, esd-x"):
        METHODS["esd"]
    with pytest.raises(UnknownNameError, match=r"methods\[1\]: unknown method 'sld'"):
        METHODS.lookup("sld", "methods[1]")
    with pytest.raises(UnknownNameError, match="unknown metric 'fid'"):
        METRICS.lookup("fid")


def test_entry_points_name_the_registries() -> None:
    for group, registry in (("unlearn.methods", METHODS), ("unlearn.metrics", METRICS)):
        found = [ep for ep in entry_points(group=group) if ep.name == "erase-diffusion"]
        assert len(found) == 1, group
        assert found[0].load() is registry
    benchmarks = {
        ep.name: ep.value
        for ep in entry_points(group="unlearn.benchmarks")
        if ep.value.startswith("erase_diffusion.")
    }
    assert set(benchmarks) == {
        "diffusion-erase-quick",
        "diffusion-erase-full",
        "erase-diffusion-speed",
        "diffusion-memorisation",
        "vision-continual-forgetting",
        "vision-worst-case-forget",
        "diffusion-implicit-concept",
        "scene-text-erasure",
        "diffusion-erase-transfer",
        "vision-restoration",
    }


def test_registries_params_types_and_default_specs_import_no_torch() -> None:
    # What `unlearn-bench list` and `validate` do: read the registries, resolve every
    # params type, parse every default spec of every benchmark.
    code = (
        "from erase_diffusion.benchmarks import erase, speed\n"
        "from erase_diffusion.methods import METHODS\n"
        "from erase_diffusion.metrics import METRICS\n"
        "for record in [*METHODS.values(), *METRICS.values()]:\n"
        "    record.params_type\n"
        "for b in (erase.DIFFUSION_ERASE_QUICK, erase.DIFFUSION_ERASE_FULL,"
        " speed.ERASE_DIFFUSION_SPEED):\n"
        "    for size in ('quick', 'full'):\n"
        "        b.parse(b.default_spec(size))"
    )
    assert heavy_modules_after(code, ("torch", "diffusers", "transformers")) == []
