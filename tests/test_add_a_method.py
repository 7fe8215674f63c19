"""The contributor page's example, run end to end: a method is one module plus one
registry line (docs/contributing.md shows the same code).

The toy method keeps the pipeline as it is. Run through the real
``diffusion-erase-quick`` recipe, it must score exactly what the original model scores:
proof that the recipe ran it through the registry, with nothing else to edit.
"""

from __future__ import annotations

import dataclasses

from pydantic import Field
from unlearn_schema import BenchmarkSpec, MethodParams, MethodSpec, NullProgress, Registry

# --- the method module (in the package: erase_diffusion/methods/keep_everything.py) ---


class KeepEverythingParams(MethodParams):
    """Parameters of the do-nothing baseline."""

    note: str = Field(default="", description="Ignored; shows a params field.")


def keep_everything(pipe, request, params, *, in_place=False):  # type: ignore[no-untyped-def]
    """Erase nothing: return the pipeline (a copy unless ``in_place``)."""
    del request, params
    return pipe if in_place else pipe.copy()


# --- the registry line (in erase_diffusion/methods/__init__.py, inside METHODS) -------

KEEP_EVERYTHING = MethodSpec(
    name="keep-everything",
    params=f"{__name__}:KeepEverythingParams",
    entry=f"{__name__}:keep_everything",
    summary="Do-nothing baseline: the original pipeline, unchanged.",
    paper=None,
)


def test_a_new_method_runs_through_the_unchanged_recipe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from erase_diffusion.benchmarks.erase import DIFFUSION_ERASE_QUICK
    from erase_diffusion.methods import METHODS

    methods = Registry("method", [*METHODS.values(), KEEP_EVERYTHING])
    benchmark = dataclasses.replace(DIFFUSION_ERASE_QUICK, methods=methods, method_names=None)
    spec = benchmark.default_spec("quick").model_dump(mode="json")
    spec["methods"] = [{"name": "keep-everything", "params": {"note": "hello"}}]
    spec["params"].update(
        erase=[["circle"]], erased_samples=8, preserve_samples=8, preserve_prompts=4, attacks=[]
    )
    parsed = benchmark.parse(BenchmarkSpec.model_validate(spec))
    assert isinstance(parsed.methods[0].params, KeepEverythingParams)
    result = benchmark.run(parsed, NullProgress(), str(tmp_path))
    rates = {m.labels["method"]: m.value for m in result.metrics if m.name == "erasure_rate"}
    assert set(rates) == {"original", "keep-everything"}
    assert rates["keep-everything"] == rates["original"] > 0.5
