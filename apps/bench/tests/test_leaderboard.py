"""Leaderboards on a small example worked out by hand."""

from __future__ import annotations

import re

from unlearn_bench.leaderboard import REFERENCE_ROW, build_leaderboards, render_leaderboard
from unlearn_schema import MetricValue


def _m(name: str, method: str, value: float, **extra: object) -> MetricValue:
    labels = {"method": method, "ratio": "0.05", **extra.pop("labels", {})}  # type: ignore[dict-item]
    return MetricValue(name=name, value=value, labels=labels, **extra)  # type: ignore[arg-type]


METRICS = [
    # deleted-edge AUROC: the oracle reaches 0.60; doing more (0.95) is as wrong as less.
    _m("auroc", "gnndelete", 0.62, reference=0.60, direction="target"),
    _m("auroc", "gradient-ascent", 0.95, reference=0.60, direction="target"),
    _m("auroc", "gif", 0.50, reference=0.60, direction="target"),
    _m("accuracy", "gnndelete", 0.80, direction="higher"),
    _m("accuracy", "gradient-ascent", 0.40, direction="higher"),
    _m("accuracy", "gif", 0.70, direction="higher"),
    _m("ratio", "gif", 52.4, flag="clipped"),
    # two seeds of one method average; the seed is not a scenario
    _m("time", "gif", 1.0, labels={"seed": "0"}, direction="lower"),
    _m("time", "gif", 3.0, labels={"seed": "1"}, direction="lower"),
    _m("mia", "gif", 0.5, labels={"attack": "loss"}),
    _m("auroc", "gnndelete", 0.7, reference=0.65, direction="target", labels={"ratio": "0.1"}),
]


def _background(table: str, method: str, column: int) -> str | None:
    row = re.search(rf'<td class="method">{re.escape(method)}</td>(.*?)</tr>', table)
    assert row is not None
    cells = re.findall(r"<td([^>]*)>(.*?)</td>", row.group(1))
    match = re.search(r"background:hsl\((\d+),", cells[column][0])
    return match.group(1) if match else None


def test_one_board_per_scenario_with_the_oracle_row_first() -> None:
    boards = build_leaderboards(METRICS)
    assert [b.title for b in boards] == ["ratio=0.05", "ratio=0.1"]
    board = boards[0]
    assert list(board.rows) == [REFERENCE_ROW, "gnndelete", "gradient-ascent", "gif"]
    assert [c.key for c in board.columns] == [
        "auroc",
        "accuracy",
        "ratio",
        "time",
        "mia[attack=loss]",
    ]
    assert board.rows[REFERENCE_ROW]["auroc"].value == 0.60
    assert board.rows["gif"]["time"].value == 2.0  # mean of seeds 1 and 3


def test_cells_are_shaded_by_distance_to_the_oracle_or_by_rank() -> None:
    table = render_leaderboard(build_leaderboards(METRICS)[0])
    # auroc: distances 0.02, 0.35, 0.10 -> hues 120*(1 - d/0.35)
    assert _background(table, "gnndelete", 0) == "113"
    assert _background(table, "gradient-ascent", 0) == "0"
    assert _background(table, "gif", 0) == "86"
    # accuracy (higher is better): 0.8 best (green), 0.4 worst (red)
    assert _background(table, "gnndelete", 1) == "120"
    assert _background(table, "gradient-ascent", 1) == "0"
    assert _background(table, "gif", 1) == "90"
    assert '<span class="flag">clipped</span>' in table
    assert "<sub>×2</sub>" in table and "mean of 2 seeds" in table
    assert "◎" in table and "↑" in table and "↓" in table


def test_a_method_named_retrain_is_the_oracle_row() -> None:
    metrics = [
        _m("auroc", "d2dgn", 0.7, reference=0.6, direction="target"),
        _m("auroc", "retrain", 0.6, direction="target"),
    ]
    board = build_leaderboards(metrics)[0]
    assert list(board.rows) == ["retrain", "d2dgn"]
    assert 'class="reference"' in render_leaderboard(board)


def test_an_oracle_row_with_few_metrics_of_its_own_takes_the_references() -> None:
    # e.g. an attack run on the oracle too: its row must still show the oracle's clean values
    metrics = [
        _m("utility", "npo", 0.69, reference=0.73, direction="higher"),
        _m("attacked", "npo", 0.30, reference=0.05, direction="target"),
        _m("attacked", "oracle", 0.05, direction="target"),
    ]
    board = build_leaderboards(metrics)[0]
    assert list(board.rows) == ["oracle", "npo"]
    assert board.rows["oracle"]["utility"].value == 0.73
    assert board.rows["oracle"]["attacked"].value == 0.05  # its own value kept


def test_metrics_without_a_method_make_no_leaderboard() -> None:
    assert build_leaderboards([MetricValue(name="power", value=0.9, labels={"test": "x"})]) == []
