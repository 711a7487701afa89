"""Render a `Report` as one self-contained HTML page (Jinja2 template, plotly figures inline).

Jinja2 (autoescaping on) keeps the markup in `templates/report.html` and out
of Python, and escapes run names and notes that come from user input.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from greentune.report import fmt, plots
from greentune.report.build import Report
from greentune.report.inference import inference_figure
from greentune.report.timeline import Timeline

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def render_html(report: Report, timelines: dict[str, Timeline]) -> str:
    """The page: tables, plots (one plotly.js bundle inline), recommendation and notes.

    `timelines` maps run ids to their meter timelines; runs without one get a sentence instead.
    """
    import jinja2
    from plotly.offline import get_plotlyjs

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
    environment.filters.update(
        sig=fmt.sig,
        fixed=fmt.fixed,
        signed=fmt.signed,
        money=fmt.money,
        duration=fmt.duration,
        memory=fmt.memory,
        short_source=fmt.short_source,
    )
    template = environment.from_string((files("greentune.report") / "templates" / "report.html").read_text())
    return template.render(
        report=report,
        missing=fmt.MISSING,
        decisions={v.run_id: v.decision for v in report.verdicts},
        plotly_js=get_plotlyjs(),
        pareto_emissions=_div(plots.pareto_figure(report, "emissions"), "plot-pareto-emissions"),
        pareto_cost=_div(plots.pareto_figure(report, "cost"), "plot-pareto-cost"),
        phase_energy=_div(plots.phase_energy_figure(report), "plot-phase-energy"),
        learning_curves=_div(plots.learning_curve_figure(report), "plot-learning-curves"),
        regions=_div(plots.region_figure(report.whatif), "plot-regions") if report.whatif else None,
        inference=_div(inference_figure(report.inference), "plot-inference"),
        footprint=_footprint_section(report),
        timelines={
            row.run_id: _div(plots.timeline_figure(timelines[row.run_id]), f"plot-timeline-{index}")
            for index, row in enumerate(report.runs)
            if row.run_id in timelines
        },
    )


def _footprint_section(report: Report) -> str | None:
    """The project footprint section (`footprint_page.section_html`, shared with `greentune footprint`)."""
    if report.footprint is None:
        return None
    from markupsafe import Markup

    from greentune.report.footprint_page import section_html

    return Markup(section_html(report.footprint))


def _div(figure: Figure | None, div_id: str) -> str | None:
    """The figure as a <div> plus the script that draws it; None when there was nothing to plot."""
    if figure is None:
        return None
    from markupsafe import Markup

    return Markup(figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG))
