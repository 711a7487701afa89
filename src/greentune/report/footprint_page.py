"""The footprint as a report section: Markdown, or a self-contained HTML page with a cumulative timeline (plotly).

Plotly is the report's figure library already (see `plots`); the timeline is
one step line of the project's cumulative gCO2eq, a marker per job.
"""

from __future__ import annotations

from html import escape

from greentune.report import fmt
from greentune.report.footprint import Footprint, FootprintLine

HEADER = ["kind", "status", "runs", "energy (kWh)", "operational (gCO2eq)", "embodied (gCO2eq)", "cost", "storage"]


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


def render_markdown(footprint: Footprint) -> str:
    """A '## Project footprint' section: the table by kind and status, the total, the functional units."""
    rows = [cells(line) for line in [*footprint.lines, footprint.total]]
    out = ["## Project footprint", "", "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    out += ["", *(f"- {line}" for line in summary_lines(footprint)), ""]
    return "\n".join(out)


def timeline_figure_html(footprint: Footprint) -> str:
    """The cumulative gCO2eq over time as a plotly <div> (no plotly.js; the page includes it once)."""
    import plotly.graph_objects as go

    points = footprint.timeline
    figure = go.Figure(
        go.Scatter(
            x=[p.time for p in points],
            y=[p.total_gco2eq for p in points],
            mode="lines+markers",
            line={"shape": "hv"},
            text=[f"{p.run_name} ({p.kind})" for p in points],
            hovertemplate="%{text}<br>%{y:.4g} gCO2eq so far<extra></extra>",
        )
    )
    figure.update_layout(
        template="plotly_white",
        xaxis_title="job end (UTC)",
        yaxis_title="cumulative gCO2eq (operational + embodied)",
        height=360,
        margin={"t": 20, "r": 20, "b": 50, "l": 70},
    )
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id="plot-footprint-timeline")


def render_html(footprint: Footprint) -> str:
    """A self-contained page: the table, the functional units and the cumulative timeline."""
    from plotly.offline import get_plotlyjs

    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells(line)) + "</tr>"
        for line in [*footprint.lines, footprint.total]
    )
    summary = "".join(f"<li>{escape(line)}</li>" for line in summary_lines(footprint))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Project footprint</title>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        "<h2>Project footprint</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<ul>{summary}</ul><h3>Cumulative emissions</h3>{timeline_figure_html(footprint)}</body></html>\n"
    )
