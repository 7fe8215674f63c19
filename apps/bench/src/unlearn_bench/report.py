"""Tables and plots from the results store, as Markdown or HTML."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from unlearn_schema import Curve, Heatmap, MetricValue, RunReport, atomic_write_bytes

from unlearn_bench.graph_plots import InteractiveFigures, plot_graph
from unlearn_bench.leaderboard import CSS, build_leaderboards, render_leaderboard
from unlearn_bench.sweep_report import SweepSection, render_sweep

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Format = Literal["md", "html"]


def _figure_png(draw: Callable[[Axes], None]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def plot_curve(curve: Curve) -> bytes:
    """PNG of a benchmark's curve: one line per series, reference lines dashed."""

    def draw(ax: Axes) -> None:
        for series in curve.series:
            if series.y_err is not None:
                ax.errorbar(series.x, series.y, yerr=series.y_err, marker="o", label=series.label)
            else:
                ax.plot(series.x, series.y, marker="o", label=series.label)
            if len(series.x) <= 3 and len(curve.series) > 1:
                # Scatter-like series (one point per method): name the point itself.
                for x, y in zip(series.x, series.y, strict=True):
                    ax.annotate(
                        series.label,
                        (x, y),
                        textcoords="offset points",
                        xytext=(4, 4),
                        fontsize=7,
                    )
        for index, (label, value) in enumerate(curve.hlines.items()):
            ax.axhline(value, linestyle="--", color=f"C{index + 5}", label=label)
        for index, (label, value) in enumerate(curve.vlines.items()):
            ax.axvline(value, linestyle=":", color=f"C{index}", label=label)
        if curve.log_x:
            ax.set_xscale("log")
        ax.set_xlabel(curve.x_label)
        ax.set_ylabel(curve.y_label)
        ax.set_title(curve.title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)

    return _figure_png(draw)


def plot_heatmap(heatmap: Heatmap) -> bytes:
    """PNG of a phase diagram: one cell per grid point, labelled boundaries drawn over it.

    Cells sit at evenly spaced positions labelled with the grid values, so uneven grids
    stay readable; boundary points are placed by linear interpolation between them.
    """
    import numpy as np

    def position(values: list[float], targets: list[float], log: bool) -> list[float]:
        grid = np.log(values) if log else np.asarray(values, dtype=float)
        where = np.log(targets) if log else np.asarray(targets, dtype=float)
        order = np.argsort(grid)
        return list(np.interp(where, grid[order], np.arange(len(values))[order]))

    def draw(ax: Axes) -> None:
        low, high = heatmap.z_range if heatmap.z_range else (None, None)
        image = ax.imshow(
            np.asarray(heatmap.z),
            origin="lower",
            aspect="auto",
            vmin=low,
            vmax=high,
            cmap="viridis",
        )
        colorbar = ax.figure.colorbar(image, ax=ax)
        colorbar.set_label(heatmap.z_label)
        for index, (label, points) in enumerate(heatmap.contours.items()):
            if not points:
                continue
            xs = position(heatmap.x, [p[0] for p in points], heatmap.log_x)
            ys = position(heatmap.y, [p[1] for p in points], False)
            ax.plot(xs, ys, linestyle="--", linewidth=2, color=f"C{index + 1}", label=label)
        ax.set_xticks(range(len(heatmap.x)), [f"{v:g}" for v in heatmap.x], fontsize=7)
        ax.set_yticks(range(len(heatmap.y)), [f"{v:g}" for v in heatmap.y], fontsize=7)
        ax.set_xlim(-0.5, len(heatmap.x) - 0.5)
        ax.set_ylim(-0.5, len(heatmap.y) - 0.5)
        ax.set_xlabel(heatmap.x_label)
        ax.set_ylabel(heatmap.y_label)
        ax.set_title(heatmap.title, fontsize=10)
        if heatmap.contours:
            ax.legend(fontsize=8, loc="upper left")

    return _figure_png(draw)


def plot_metric_bars(name: str, metrics: list[MetricValue]) -> bytes:
    """PNG bar chart of one metric across its label combinations, references marked."""

    def draw(ax: Axes) -> None:
        labels = [_label_text(m.labels) or name for m in metrics]
        values = [m.value for m in metrics]
        positions = list(range(len(metrics)))
        ax.barh(positions, values, color="C0")
        for position, metric in zip(positions, metrics, strict=True):
            if metric.reference is not None:
                ax.plot([metric.reference] * 2, [position - 0.4, position + 0.4], "k--")
        ax.set_yticks(positions, labels, fontsize=7)
        arrow = {"higher": " (higher is better)", "lower": " (lower is better)"}
        ax.set_xlabel(name + arrow.get(metrics[0].direction, ""))
        ax.set_title(name, fontsize=10)

    return _figure_png(draw)


