"""The report's sweep sections: the grid as one table, and the Pareto plot a sweep asks for.

A cell's value for a metric is the mean of that metric over the cell's rows labelled
with an unlearning method (not the ``original`` model or an ``oracle`` row), or over
all its rows when none carries a method; the oracle's point is those rows' mean
``reference`` (the retrain oracle's value, as every benchmark reports it).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from unlearn_schema import Direction, MetricValue, ParetoPlot, RunReport, SweepSpec

from unlearn_bench.sweep_store import CellRecord, SweepCellStore

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_METRIC_COLUMNS = 6
MAX_ERROR_CHARS = 160


class ReportWriter(Protocol):
    """What a section needs from the report's writer (`report._Writer`)."""

    def heading(self, level: int, text: str) -> None: ...
    def paragraph(self, text: str) -> None: ...
    def raw(self, markup: str) -> None: ...
    def html_table(self, header: list[str], rows: list[list[str]], css: str = "long") -> str: ...
    def image(self, name: str, png: bytes, alt: str) -> None: ...


@dataclass
class SweepSection:
    """One stored sweep: its definition, its cells and the reports of its finished cells."""

    sweep: SweepSpec
    benchmark: str
    cells: list[CellRecord]
    reports: dict[str, RunReport]


def load_sweep_sections(store_path: Path, reports: list[RunReport]) -> list[SweepSection]:
    """Every sweep recorded in the store at ``store_path``, with its cells' reports."""
    by_id = {report.run_id: report for report in reports}
    cell_store = SweepCellStore(store_path)
    sections = []
    for sweep, benchmark in cell_store.sweeps():
        cells = cell_store.cells(sweep.sweep)
        found = {c.run_id: by_id[c.run_id] for c in cells if c.run_id in by_id}
        sections.append(SweepSection(sweep, benchmark, cells, found))
    return sections


def _is_method_row(metric: MetricValue) -> bool:
    method = metric.labels.get("method")
    return method is not None and method != "original" and not method.startswith("oracle")


def cell_value(report: RunReport, name: str) -> tuple[float, float | None, Direction] | None:
    """(value, oracle reference, direction) of metric ``name`` in one cell; None if absent."""
    rows = [m for m in report.result.metrics if m.name == name]
    chosen = [m for m in rows if _is_method_row(m)] or [m for m in rows if "method" not in m.labels]
    if not chosen:
        return None
    value = sum(m.value for m in chosen) / len(chosen)
    references = [m.reference for m in chosen if m.reference is not None]
    reference = sum(references) / len(references) if references else None
    return value, reference, chosen[0].direction


def original_value(report: RunReport, name: str) -> float | None:
    """The original (not unlearned) model's value of ``name`` in one cell, where reported."""
    rows = [
        m.value
        for m in report.result.metrics
        if m.name == name and m.labels.get("method") == "original"
    ]
    return sum(rows) / len(rows) if rows else None


def pareto_front(
    points: list[tuple[float, float]], x_lower: bool, y_lower: bool
) -> list[tuple[float, float]]:
    """The points no other point beats on both axes (ties kept), sorted by x.

    ``x_lower``/``y_lower``: whether a lower value is better on that axis.
    """
    sx, sy = (-1.0 if x_lower else 1.0), (-1.0 if y_lower else 1.0)

    def beats(q: tuple[float, float], p: tuple[float, float]) -> bool:
        ge = sx * q[0] >= sx * p[0] and sy * q[1] >= sy * p[1]
        return ge and (sx * q[0] > sx * p[0] or sy * q[1] > sy * p[1])

    front = {p for p in points if not any(beats(q, p) for q in points)}
    return sorted(front)


