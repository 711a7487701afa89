"""The footprint as a report section, for `greentune footprint --out` and for `greentune report`.

Markdown: the table by kind and status, the functional units and the
cumulative timeline as a table (one row per job, in the order the jobs ended).
HTML: the same as a <section> with the timeline as a plotly figure (the
report's figure library, see `plots`): cumulative kWh above, cumulative
gCO2eq below, operational and embodied stacked, a step per job.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from greentune.report import fmt
from greentune.report.footprint import Footprint, FootprintLine

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

HEADER = ["kind", "status", "runs", "energy (kWh)", "operational (gCO2eq)", "embodied (gCO2eq)", "cost", "storage"]
TIMELINE_HEADER = [
    "job end (UTC)",
    "job",
    "kind",
    "kWh so far",
    "operational gCO2eq",
    "embodied gCO2eq",
    "total gCO2eq",
]
TIMELINE_DIV_ID = "plot-footprint-timeline"


def cells(line: FootprintLine) -> list[str]:
    """One table row: the line's figures formatted."""
    return [
        line.kind,
        line.status,
        str(line.runs),
        fmt.sig(line.energy_kwh),
        fmt.sig(line.emissions_gco2eq),
        fmt.sig(line.embodied_gco2eq),
        fmt.money(line.cost_usd),
        fmt.memory(line.storage_bytes),
    ]


def summary_lines(footprint: Footprint) -> list[str]:
    """The functional units and the serving break-even, one sentence each."""
    lines = [f"Data preparation (load phases): {fmt.sig(footprint.data_preparation_kwh)} kWh."]
    if footprint.sci_per_model_gco2eq is not None:
        lines.append(
            f"SCI per fine-tuned model: {fmt.sig(footprint.sci_per_model_gco2eq)} gCO2eq "
            f"(training and searches over {footprint.models} finished model(s))."
        )
    if footprint.sci_per_1000_summaries_gco2eq is not None:
        lines.append(
            f"SCI per 1,000 summaries served: {fmt.sig(footprint.sci_per_1000_summaries_gco2eq)} gCO2eq "
            f"({footprint.summaries_served:,} served)."
        )
    if footprint.breakeven_summaries is not None:
        served = footprint.summaries_served or 0
        state = "already passed" if served >= footprint.breakeven_summaries else f"{served:,} served so far"
        lines.append(f"After {footprint.breakeven_summaries:,} summaries, serving outweighs training ({state}).")
    return lines + [f"Note: {note}" for note in footprint.notes]


def timeline_cells(footprint: Footprint) -> list[list[str]]:
    """One row per job in end order: its end time and name, and the project's running totals after it."""
    return [
        [
            point.time.replace("+00:00", "Z"),
            point.run_name,
            point.kind,
            fmt.sig(point.energy_kwh),
            fmt.sig(point.operational_gco2eq),
            fmt.sig(point.embodied_gco2eq),
            fmt.sig(point.total_gco2eq),
        ]
        for point in footprint.timeline
    ]


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def render_markdown(footprint: Footprint) -> str:
    """A '## Project footprint' section: the table by kind and status, the total, the functional units
    and the cumulative timeline."""
    rows = [cells(line) for line in [*footprint.lines, footprint.total]]
    out = ["## Project footprint", "", *_markdown_table(HEADER, rows)]
    out += ["", *(f"- {line}" for line in summary_lines(footprint)), ""]
    if footprint.timeline:
        out += ["### Cumulative timeline", "", *_markdown_table(TIMELINE_HEADER, timeline_cells(footprint)), ""]
    return "\n".join(out)


def timeline_figure(footprint: Footprint) -> Figure | None:
    """Cumulative kWh (top) and gCO2eq (bottom: operational and embodied stacked, and their total) over
    the jobs' end times; None without a job."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    points = footprint.timeline
    if not points:
        return None
    times = [p.time for p in points]
    jobs = [f"{p.run_name} ({p.kind})" for p in points]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    step = {"shape": "hv"}
    figure.add_trace(
        go.Scatter(
            x=times, y=[p.energy_kwh for p in points], name="energy", mode="lines+markers", line=step, text=jobs,
            hovertemplate="%{text}<br>%{y:.4g} kWh so far<extra></extra>",
        ),
        row=1, col=1,
    )  # fmt: skip
    for name, values, colour in (
        ("operational", [p.operational_gco2eq for p in points], "#0969da"),
        ("embodied", [p.embodied_gco2eq for p in points], "#9a6700"),
    ):
        figure.add_trace(
            go.Scatter(
                x=times, y=values, name=name, mode="lines", line={**step, "color": colour}, stackgroup="gco2eq",
                text=jobs, hovertemplate=f"%{{text}}<br>{name} %{{y:.4g}} gCO2eq so far<extra></extra>",
            ),
            row=2, col=1,
        )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=times, y=[p.total_gco2eq for p in points], name="total", mode="markers", marker={"color": "#1f2328"},
            text=jobs, hovertemplate="%{text}<br>%{y:.4g} gCO2eq so far<extra></extra>",
        ),
        row=2, col=1,
    )  # fmt: skip
    figure.update_layout(template="plotly_white", height=480, margin={"t": 20, "r": 20, "b": 50, "l": 80})
    figure.update_yaxes(title_text="cumulative kWh", row=1, col=1)
    figure.update_yaxes(title_text="cumulative gCO2eq", row=2, col=1)
    figure.update_xaxes(title_text="job end (UTC)", row=2, col=1)
    return figure


def section_html(footprint: Footprint) -> str:
    """A <section id="footprint-section">: the table, the functional units and the cumulative timeline.
    The page that holds it includes plotly.js once."""
    from greentune.report.html import PLOT_CONFIG

    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells(line)) + "</tr>"
        for line in [*footprint.lines, footprint.total]
    )
    summary = "".join(f"<li>{escape(line)}</li>" for line in summary_lines(footprint))
    figure = timeline_figure(footprint)
    plot = (
        "<h3>Cumulative energy and emissions</h3><figure class='plot' data-plot='footprint-timeline'>"
        + figure.to_html(full_html=False, include_plotlyjs=False, div_id=TIMELINE_DIV_ID, config=PLOT_CONFIG)
        + "</figure>"
        if figure is not None
        else "<p class='empty'>No jobs to draw.</p>"
    )
    return (
        "<section id='footprint-section'><h2>Project footprint</h2>"
        "<p class='muted'>All jobs, failed and killed ones, searches, benchmarks and serving included; operational "
        "and embodied emissions; a sweep's trials are counted once, in their sweep.</p>"
        f"<div class='table-wrap'><table id='footprint'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        f"<ul>{summary}</ul>{plot}</section>"
    )


def render_html(footprint: Footprint) -> str:
    """A self-contained page holding the section (plotly.js inline)."""
    from plotly.offline import get_plotlyjs

    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Project footprint</title>"
        f"<script>{get_plotlyjs()}</script></head><body>{section_html(footprint)}</body></html>\n"
    )
