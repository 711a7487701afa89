"""The report's sweep section and the model card's search lines, for records of kind sweep.

For every sweep among the records: its footprint (total, idle, waste share,
energy-to-target, the best configuration's own cost), a table of its trials,
and in HTML two plotly figures — trials over time (one bar per child run,
coloured by status) and ROUGE-1 against energy (the Pareto view of the search).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from greentune.ledger import RunKind, RunRecord
from greentune.report import fmt

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

STATUS_COLOURS = {
    "finished": "#1a7f37",
    "pruned": "#bf8700",
    "exploited": "#8250df",
    "paused": "#0969da",
    "failed": "#cf222e",
    "stopped-by-budget": "#57606a",
    "stopped": "#8c959f",
}


def sweeps(records: list[RunRecord]) -> list[RunRecord]:
    """The records of kind sweep, oldest first."""
    return [record for record in records if record.kind is RunKind.SWEEP and record.sweep is not None]


def _children(parent: RunRecord, records: list[RunRecord]) -> list[RunRecord]:
    return sorted(
        (r for r in records if r.parent_run_id == parent.run_id and r.trial is not None), key=lambda r: r.start_time
    )


def footprint_rows(parent: RunRecord) -> list[tuple[str, str]]:
    """(label, value) rows of the search's footprint."""
    sweep = parent.sweep
    assert sweep is not None
    rows = [
        ("Search", f"{sweep.algorithm} + {sweep.scheduler}, {len(sweep.trials)} trial runs"),
        (
            "Total energy",
            f"{fmt.sig(parent.energy_kwh)} kWh (trials {fmt.sig(sweep.trials_kwh)} + idle {fmt.sig(sweep.idle_kwh)})",
        ),
        ("Emissions", f"{fmt.sig(parent.emissions_gco2eq)} gCO2eq"),
        ("Cost", fmt.money(parent.cost_usd)),
        ("Idle (no trial running)", fmt.duration(sweep.idle_s)),
        (
            "Wasted (trials thrown away)",
            f"{fmt.sig(sweep.wasted_kwh)} kWh, {sweep.wasted_share * 100:.1f} % of the total",
        ),
    ]
    if sweep.target_rouge1 is not None:
        reached = (
            fmt.sig(sweep.energy_to_target_kwh) + " kWh" if sweep.energy_to_target_kwh is not None else "not reached"
        )
        rows.append((f"Energy to ROUGE-1 ≥ {sweep.target_rouge1:g}", reached))
    if sweep.best_energy_kwh is not None:
        config = ", ".join(f"{key}={value}" for key, value in sweep.best_config.items())
        rows.append(
            (
                "Best configuration alone",
                f"{config}: ROUGE-1 {fmt.fixed(sweep.best_rouge1, 2)}, {fmt.sig(sweep.best_energy_kwh)} kWh, "
                f"{fmt.sig(sweep.best_emissions_gco2eq)} gCO2eq, {fmt.money(sweep.best_cost_usd)}",
            )
        )
    for budget in sweep.budgets:
        rows.append(
            (
                f"Budget {budget.limit:g} {budget.unit}",
                f"{'reached' if budget.reached else 'not reached'}; {budget.trials_stopped} stopped, "
                f"{budget.trials_not_launched} not launched",
            )
        )
    return rows


def sweep_markdown(records: list[RunRecord]) -> str:
    """One Markdown section per sweep (empty when there is none)."""
    lines: list[str] = []
    for parent in sweeps(records):
        assert parent.sweep is not None
        lines += [
            "",
            f"## Sweep {parent.run_name} (`{parent.run_id}`, {parent.status.lower()})",
            "",
            "| | |",
            "|---|---|",
        ]
        lines += [f"| {label} | {value} |" for label, value in footprint_rows(parent)]
        lines += ["", "| trial | status | config | ROUGE-1 | kWh | gCO2eq | $ |", "|---|---|---|---|---|---|---|"]
        for trial in parent.sweep.trials:
            config = ", ".join(f"{key}={value}" for key, value in trial.config.items())
            lines.append(
                f"| {trial.trial_id}{f'/{trial.segment}' if trial.segment > 1 else ''} | {trial.status.value} | "
                f"{config} | {fmt.fixed(trial.rouge1, 2)} | {fmt.sig(trial.energy_kwh)} | "
                f"{fmt.sig(trial.emissions_gco2eq)} | {fmt.money(trial.cost_usd)} |"
            )
    return "\n".join(lines) + ("\n" if lines else "")


