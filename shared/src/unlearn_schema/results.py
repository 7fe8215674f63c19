"""Results: metric values, plottable curves, benchmark results and run reports."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec

Direction = Literal["higher", "lower", "target", "none"]
"""Whether a higher or a lower value is better; ``target``: the closer to ``reference``
(the retrain oracle's value) the better, as for deletion metrics where doing more than
the oracle is as wrong as doing less; ``none`` for descriptive numbers."""

Flag = Literal["clipped", "degenerate"]
"""``clipped``: the value hit a bound the metric imposes (e.g. a ratio's probabilities
clipped to [0.01, 0.99]); ``degenerate``: the metric is defined but uninformative here
(e.g. an AUC over one class)."""


class MetricValue(StrictModel):
    """One measured number with its meaning.

    ``labels`` say what it was measured on (method, subgraph, split), so that one
    run can carry a whole table. ``reference`` holds the value of the reference the
    number should be compared with: for unlearning, the exact retrain oracle.
    """

    name: str = Field(min_length=1)
    value: float
    direction: Direction = "none"
    reference: float | None = None
    reference_name: str | None = Field(default=None, description="e.g. 'retrain oracle'.")
    unit: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    flag: Flag | None = Field(default=None, description="Marks a clipped or degenerate value.")

    @field_validator("value", "reference")
    @classmethod
    def _finite_or_none(cls, value: float | None) -> float | None:
        # NaN and inf do not survive JSON; an undefined metric must be left out instead.
        if value is not None and not math.isfinite(value):
            raise ValueError(f"metric values must be finite, got {value}")
        return value


class Series(StrictModel):
    """One line of a curve plot."""

    label: str
    x: list[float]
    y: list[float]
    y_err: list[float] | None = None

    @model_validator(mode="after")
    def _same_lengths(self) -> Series:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} points but y has {len(self.y)}")
        if self.y_err is not None and len(self.y_err) != len(self.y):
            raise ValueError(f"y_err has {len(self.y_err)} points but y has {len(self.y)}")
        return self


class Curve(StrictModel):
    """Plot data returned by a benchmark; the app draws it, so packages need no matplotlib."""

    name: str = Field(min_length=1, description="File-safe identifier of the plot.")
    title: str
    x_label: str
    y_label: str
    series: list[Series] = Field(min_length=1)
    hlines: dict[str, float] = Field(default_factory=dict, description="Labelled horizontal lines.")
    vlines: dict[str, float] = Field(default_factory=dict, description="Labelled vertical lines.")
    log_x: bool = False


class Heatmap(StrictModel):
    """A value over a grid (a phase diagram): ``z[i][j]`` belongs to ``y[i]`` and ``x[j]``.

    ``contours`` are labelled boundary lines drawn over the grid, each a list of (x, y)
    points (for instance a theoretical threshold).
    """

    name: str = Field(min_length=1, description="File-safe identifier of the plot.")
    title: str
    x_label: str
    y_label: str
    z_label: str
    x: list[float] = Field(min_length=1)
    y: list[float] = Field(min_length=1)
    z: list[list[float]] = Field(min_length=1)
    z_range: tuple[float, float] | None = Field(
        default=None, description="Colour scale limits; the data's range when absent."
    )
    contours: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)
    log_x: bool = False

    @model_validator(mode="after")
    def _grid_shape(self) -> Heatmap:
        if len(self.z) != len(self.y):
            raise ValueError(f"z has {len(self.z)} rows but y has {len(self.y)} values")
        for index, row in enumerate(self.z):
            if len(row) != len(self.x):
                raise ValueError(
                    f"z row {index} has {len(row)} values but x has {len(self.x)} values"
                )
            if not all(math.isfinite(value) for value in row):
                raise ValueError(f"z row {index} holds a value that is not finite: {row}")
        return self


MAX_GRAPH_PLOT_NODES = 5000


class GraphPlot(StrictModel):
    """A small graph to draw, its nodes coloured by group (a community, a node type).

    Nodes are 0..node_count-1. ``positions`` is a layout the benchmark computed (the app
    draws nodes on a circle, group by group, without one); ``groups`` and ``labels`` give
    each node's colour and hover text. The HTML report draws it twice: a static PNG and,
    with the ``plotly`` extra of unlearn-bench, an interactive figure.
    """

    name: str = Field(min_length=1, description="File-safe identifier of the plot.")
    title: str
    node_count: int = Field(ge=1, le=MAX_GRAPH_PLOT_NODES)
    edges: list[tuple[int, int]] = Field(default_factory=list)
    groups: list[int] | None = Field(default=None, description="Group (colour) of each node.")
    group_names: dict[int, str] = Field(default_factory=dict, description="Legend names.")
    labels: list[str] | None = Field(default=None, description="Hover text of each node.")
    positions: list[tuple[float, float]] | None = Field(default=None, description="Layout.")

    @model_validator(mode="after")
    def _per_node(self) -> GraphPlot:
        bad = [
            e
            for e in self.edges
            if not (0 <= e[0] < self.node_count and 0 <= e[1] < self.node_count)
        ]
        if bad:
            raise ValueError(
                f"edges must join nodes 0..{self.node_count - 1}; out of range: {bad[:5]}"
            )
        for field in ("groups", "labels", "positions"):
            values = getattr(self, field)
            if values is not None and len(values) != self.node_count:
                raise ValueError(
                    f"{field} has {len(values)} entries but node_count is {self.node_count}"
                )
        return self


class Table(StrictModel):
    """A short table a reader should see first (the CLI prints it after a run)."""

    title: str
    header: list[str] = Field(min_length=1)
    rows: list[list[str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rectangular(self) -> Table:
        for index, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(
                    f"row {index} has {len(row)} cells but the header has {len(self.header)}"
                )
        return self


class BenchmarkResult(StrictModel):
    """What a benchmark recipe returns; the runner wraps it into a `RunReport`."""

    metrics: list[MetricValue] = Field(default_factory=list)
    curves: list[Curve] = Field(default_factory=list)
    heatmaps: list[Heatmap] = Field(default_factory=list, description="Phase diagrams.")
    graphs: list[GraphPlot] = Field(
        default_factory=list, description="Small graphs and their communities."
    )
    timings: dict[str, float] = Field(default_factory=dict, description="Phase -> seconds.")
    artifacts: dict[str, str] = Field(default_factory=dict, description="Name -> file path.")
    notes: list[str] = Field(default_factory=list, description="Plain findings for the reader.")
    summary: Table | None = Field(default=None, description="The one table to read first.")


class Hardware(StrictModel):
    """The machine a run was measured on."""

    platform: str
    machine: str
    processor: str
    cpu_count: int
    memory_gib: float | None = None
    python: str
    accelerator: str | None = None


class RunReport(StrictModel):
    """A complete, rerunnable record of one benchmark run."""

    schema_version: Literal[1] = 1
    run_id: str = Field(min_length=1)
    benchmark: str
    package: str = Field(description="Distribution that registered the benchmark.")
    spec: BenchmarkSpec
    seed: int = Field(description="First seed of the spec; all seeds are in spec.seeds.")
    started_at: datetime
    wall_time_s: float = Field(ge=0)
    result: BenchmarkResult
    package_versions: dict[str, str]
    hardware: Hardware