def _label_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}"


def _metric_rows(metrics: list[MetricValue]) -> tuple[list[str], list[list[str]]]:
    label_keys: list[str] = []
    for metric in metrics:
        for key in metric.labels:
            if key not in label_keys:
                label_keys.append(key)
    header = ["metric", *label_keys, "value", "reference", "better"]
    rows = [
        [
            m.name,
            *[m.labels.get(k, "") for k in label_keys],
            _fmt(m.value),
            (_fmt(m.reference) + (f" ({m.reference_name})" if m.reference_name else ""))
            if m.reference is not None
            else "",
            (m.direction if m.direction != "none" else "") + (f" ({m.flag})" if m.flag else ""),
        ]
        for m in metrics
    ]
    return header, rows


class _Writer:
    """Accumulates a report in one format; images are files (md) or inline (html/embedded)."""

    def __init__(self, fmt: Format, image_dir: Path | None, embed: bool) -> None:
        self.fmt = fmt
        self.image_dir = image_dir
        self.embed = embed or fmt == "html" or image_dir is None
        self.parts: list[str] = []

    def heading(self, level: int, text: str) -> None:
        if self.fmt == "md":
            self.parts.append(f"{'#' * level} {text}\n")
        else:
            self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        self.parts.append(f"{text}\n" if self.fmt == "md" else f"<p>{html.escape(text)}</p>")

    def bullets(self, items: list[str]) -> None:
        if self.fmt == "md":
            self.parts.append("".join(f"- {item}\n" for item in items))
        else:
            self.parts.append(
                "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
            )

    def raw(self, markup: str) -> None:
        """HTML that both formats hold as is (Markdown passes block HTML through)."""
        self.parts.append(f"\n{markup}\n" if self.fmt == "md" else markup)

    def html_table(self, header: list[str], rows: list[list[str]], css: str = "long") -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        if self.fmt == "md":
            escape = [[cell.replace("|", "\\|") for cell in row] for row in [header, *rows]]
            lines = ["| " + " | ".join(escape[0]) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(row) + " |" for row in escape[1:]]
            self.parts.append("\n".join(lines) + "\n")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in rows
            )
            self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def image(self, name: str, png: bytes, alt: str) -> None:
        if self.embed:
            source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        else:
            assert self.image_dir is not None
            self.image_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.image_dir / f"{name}.png", png)
            source = f"{self.image_dir.name}/{name}.png"
        if self.fmt == "md":
            self.parts.append(f"![{alt}]({source})\n")
        else:
            self.parts.append(f'<img alt="{html.escape(alt)}" src="{source}">')

    def text(self, style: bool = False) -> str:
        body = "\n".join(self.parts)
        if self.fmt == "html":
            return (
                "<!doctype html><html><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>Benchmark report</title><style>{CSS}</style></head>"
                f"<body class='unlearn-report'>{body}</body></html>\n"
            )
        return (f"\n<style>{CSS}</style>\n\n" if style else "") + body


MAX_OPEN_SCENARIOS = 6
MAX_OPEN_NOTES = 8


