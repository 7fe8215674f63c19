"""Drawings of a benchmark's `GraphPlot`: a static PNG, and an interactive plotly figure.

The interactive figure needs the optional extra ``unlearn-bench[plotly]``. Its plotly.js
is written into the report itself (once, with the first figure), never fetched from a
CDN, so the HTML file works offline.
"""

from __future__ import annotations

import html
import io
import math

from unlearn_schema import GraphPlot

# The same ten colours in both drawings (matplotlib's tab10), so a group keeps its colour.
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _groups(plot: GraphPlot) -> list[int]:
    return plot.groups if plot.groups is not None else [0] * plot.node_count


def graph_layout(plot: GraphPlot) -> list[tuple[float, float]]:
    """The plot's own positions, or the nodes on a unit circle, one arc per group."""
    if plot.positions is not None:
        return plot.positions
    groups = _groups(plot)
    order = sorted(range(plot.node_count), key=lambda node: (groups[node], node))
    layout = [(0.0, 0.0)] * plot.node_count
    for rank, node in enumerate(order):
        angle = 2.0 * math.pi * rank / plot.node_count
        layout[node] = (math.cos(angle), math.sin(angle))
    return layout


def _group_name(plot: GraphPlot, group: int) -> str:
    return plot.group_names.get(group, f"group {group}")


def plot_graph(plot: GraphPlot) -> bytes:
    """PNG of the graph: edges in grey, nodes coloured by group, a legend of the groups."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    layout, groups = graph_layout(plot), _groups(plot)
    figure, ax = plt.subplots(figsize=(6.4, 5.0), dpi=100)
    segments = [(layout[u], layout[v]) for u, v in plot.edges]
    ax.add_collection(LineCollection(segments, colors="#999999", linewidths=0.5, alpha=0.6))
    for group in sorted(set(groups)):
        members = [node for node in range(plot.node_count) if groups[node] == group]
        ax.scatter(
            [layout[n][0] for n in members],
            [layout[n][1] for n in members],
            s=18,
            color=PALETTE[group % len(PALETTE)],
            label=_group_name(plot, group),
            zorder=2,
        )
    ax.set_title(plot.title, fontsize=10)
    ax.set_axis_off()
    ax.autoscale()
    if len(set(groups)) > 1:
        ax.legend(fontsize=7, loc="best")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


class InteractiveFigures:
    """Plotly figures for one report: the first carries plotly.js inline, later ones
    reuse it. ``html`` returns None when plotly is not installed."""

    def __init__(self) -> None:
        self.script_written = False

    def html(self, plot: GraphPlot, div_id: str) -> str | None:
        try:
            import plotly.graph_objects as go
            import plotly.io as pio
        except ImportError:
            return None
        layout, groups = graph_layout(plot), _groups(plot)
        edge_x: list[float | None] = []
        edge_y: list[float | None] = []
        for u, v in plot.edges:
            edge_x += [layout[u][0], layout[v][0], None]
            edge_y += [layout[u][1], layout[v][1], None]
        traces = [
            go.Scatter(
                x=edge_x,
                y=edge_y,
                mode="lines",
                line={"width": 0.6, "color": "#999999"},
                hoverinfo="skip",
                showlegend=False,
            )
        ]
        for group in sorted(set(groups)):
            members = [node for node in range(plot.node_count) if groups[node] == group]
            text = [plot.labels[n] if plot.labels else f"node {n}" for n in members]
            traces.append(
                go.Scatter(
                    x=[layout[n][0] for n in members],
                    y=[layout[n][1] for n in members],
                    mode="markers",
                    marker={"size": 7, "color": PALETTE[group % len(PALETTE)]},
                    name=_group_name(plot, group),
                    text=text,
                    hoverinfo="text",
                )
            )
        figure = go.Figure(traces)
        figure.update_layout(
            title={"text": html.escape(plot.title)},
            xaxis={"visible": False},
            yaxis={"visible": False, "scaleanchor": "x"},
            height=520,
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
            plot_bgcolor="white",
        )
        markup = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=not self.script_written,
            include_mathjax=False,
            div_id=div_id,
            config={"displaylogo": False},
        )
        self.script_written = True
        return f'<div class="interactive-graph">{markup}</div>'
