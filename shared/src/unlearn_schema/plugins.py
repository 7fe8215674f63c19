"""The contract through which packages register benchmarks, methods and metrics.

A package declares entry points in three groups (see ``ENTRY_POINT_GROUPS``)::

    [project.entry-points."unlearn.benchmarks"]
    planted-quickstart = "graph_algos.benchmarks:PLANTED_QUICKSTART"

Benchmark entry points resolve to a :class:`Benchmark`; method and metric entry
points resolve to the function that implements them. Listing reads only entry-point
names, so it imports no package code; a package's benchmarks module must still keep
heavy imports (torch, diffusers) inside functions, because running loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.results import BenchmarkResult

BENCHMARKS_GROUP = "unlearn.benchmarks"
METHODS_GROUP = "unlearn.methods"
METRICS_GROUP = "unlearn.metrics"
ENTRY_POINT_GROUPS: dict[str, str] = {
    "benchmarks": BENCHMARKS_GROUP,
    "methods": METHODS_GROUP,
    "metrics": METRICS_GROUP,
}


class Progress(Protocol):
    """Progress reporting handed to a benchmark; the CLI draws it as a progress bar."""

    def start(self, total: int, description: str) -> None:
        """Announce ``total`` units of work (replaces any previous total)."""

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        """Mark ``steps`` units done, with an optional short status."""


class NullProgress:
    """A :class:`Progress` that reports nothing (library use, tests)."""

    def start(self, total: int, description: str) -> None:
        del total, description

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        del steps, status


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark recipe.

    ``default_spec(size)`` gives the spec a plain ``unlearn-bench run NAME`` uses;
    ``run(spec, progress, out_dir)`` composes world, model, methods and metrics and
    returns a :class:`BenchmarkResult`. ``out_dir`` is where it may write artifacts
    (image grids, checkpoints); the result names them by path. ``check(spec)``, when
    given, validates the benchmark-specific parts of a spec (world and method params)
    cheaply and raises ``ValueError``/``SpecError`` naming the bad value.
    """

    name: str
    summary: str
    default_spec: Callable[[Size], BenchmarkSpec]
    run: Callable[[BenchmarkSpec, Progress, str], BenchmarkResult]
    check: Callable[[BenchmarkSpec], None] | None = None
    # Wall seconds a quick run should take on 2 idle cores; slower runs get a note.
    quick_budget_s: float | None = None