def sweep_html(records: list[RunRecord]) -> str:
    """One HTML <section> per sweep: footprint table, trials over time, ROUGE-1 against energy (empty when none)."""
    from markupsafe import escape

    from greentune.report.html import PLOT_CONFIG

    parts: list[str] = []
    for index, parent in enumerate(sweeps(records)):
        rows = "".join(
            f"<tr><td class='text'>{escape(k)}</td><td class='text'>{escape(v)}</td></tr>"
            for k, v in footprint_rows(parent)
        )
        parts.append(f"<section class='sweep'><h2>Sweep {escape(parent.run_name)}</h2><table>{rows}</table>")
        children = _children(parent, records)
        for figure, name in ((timeline_figure(children), "time"), (pareto_figure(parent), "pareto")):
            if figure is not None:
                parts.append(
                    "<figure class='plot'>"
                    + figure.to_html(
                        full_html=False, include_plotlyjs=False, div_id=f"plot-sweep-{name}-{index}", config=PLOT_CONFIG
                    )
                    + "</figure>"
                )
        parts.append("</section>")
    return "".join(parts)


def timeline_figure(children: list[RunRecord]) -> Figure | None:
    """Trials over time: one horizontal bar per child run, coloured by its status; None without children."""
    import plotly.graph_objects as go

    if not children:
        return None
    figure = go.Figure()
    for record in children:
        assert record.trial is not None
        start = datetime.fromisoformat(record.start_time)
        status = record.trial.status.value
        figure.add_trace(
            go.Scatter(
                x=[start, start + timedelta(seconds=record.duration_s)],
                y=[record.run_name, record.run_name],
                mode="lines",
                line={"width": 10, "color": STATUS_COLOURS.get(status, "#8c959f")},
                name=status,
                hovertext=f"{record.run_name}: {status}, {record.energy_kwh:.3g} kWh",
                showlegend=False,
            )
        )
    figure.update_layout(template="plotly_white", title="Trials over time", height=120 + 24 * len(children))
    return figure


def pareto_figure(parent: RunRecord) -> Figure | None:
    """ROUGE-1 against kWh of every trial with a score, coloured by status; None without one."""
    import plotly.graph_objects as go

    assert parent.sweep is not None
    trials = [t for t in parent.sweep.trials if t.rouge1 is not None]
    if not trials:
        return None
    figure = go.Figure(
        go.Scatter(
            x=[t.energy_kwh for t in trials],
            y=[t.rouge1 for t in trials],
            mode="markers",
            marker={"size": 11, "color": [STATUS_COLOURS.get(t.status.value, "#8c959f") for t in trials]},
            hovertext=[f"{t.trial_id} ({t.status.value}): {t.config}" for t in trials],
        )
    )
    figure.update_layout(
        template="plotly_white", title="ROUGE-1 against energy", xaxis_title="kWh", yaxis_title="ROUGE-1"
    )
    return figure


def card_search_lines(record: RunRecord, records: list[RunRecord]) -> list[str]:
    """For a trial's model card: the whole search's footprint beside this run's own (empty for other runs)."""
    parent = next((r for r in records if r.run_id == record.parent_run_id and r.sweep is not None), None)
    if parent is None or parent.sweep is None:
        return []
    sweep = parent.sweep
    share = record.energy_kwh / parent.energy_kwh * 100 if parent.energy_kwh else 0.0
    return [
        f"This run is one of {len(sweep.trials)} trial runs of the sweep `{parent.run_name}` (`{parent.run_id}`, "
        f"{sweep.algorithm} + {sweep.scheduler}). The whole search used {fmt.sig(parent.energy_kwh)} kWh, "
        f"{fmt.sig(parent.emissions_gco2eq)} gCO2eq and {fmt.money(parent.cost_usd)}; this run alone "
        f"{fmt.sig(record.energy_kwh)} kWh ({share:.1f} % of the search), {fmt.sig(record.emissions_gco2eq)} gCO2eq. "
        f"{sweep.wasted_share * 100:.1f} % of the search's energy went to trials that were thrown away.",
    ]