def plot_pareto(section: SweepSection, pareto: ParetoPlot) -> bytes | None:
    """PNG: every finished cell as a point, each series' Pareto front, the oracle's point."""
    from unlearn_bench.report import _figure_png

    series: dict[str, list[tuple[float, float]]] = {}
    directions: tuple[Direction, Direction] = ("none", "none")
    oracle: list[tuple[float, float]] = []
    original: list[tuple[float, float]] = []
    for cell in section.cells:
        report = section.reports.get(cell.run_id)
        if cell.status != "ok" or report is None:
            continue
        x, y = cell_value(report, pareto.x), cell_value(report, pareto.y)
        if x is None or y is None:
            continue
        directions = (x[2], y[2])
        series.setdefault(cell.values.get(pareto.by, "?"), []).append((x[0], y[0]))
        if x[1] is not None and y[1] is not None:
            oracle.append((x[1], y[1]))
        ox, oy = original_value(report, pareto.x), original_value(report, pareto.y)
        if ox is not None and oy is not None:
            original.append((ox, oy))
    if not series:
        return None
    x_lower, y_lower = directions[0] == "lower", directions[1] == "lower"

    def mean(points: list[tuple[float, float]]) -> tuple[float, float]:
        return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)

    def draw(ax: Axes) -> None:
        for index, (name, points) in enumerate(sorted(series.items())):
            colour = f"C{index % 10}"
            ax.scatter([p[0] for p in points], [p[1] for p in points], color=colour, alpha=0.35)
            front = pareto_front(points, x_lower, y_lower)
            ax.plot([p[0] for p in front], [p[1] for p in front], "-o", color=colour, label=name)
        if original:
            ox, oy = mean(original)
            ax.scatter([ox], [oy], marker="X", s=90, color="0.4", label="original model", zorder=5)
        if oracle:
            rx, ry = mean(oracle)
            ax.scatter([rx], [ry], marker="*", s=220, color="k", label="retrain oracle", zorder=6)
        arrow = {"lower": " (lower is better)", "higher": " (higher is better)"}
        ax.set_xlabel(pareto.x + arrow.get(directions[0], ""))
        ax.set_ylabel(pareto.y + arrow.get(directions[1], ""))
        title = pareto.title or f"{section.sweep.sweep}: {pareto.y} vs {pareto.x}"
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)

    return _figure_png(draw)


def _metric_names(section: SweepSection) -> list[str]:
    if section.sweep.pareto is not None:
        return [section.sweep.pareto.x, section.sweep.pareto.y]
    names: list[str] = []
    for report in section.reports.values():
        for metric in report.result.metrics:
            if metric.name not in names:
                names.append(metric.name)
        break
    return names[:MAX_METRIC_COLUMNS]


def render_sweep(writer: ReportWriter, section: SweepSection, level: int) -> None:
    """One sweep: counts, the Pareto plot (if asked for), then one table row per cell."""
    cells = section.cells
    counts = {status: sum(c.status == status for c in cells) for status in ("ok", "failed")}
    pending = len(cells) - counts["ok"] - counts["failed"]
    writer.heading(level, f"Sweep {section.sweep.sweep}")
    writer.paragraph(
        f"{section.benchmark}: {counts['ok']} of {len(cells)} cells ok, {counts['failed']} failed"
        + (f", {pending} not run yet" if pending else "")
        + (f". {section.sweep.summary}" if section.sweep.summary else ".")
    )
    if section.sweep.pareto is not None:
        png = plot_pareto(section, section.sweep.pareto)
        if png is not None:
            writer.image(f"sweep-{section.sweep.sweep}-pareto", png, "Pareto front")
    paths: list[str] = []
    for cell in cells:
        paths.extend(p for p in cell.values if p not in paths)
    names = _metric_names(section)
    oracle: dict[str, float | None] = {}
    reference_name: str | None = None
    rows = []
    for cell in cells:
        report = section.reports.get(cell.run_id)
        values = []
        for name in names:
            found = cell_value(report, name) if report is not None else None
            values.append(f"{found[0]:.4g}" if found else "")
            if found and found[1] is not None and report is not None:
                oracle.setdefault(name, found[1])
                reference_name = reference_name or next(
                    (m.reference_name for m in report.result.metrics if m.reference_name), None
                )
        error = (cell.error or "")[:MAX_ERROR_CHARS]
        row = [cell.values.get(p, "") for p in paths]
        rows.append([*row, cell.status, *values, cell.run_id, error])
    if oracle:
        reference = [f"{oracle[n]:.4g}" if oracle.get(n) is not None else "" for n in names]
        first = [reference_name or "reference", *[""] * (len(paths) - 1)]
        rows.insert(0, [*first, "", *reference, "", ""])
    header = [*paths, "status", *names, "run", "error"]
    table = writer.html_table(header, rows)
    writer.raw(
        f"<details open><summary>{html.escape(str(len(cells)))} cells</summary>{table}</details>"
    )