def render_report(
    reports: list[RunReport],
    fmt: Format = "md",
    image_dir: Path | None = None,
    embed_images: bool = False,
    heading_level: int = 1,
    style: bool = False,
    sweeps: Sequence[SweepSection] = (),
) -> str:
    """Render the latest run of each benchmark and the run history.

    Per benchmark: the run's facts, a leaderboard per scenario (method x metric, oracle
    first, shaded), the findings, the plots, then the long tables folded away. Markdown
    writes plot PNGs into ``image_dir`` unless ``embed_images``; HTML always embeds them,
    so the HTML file stands alone. ``style`` puts the stylesheet into Markdown output
    (the docs site); HTML always carries it. Each of ``sweeps`` ends the report as one
    section: its grid as one table, and its Pareto plot.
    """
    writer = _Writer(fmt, image_dir, embed_images)
    # HTML only: the figures carry plotly.js (about 4 MB), too heavy for docs pages.
    interactive = InteractiveFigures() if fmt == "html" else None
    writer.heading(heading_level, "Benchmark results")
    if not reports:
        writer.paragraph(
            "The results store holds no runs yet. Run a benchmark first, for example "
            "`unlearn-bench run planted-quickstart`."
        )
        return writer.text(style)
    by_benchmark: dict[str, list[RunReport]] = defaultdict(list)
    for report in reports:
        by_benchmark[report.benchmark].append(report)
    for benchmark in sorted(by_benchmark):
        runs = by_benchmark[benchmark]
        latest = runs[-1]
        writer.heading(heading_level + 1, benchmark)
        hw = latest.hardware
        writer.paragraph(
            f"Latest run {latest.run_id} ({latest.spec.size}, seeds {latest.spec.seeds}) "
            f"from {latest.package} {latest.package_versions.get(latest.package, '?')}, "
            f"{latest.wall_time_s:.1f} s on {hw.cpu_count} CPU cores ({hw.machine}, "
            f"{hw.platform}, Python {hw.python}"
            + (f", {hw.accelerator}" if hw.accelerator else "")
            + ")."
        )
        summary = latest.result.summary
        if summary is not None:
            writer.heading(heading_level + 2, summary.title)
            writer.raw(writer.html_table(summary.header, summary.rows, css="leaderboard"))
        boards = build_leaderboards(latest.result.metrics)
        if boards:
            writer.heading(heading_level + 2, "Leaderboard")
            writer.paragraph(
                "Rows are methods, the retrain oracle first; green is closest to the oracle "
                "(◎) or best (↑/↓), red farthest or worst."
            )
            for index, board in enumerate(boards):
                table = render_leaderboard(board)
                title = html.escape(board.title)
                if index < MAX_OPEN_SCENARIOS:
                    writer.raw(f"<p><strong>{title}</strong></p>{table}")
                else:
                    writer.raw(f"<details><summary>{title}</summary>{table}</details>")
        notes = latest.result.notes
        if notes:
            writer.heading(heading_level + 2, "Findings")
            writer.bullets(notes[:MAX_OPEN_NOTES])
            if len(notes) > MAX_OPEN_NOTES:
                items = "".join(f"<li>{html.escape(n)}</li>" for n in notes[MAX_OPEN_NOTES:])
                writer.raw(
                    f"<details><summary>{len(notes) - MAX_OPEN_NOTES} more findings</summary>"
                    f"<ul>{items}</ul></details>"
                )
        for curve in latest.result.curves:
            writer.image(f"{benchmark}-{curve.name}", plot_curve(curve), curve.title)
        for heatmap in latest.result.heatmaps:
            writer.image(f"{benchmark}-{heatmap.name}", plot_heatmap(heatmap), heatmap.title)
        for graph in latest.result.graphs:
            writer.image(f"{benchmark}-{graph.name}", plot_graph(graph), graph.title)
            figure = interactive.html(graph, f"{benchmark}-{graph.name}") if interactive else None
            if figure is not None:
                writer.raw(figure)
        grouped: dict[str, list[MetricValue]] = defaultdict(list)
        for metric in latest.result.metrics:
            grouped[metric.name].append(metric)
        if not (latest.result.curves or latest.result.heatmaps or latest.result.graphs):
            for name, metrics in grouped.items():
                if 1 < len(metrics) <= 40:
                    writer.image(f"{benchmark}-{name}", plot_metric_bars(name, metrics), name)
        tables = "".join(writer.html_table(*_metric_rows(metrics)) for metrics in grouped.values())
        count = len(latest.result.metrics)
        if boards:
            writer.raw(f"<details><summary>All {count} metric values</summary>{tables}</details>")
        else:
            writer.heading(heading_level + 2, "Metrics")
            writer.raw(tables)
        if latest.result.timings:
            timings = writer.html_table(
                ["phase", "seconds"], [[k, f"{v:.3f}"] for k, v in latest.result.timings.items()]
            )
            writer.raw(f"<details><summary>Timings</summary>{timings}</details>")
        if latest.result.artifacts:
            writer.heading(heading_level + 2, "Artifacts")
            writer.bullets([f"{k}: {v}" for k, v in latest.result.artifacts.items()])
        history = writer.html_table(
            ["run", "started (UTC)", "size", "seeds", "wall time (s)"],
            [
                [
                    r.run_id,
                    r.started_at.strftime("%Y-%m-%d %H:%M"),
                    r.spec.size,
                    str(r.spec.seeds),
                    f"{r.wall_time_s:.1f}",
                ]
                for r in reversed(runs)
            ],
        )
        writer.raw(f"<details><summary>Run history ({len(runs)} runs)</summary>{history}</details>")
    for section in sweeps:  # each sweep's grid as one table (and its Pareto plot)
        render_sweep(writer, section, heading_level + 1)
    return writer.text(style)
