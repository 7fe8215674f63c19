"""Leaderboards: per benchmark and scenario, a method x metric table, oracle first.

A *scenario* is what a run's labels say besides the method, the seed and the attack
(e.g. ``deletion_ratio=0.05, scenario=out``); a *column* is a metric name, qualified
by its attack where it has one. Values of several seeds are averaged (the cell says
how many). The first row holds the retrain oracle's values, taken from the metrics'
``reference`` (or a method named ``retrain``/``oracle``); cells are shaded by their
distance to it for metrics whose target is the oracle's value (``direction="target"``,
or a reference given with no direction), and from worst to best for ``higher``/
``lower`` metrics. Clipped and degenerate values are marked.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from unlearn_schema import MetricValue

ROW_LABELS = ("method",)
AVERAGED_LABELS = ("seed", "std", "seeds")
COLUMN_LABELS = ("attack",)
REFERENCE_ROW = "retrain oracle (reference)"

CSS = """
.unlearn-report{font-family:system-ui,sans-serif;max-width:80em;margin:auto;padding:0 1em}
.unlearn-report h2{border-bottom:2px solid #3f51b5;padding-bottom:.2em}
.leaderboard-wrap{overflow-x:auto;margin:.6em 0 1.2em}
table.leaderboard{border-collapse:collapse;font-size:.8rem;font-variant-numeric:tabular-nums}
table.leaderboard th,table.leaderboard td{border:1px solid #d0d4e0;padding:3px 7px;
 text-align:right;white-space:nowrap}
table.leaderboard th{background:#eef0f8;position:sticky;top:0}
table.leaderboard th small{font-weight:normal;color:#555}
table.leaderboard td.method,table.leaderboard th.method{text-align:left;position:sticky;
 left:0;background:#fff;font-weight:600}
table.leaderboard tr.reference td{font-style:italic;background:#f5f5f5}
table.leaderboard .flag{color:#b00020;font-size:.7em;font-weight:700;margin-left:.2em}
table.long{border-collapse:collapse;font-size:.75rem}
table.long td,table.long th{border:1px solid #ddd;padding:2px 6px}
details{margin:.5em 0}summary{cursor:pointer;color:#3f51b5}
"""


@dataclass
class Cell:
    """The mean of one method's values of one column in one scenario."""

    values: list[float] = field(default_factory=list)
    references: list[float] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def value(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def reference(self) -> float | None:
        return sum(self.references) / len(self.references) if self.references else None


@dataclass
class Column:
    key: str
    name: str
    qualifier: str
    direction: str
    unit: str | None
    reference_name: str | None = None

    @property
    def target(self) -> bool:
        return self.direction == "target" or (
            self.direction == "none" and self.reference_name is not None
        )


@dataclass
class Leaderboard:
    scenario: dict[str, str]
    columns: list[Column]
    rows: dict[str, dict[str, Cell]]

    @property
    def title(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.scenario.items()) or "all runs"


def _column_of(metric: MetricValue) -> tuple[str, str]:
    qualifier = ", ".join(f"{k}={metric.labels[k]}" for k in COLUMN_LABELS if k in metric.labels)
    return (f"{metric.name}[{qualifier}]" if qualifier else metric.name), qualifier


def build_leaderboards(metrics: list[MetricValue]) -> list[Leaderboard]:
    """Leaderboards of every scenario whose metrics carry a ``method`` label."""
    boards: dict[tuple[tuple[str, str], ...], Leaderboard] = {}
    for metric in metrics:
        method = metric.labels.get("method")
        if method is None:
            continue
        scenario = tuple(
            (k, v)
            for k, v in metric.labels.items()
            if k not in (*ROW_LABELS, *AVERAGED_LABELS, *COLUMN_LABELS)
        )
        board = boards.setdefault(scenario, Leaderboard(dict(scenario), [], {}))
        key, qualifier = _column_of(metric)
        column = next((c for c in board.columns if c.key == key), None)
        if column is None:
            column = Column(key, metric.name, qualifier, metric.direction, metric.unit)
            board.columns.append(column)
        if metric.reference is not None and column.reference_name is None:
            column.reference_name = metric.reference_name or "reference"
        cell = board.rows.setdefault(method, {}).setdefault(key, Cell())
        cell.values.append(metric.value)
        if metric.reference is not None:
            cell.references.append(metric.reference)
        if metric.flag is not None:
            cell.flags.add(metric.flag)
    for board in boards.values():
        _add_reference_row(board)
    return list(boards.values())


def _is_oracle(method: str) -> bool:
    lowered = method.lower()
    return lowered.startswith(("retrain", "oracle")) and "other" not in lowered


def _add_reference_row(board: Leaderboard) -> None:
    reference: dict[str, Cell] = {}
    for method, cells in board.rows.items():
        if _is_oracle(method):
            continue
        for key, cell in cells.items():
            if cell.reference is not None and key not in reference:
                reference[key] = Cell(values=[cell.reference])
    ordered: dict[str, dict[str, Cell]] = {}
    oracles = [m for m in board.rows if _is_oracle(m)]
    if reference and not oracles:
        ordered[REFERENCE_ROW] = reference
    for method in oracles:
        # An oracle row may carry only some metrics itself (say, attacks run on it): the
        # others' references are its values too.
        cells = board.rows[method]
        for key, cell in reference.items():
            cells.setdefault(key, cell)
        ordered[method] = cells
    for method in ("original",):
        if method in board.rows:
            ordered[method] = board.rows[method]
    for method, cells in board.rows.items():
        ordered.setdefault(method, cells)
    board.rows = ordered


def _target_of(board: Leaderboard, column: Column) -> float | None:
    for method, cells in board.rows.items():
        if (method == REFERENCE_ROW or _is_oracle(method)) and column.key in cells:
            return cells[column.key].value
    return None


def _shade(t: float) -> str:
    """Green (t=0, best) through yellow to red (t=1, worst)."""
    t = min(max(t, 0.0), 1.0)
    return f"hsl({120 * (1 - t):.0f},65%,86%)"


def _shades(board: Leaderboard, column: Column) -> dict[str, str]:
    values = {
        method: cells[column.key].value
        for method, cells in board.rows.items()
        if column.key in cells and method != REFERENCE_ROW and not _is_oracle(method)
    }
    if len(values) < 2 and not column.target:
        return {}
    if column.target:
        target = _target_of(board, column)
        if target is None:
            return {}
        distances = {m: abs(v - target) for m, v in values.items()}
        scale = max(distances.values(), default=0.0)
        if scale <= 1e-12:
            return {m: _shade(0.0) for m in distances}
        return {m: _shade(d / scale) for m, d in distances.items()}
    if column.direction not in ("higher", "lower"):
        return {}
    low, high = min(values.values()), max(values.values())
    if high - low <= 1e-12:
        return {}
    return {
        m: _shade(
            (high - v) / (high - low) if column.direction == "higher" else (v - low) / (high - low)
        )
        for m, v in values.items()
    }


def _format(value: float) -> str:
    if value == 0 or (1e-3 <= abs(value) < 1e5):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.4g}"
    return f"{value:.2e}"


_ARROWS = {
    "higher": "↑ higher is better",
    "lower": "↓ lower is better",
    "target": "◎ closest to the oracle",
}


def render_leaderboard(board: Leaderboard) -> str:
    """One leaderboard as an HTML table (inline shading, so Markdown can hold it)."""
    head = ['<th class="method">method</th>']
    for column in board.columns:
        arrow = _ARROWS.get("target" if column.target else column.direction, "")
        hint = html.escape(arrow + (f"; unit {column.unit}" if column.unit else ""))
        sub = f"<br><small>{html.escape(column.qualifier)}</small>" if column.qualifier else ""
        mark = {"higher": " ↑", "lower": " ↓"}.get(column.direction, " ◎" if column.target else "")
        head.append(f'<th title="{hint}">{html.escape(column.name)}{mark}{sub}</th>')
    shades = {column.key: _shades(board, column) for column in board.columns}
    body = []
    for method, cells in board.rows.items():
        reference = method == REFERENCE_ROW or _is_oracle(method)
        row = [f'<td class="method">{html.escape(method)}</td>']
        for column in board.columns:
            cell = cells.get(column.key)
            if cell is None or not cell.values or not all(math.isfinite(v) for v in cell.values):
                row.append("<td></td>")
                continue
            style = shades[column.key].get(method)
            attrs = f' style="background:{style}"' if style and not reference else ""
            tip = []
            if len(cell.values) > 1:
                tip.append(f"mean of {len(cell.values)} seeds")
            if cell.reference is not None and not reference:
                tip.append(f"oracle {_format(cell.reference)}")
            flags = "".join(
                f'<span class="flag">{html.escape(f)}</span>' for f in sorted(cell.flags)
            )
            if tip:
                attrs += f' title="{html.escape("; ".join(tip))}"'
            count = f"<sub>×{len(cell.values)}</sub>" if len(cell.values) > 1 else ""
            row.append(f"<td{attrs}>{_format(cell.value)}{count}{flags}</td>")
        css = ' class="reference"' if reference else ""
        body.append(f"<tr{css}>" + "".join(row) + "</tr>")
    return (
        '<div class="leaderboard-wrap"><table class="leaderboard"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )
