"""The report's figures, drawn with plotly.

Why plotly: one well-kept library gives interactive figures (hover a point to
see the run, its strategy and its footprint; zoom into a timeline) and renders
them as SVG in the page. Its JavaScript is embedded once, inline, so the page
works offline; that costs about 4.8 MB, which a browser opens instantly and is
still small enough to attach or archive beside the ledger. Static SVG from
matplotlib would be smaller but would lose the hover details that make a
Pareto plot of many runs readable.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from greentune.report.build import Report, RunRow
from greentune.report.timeline import Timeline
from greentune.report.whatif import RegionWhatIf

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

TEMPLATE = "plotly_white"
FRONT_COLOUR = "#1a7f37"
DOMINATED_COLOUR = "#8c959f"
PHASE_ORDER = ("load", "train", "eval-loss", "generate", "test")
MAX_TIMELINE_POINTS = 1500
LABEL_POSITIONS = ("top center", "bottom center")  # alternate so neighbouring labels do not collide

Axis = Literal["emissions", "cost"]


def pareto_figure(report: Report, axis: Axis) -> Figure | None:
    """ROUGE-1 against gCO2eq or $, Pareto front joined, dominated runs hollow and grey; None without points."""
    import plotly.graph_objects as go

    flag = "pareto_emissions" if axis == "emissions" else "pareto_cost"
    rows = [row for row in report.runs if getattr(row, flag) is not None]
    if not rows:
        return None
    x_of = (lambda r: r.emissions_gco2eq) if axis == "emissions" else (lambda r: r.cost_usd)
    x_title = "Emissions (gCO2eq)" if axis == "emissions" else "Cost (US$)"
    front = sorted((r for r in rows if getattr(r, flag)), key=x_of)
    dominated = [r for r in rows if not getattr(r, flag)]
    figure = go.Figure()
    for name, members, colour, symbol, mode in (
        ("Pareto front", front, FRONT_COLOUR, "circle", "lines+markers+text"),
        ("dominated", dominated, DOMINATED_COLOUR, "circle-open", "markers+text"),
    ):
        if not members:
            continue
        figure.add_trace(
            go.Scatter(
                x=[x_of(r) for r in members],
                y=[r.rouge["rouge1"] for r in members],
                mode=mode,
                name=name,
                text=[_point_label(r) for r in members],
                textposition=[LABEL_POSITIONS[i % len(LABEL_POSITIONS)] for i in range(len(members))],
                marker={"color": colour, "symbol": symbol, "size": 12, "line": {"width": 2, "color": colour}},
                line={"color": colour, "dash": "dot"},
                customdata=[[r.strategy, r.energy_kwh, r.energy_source] for r in members],
                hovertemplate=(
                    "<b>%{text}</b><br>%{customdata[0]}<br>ROUGE-1 %{y:.2f}<br>"
                    + ("%{x:.3g} gCO2eq" if axis == "emissions" else "$%{x:.3g}")
                    + "<br>%{customdata[1]:.3g} kWh (%{customdata[2]})<extra></extra>"
                ),
            )
        )
    xs = [x_of(r) for r in rows]
    ys = [y for r in rows if (y := r.rouge.get("rouge1")) is not None]
    figure.update_layout(
        template=TEMPLATE,
        xaxis={"title": x_title, "range": _padded(xs, 0.3, 0.3)},
        yaxis={"title": "ROUGE-1 (points)", "range": _padded(ys, 0.25, 0.25, min_span=1.0)},
        height=420,
        margin={"t": 30, "r": 20, "b": 50, "l": 60},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def _padded(values: list[float], below: float, above: float, min_span: float = 0.0) -> list[float]:
    """An axis range around `values` with room for the text labels beside the points."""
    low, high = min(values), max(values)
    span = max(high - low, abs(high) * 0.2, min_span) or 1.0
    return [low - below * span, high + above * span]


def _point_label(row: RunRow) -> str:
    return f"{row.label} (baseline)" if row.is_baseline and "baseline" not in row.label else row.label


def phase_energy_figure(report: Report) -> Figure | None:
    """Stacked bars: each run's energy split by phase, with the unphased rest shown as 'other'."""
    import plotly.graph_objects as go

    if not report.runs:
        return None
    phases = _phase_names(report.runs)
    labels = [row.label for row in report.runs]
    figure = go.Figure()
    for phase in phases:
        figure.add_trace(
            go.Bar(name=phase, x=labels, y=[row.energy_by_phase_kwh.get(phase, 0.0) for row in report.runs])
        )
    other = [max(row.energy_kwh - sum(row.energy_by_phase_kwh.values()), 0.0) for row in report.runs]
    if any(value > 0.01 * row.energy_kwh for value, row in zip(other, report.runs, strict=True)):
        figure.add_trace(go.Bar(name="other (outside the phases)", x=labels, y=other, marker_color=DOMINATED_COLOUR))
    figure.update_layout(
        template=TEMPLATE,
        barmode="stack",
        yaxis_title="Energy (kWh)",
        height=400,
        margin={"t": 30, "r": 20, "b": 80, "l": 70},
        hovermode="x unified",
    )
    figure.update_traces(hovertemplate="%{y:.3g} kWh")
    return figure


def _phase_names(rows: list[RunRow]) -> list[str]:
    seen = {name for row in rows for name in row.energy_by_phase_kwh}
    return [p for p in PHASE_ORDER if p in seen] + sorted(seen - set(PHASE_ORDER))


def learning_curve_figure(report: Report) -> Figure | None:
    """Validation ROUGE-1 after each evaluation, one line per run; None when no run logged any."""
    import plotly.graph_objects as go

    rows = [row for row in report.runs if row.rouge1_by_epoch]
    if not rows:
        return None
    figure = go.Figure()
    for row in rows:
        epochs, scores = zip(*row.rouge1_by_epoch, strict=True)
        figure.add_trace(go.Scatter(x=epochs, y=scores, mode="lines+markers", name=row.label))
    figure.update_layout(
        template=TEMPLATE,
        xaxis_title="epoch",
        yaxis_title="validation ROUGE-1 (points)",
        height=380,
        margin={"t": 30, "r": 20, "b": 50, "l": 60},
    )
    return figure


def timeline_figure(timeline: Timeline) -> Figure:
    """Power per component (W) above utilisation per device (%), over the run's seconds."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("Power (W)", "Utilisation (%)")
    )
    # a long log keeps every k-th interval (k even: the start point of each kept step)
    points = len(timeline.t_s)
    step = 1 if points <= MAX_TIMELINE_POINTS else 2 * math.ceil(points / (2 * MAX_TIMELINE_POINTS))
    t_s = timeline.t_s[::step]
    for name, values in timeline.power_w.items():
        figure.add_trace(go.Scatter(x=t_s, y=values[::step], mode="lines", name=f"{name} W"), row=1, col=1)
    for name, values in timeline.utilisation_pct.items():
        figure.add_trace(
            go.Scatter(x=t_s, y=values[::step], mode="lines", name=f"{name} %", line={"dash": "dot"}), row=2, col=1
        )
    _shade_windows(figure, timeline)
    figure.update_xaxes(title_text="time since start (s)", row=2, col=1)
    figure.update_yaxes(range=[0, 105], row=2, col=1)
    figure.update_layout(template=TEMPLATE, height=420, margin={"t": 40, "r": 20, "b": 50, "l": 60})
    return figure


def _shade_windows(figure: Figure, timeline: Timeline) -> None:
    """Shade each meter window (load, train, evaluation, …) behind the curves of both rows, one legend entry per name.

    The shapes are set in one layout update: `add_vrect` per window costs time quadratic in the
    number of windows (372 windows of a long run took over 3 minutes).
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    names = list(dict.fromkeys(name for name, _, _ in timeline.windows))
    colours = {name: qualitative.Pastel[i % len(qualitative.Pastel)] for i, name in enumerate(names)}
    shapes = [
        {
            "type": "rect",
            "xref": x_axis,
            "yref": f"{y_axis} domain",
            "x0": start_s,
            "x1": end_s,
            "y0": 0,
            "y1": 1,
            "fillcolor": colours[name],
            "opacity": 0.35,
            "line": {"width": 0},
            "layer": "below",
        }
        for name, start_s, end_s in timeline.windows
        for x_axis, y_axis in (("x", "y"), ("x2", "y2"))
    ]
    figure.update_layout(shapes=[*figure.layout.shapes, *shapes])
    for name in names:
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=name,
                legendgroup="windows",
                marker={"symbol": "square", "size": 12, "color": colours[name]},
            ),
            row=1,
            col=1,
        )


def region_figure(whatif: RegionWhatIf) -> Figure:
    """Horizontal bars: emissions here against the cleanest and the dirtiest regions for the same energy."""
    import plotly.graph_objects as go

    options = [*whatif.cleanest, *reversed(whatif.dirtiest)]
    labels = [f"{o.provider}:{o.region} ({o.location})" for o in options] + [f"as run ({whatif.here_location})"]
    values = [o.emissions_gco2eq for o in options] + [whatif.here_emissions_gco2eq]
    colours = [FRONT_COLOUR] * len(whatif.cleanest) + ["#cf222e"] * len(whatif.dirtiest) + ["#0969da"]
    figure = go.Figure(
        go.Bar(
            x=values, y=labels, orientation="h", marker_color=colours, hovertemplate="%{x:.3g} gCO2eq<extra></extra>"
        )
    )
    figure.update_layout(
        template=TEMPLATE,
        xaxis_title=f"gCO2eq for the same {whatif.energy_kwh:.3g} kWh",
        height=max(260, 34 * len(labels) + 90),
        margin={"t": 20, "r": 20, "b": 50, "l": 20},
        yaxis={"automargin": True},
    )
    return figure
