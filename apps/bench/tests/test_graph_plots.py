from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from unlearn_bench.graph_plots import graph_layout
from unlearn_bench.report import render_report
from unlearn_bench.runner import hardware
from unlearn_schema import BenchmarkResult, BenchmarkSpec, GraphPlot, RunReport


def _ring_plot(name: str) -> GraphPlot:
    # a 4-node ring member star (group 1) beside two ordinary nodes (group 0)
    return GraphPlot(
        name=name,
        title=f"fraud ring {name}",
        node_count=6,
        edges=[(0, 1), (0, 2), (0, 3), (3, 4), (4, 5)],
        groups=[1, 1, 1, 1, 0, 0],
        group_names={0: "benign", 1: "ring"},
        labels=[f"user {i}" for i in range(6)],
    )


def _report(*plots: GraphPlot) -> RunReport:
    return RunReport(
        run_id="r1",
        benchmark="bench",
        package="unlearn-bench",
        spec=BenchmarkSpec(benchmark="bench", size="quick", seeds=[0]),
        seed=0,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        wall_time_s=1.0,
        result=BenchmarkResult(graphs=list(plots)),
        package_versions={},
        hardware=hardware(),
    )


def test_circle_layout_keeps_groups_together_and_positions_win() -> None:
    plot = _ring_plot("a")
    layout = graph_layout(plot)
    assert len(layout) == 6
    assert all(abs(x * x + y * y - 1.0) < 1e-12 for x, y in layout)
    # group 0 (nodes 4, 5) comes first on the circle: angles 0 and 60 degrees
    assert layout[4] == pytest.approx((1.0, 0.0)) and layout[5][1] > 0
    given = plot.model_copy(update={"positions": [(float(i), 0.0) for i in range(6)]})
    assert graph_layout(given)[3] == (3.0, 0.0)


def test_report_draws_a_static_png_of_each_graph_in_both_formats() -> None:
    report = _report(_ring_plot("a"))
    page = render_report([report], "html")
    assert '<img alt="fraud ring a" src="data:image/png;base64,' in page
    markdown = render_report([report], "md", embed_images=True)
    assert "![fraud ring a](data:image/png;base64," in markdown
    assert "plotly" not in markdown.lower()  # interactive figures are HTML only


@pytest.mark.requires("plotly")
def test_html_report_has_interactive_figures_with_plotly_js_inlined_once() -> None:
    page = render_report([_report(_ring_plot("a"), _ring_plot("b"))], "html")
    assert 'id="bench-a"' in page and 'id="bench-b"' in page
    assert page.count("Plotly.newPlot") == 2
    assert page.count("* plotly.js v") == 1  # the library, inlined with the first figure
    assert "user 3" in page and '"name":"ring"' in page
    sources = re.findall(r"<script[^>]*\bsrc\s*=", page)
    assert sources == []  # nothing fetched: no CDN, works offline
    assert not re.search(r"src=[\"']https?://", page)
