"""Render a `Report` as Markdown, for terminals, CI logs and pull-request comments."""

from __future__ import annotations

from greentune.report import fmt, footprint_page
from greentune.report.build import Report
from greentune.report.serving import serving_markdown


def render_markdown(report: Report) -> str:
    """Runs table, deltas, recommendation, region what-if, equivalents, notes and the project footprint as Markdown."""
    lines = [f"# {report.title}", "", f"Generated {report.generated_at}."]
    if report.notes:
        lines += ["", "**Notes**", ""] + [f"- {note}" for note in report.notes]
    lines += ["", "## Recommendation", "", report.recommendation, ""]
    lines += ["## Runs", "", *_runs_table(report)]
    lines += ["", f"## Against the baseline: {report.baseline_run_name or fmt.MISSING}", "", *_delta_table(report)]
    lines += ["", *serving_markdown(report.serving)]
    lines += ["", "## The same energy elsewhere", "", *_whatif(report)]
    if report.inference:
        lines += ["", "## Inference (bench-infer)", "", *_inference_table(report)]
    if report.footprint is not None:
        lines += ["", footprint_page.render_markdown(report.footprint)]
    return "\n".join(lines).rstrip() + "\n"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)"]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows),
    ]


def _runs_table(report: Report) -> list[str]:
    header = [
        "run",
        "status",
        "strategy",
        "ROUGE-1",
        "ROUGE-2",
        "ROUGE-L",
        "duration",
        "kWh",
        "kWh by component",
        "kWh by phase",
        "gCO2eq",
        "$",
        "samples/s",
        "tokens/s",
        "peak RAM",
        "peak VRAM",
        "storage",
        "energy",
    ]
    rows = [
        [
            row.label + (" (baseline)" if row.is_baseline and "baseline" not in row.label else ""),
            row.status,
            row.strategy,
            *(fmt.fixed(row.rouge[key], 2) for key in ("rouge1", "rouge2", "rougeL")),
            fmt.duration(row.duration_s),
            fmt.sig(row.energy_kwh),
            ", ".join(
                f"{kind} {fmt.sig(kwh)} ({row.component_sources[kind]})"
                for kind, kwh in row.energy_by_component_kwh.items()
            )
            or fmt.MISSING,
            ", ".join(f"{phase} {fmt.sig(kwh)}" for phase, kwh in row.energy_by_phase_kwh.items()) or fmt.MISSING,
            fmt.sig(row.emissions_gco2eq),
            fmt.money(row.cost_usd),
            fmt.sig(row.samples_per_s),
            fmt.sig(row.tokens_per_s),
            fmt.memory(row.peak_ram_bytes),
            fmt.memory(row.peak_vram_bytes),
            fmt.memory(row.storage_bytes),
            row.energy_source,
        ]
        for row in report.runs
    ]
    return _table(header, rows)


def _delta_table(report: Report) -> list[str]:
    decisions = {v.run_id: v.decision for v in report.verdicts}
    header = ["run", "time", "energy", "carbon", "money", "ROUGE-1", "ROUGE-2", "ROUGE-L", "verdict"]
    rows = [
        [
            d.run_name,
            *(fmt.signed(value, 1, "%") for value in (d.duration_pct, d.energy_pct, d.emissions_pct, d.cost_pct)),
            *(fmt.signed(d.rouge_points[key], 2) for key in ("rouge1", "rouge2", "rougeL")),
            decisions.get(d.run_id, fmt.MISSING),
        ]
        for d in report.deltas
    ]
    return _table(header, rows)


def _whatif(report: Report) -> list[str]:
    whatif = report.whatif
    if whatif is None:
        return ["(no energy to place)"]
    lines = [
        f"{fmt.sig(whatif.energy_kwh)} kWh emitted {fmt.sig(whatif.here_emissions_gco2eq)} gCO2eq "
        f"where it ran ({whatif.here_location}).",
        "",
    ]
    rows = [
        [
            label,
            f"{o.provider}:{o.region}",
            o.location,
            fmt.sig(o.intensity_gco2eq_per_kwh),
            fmt.sig(o.emissions_gco2eq),
            fmt.money(o.cost_usd),
            f"{fmt.short_source(o.source)} ({o.year})",
        ]
        for label, options in (("cleanest", whatif.cleanest), ("dirtiest", whatif.dirtiest))
        for o in options
    ]
    lines += _table(["", "region", "location", "gCO2eq/kWh", "gCO2eq", "$", "source"], rows)
    if report.equivalents:
        lines += ["", f"{fmt.sig(report.total_emissions_gco2eq)} gCO2eq is about:", ""]
        lines += [f"- {fmt.sig(e.value)} {e.name} ({fmt.short_source(e.source)}, {e.year})" for e in report.equivalents]
    return lines


def _inference_table(report: Report) -> list[str]:
    header = ["model", "configuration", "J/summary", "Wh/1000", "p95 ms", "ROUGE-1", "Δ ROUGE-1", "exact", "Pareto"]
    rows = [
        [
            row.model_name,
            row.label,
            fmt.sig(row.j_per_summary),
            fmt.sig(row.wh_per_1000_summaries),
            fmt.fixed(row.latency_p95_ms, 0),
            fmt.fixed(row.rouge1, 2),
            fmt.signed(row.rouge1_delta, 2),
            fmt.MISSING if row.exact_match_share is None else f"{100 * row.exact_match_share:.0f} %",
            "yes" if row.pareto else "",
        ]
        for row in report.inference
    ]
    return _table(header, rows)
