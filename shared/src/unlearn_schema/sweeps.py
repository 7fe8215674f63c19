"""Sweeps: one benchmark spec run over a grid of spec fields, one run per grid cell."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, JsonValue, field_validator, model_validator

from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec

SWEEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A sweep's name becomes part of file names and run ids."""

_GRID_PATH = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_-]*(\[\d+\])*(\.[A-Za-z_][A-Za-z0-9_-]*(\[\d+\])*)*$"
)


class ParetoPlot(StrictModel):
    """Draw every finished cell as one point (``x``, ``y``) with the oracle's point.

    ``x`` and ``y`` are metric names the benchmark reports; a cell's value is the mean
    of that metric over the rows labelled with a method, and the oracle's point is
    their ``reference``. Points are grouped into one series per value of the grid path
    ``by`` (``methods``: one front per method), and each series' Pareto front is drawn.
    """

    x: str = Field(min_length=1, description="Metric on the x axis, e.g. a forget score.")
    y: str = Field(min_length=1, description="Metric on the y axis, e.g. a retain score.")
    by: str = Field(default="methods", description="Grid path whose value names the series.")
    title: str | None = None


class SweepSpec(StrictModel):
    """A benchmark spec plus a grid of spec fields: one benchmark run per grid cell.

    ``grid`` maps `--set` paths (``methods``, ``seeds``, ``size``,
    ``world.params.people``, ``methods[0].params.learning_rate``) to the values each
    takes; the cells are the product of those lists, applied in the order written. A
    list of such mappings is a union of products (a learning-rate range per method).
    For the path ``methods``, a name takes the default spec's configs of that name and
    a mapping (``{name: npo, params: {...}}``) is exactly one method config; for
    ``seeds`` a number is one seed.
    """

    sweep: str = Field(description="File-safe name: lowercase letters, digits, '-' and '_'.")
    summary: str = ""
    spec: dict[str, JsonValue] = Field(
        description="A benchmark spec (as `unlearn-bench show` prints it); parts left out "
        "take the benchmark's default for the spec's size."
    )
    grid: list[dict[str, list[JsonValue]]] = Field(min_length=1)
    pareto: ParetoPlot | None = None

    @field_validator("sweep")
    @classmethod
    def _file_safe(cls, name: str) -> str:
        if not SWEEP_NAME.match(name):
            raise ValueError(
                f"sweep name {name!r} must be 1-64 lowercase letters, digits, '-' or '_' "
                "(it names files and run ids)"
            )
        return name

    @field_validator("spec")
    @classmethod
    def _is_a_spec(cls, spec: dict[str, JsonValue]) -> dict[str, JsonValue]:
        # Checked as a spec here; kept as written so that parts left out still take
        # the benchmark's defaults when each cell is parsed.
        BenchmarkSpec.model_validate(spec)
        return spec

    @field_validator("grid", mode="before")
    @classmethod
    def _one_or_many(cls, grid: Any) -> Any:
        return [grid] if isinstance(grid, dict) else grid

    @field_validator("grid")
    @classmethod
    def _paths_and_values(
        cls, grid: list[dict[str, list[JsonValue]]]
    ) -> list[dict[str, list[JsonValue]]]:
        for index, axes in enumerate(grid):
            if not axes:
                raise ValueError(f"grid[{index}] is empty; give at least one path: [values]")
            for path, values in axes.items():
                if not _GRID_PATH.match(path):
                    raise ValueError(
                        f"grid[{index}]: {path!r} is not a spec path (paths look like seeds, "
                        "world.params.people or methods[0].params.learning_rate)"
                    )
                if path == "benchmark":
                    raise ValueError(
                        f"grid[{index}]: a sweep runs one benchmark; 'benchmark' is not a grid "
                        "path (write one sweep per benchmark)"
                    )
                if not values:
                    raise ValueError(f"grid[{index}].{path}: an empty list of values")
        return grid

    @model_validator(mode="after")
    def _pareto_by_is_a_path(self) -> SweepSpec:
        if self.pareto is not None:
            paths = {path for axes in self.grid for path in axes}
            if self.pareto.by not in paths:
                raise ValueError(
                    f"pareto.by: {self.pareto.by!r} is not a grid path; accepted: "
                    + ", ".join(sorted(paths))
                )
        return self

    def cell_count(self) -> int:
        """How many cells the grid spells out (before identical cells are merged)."""
        total = 0
        for axes in self.grid:
            count = 1
            for values in axes.values():
                count *= len(values)
            total += count
        return total
