"""The report's serving section: each serving session beside the fine-tuning of the model it served.

For each record of kind serve: requests, Wh and gCO2eq per 1,000 requests
(active energy only), idle energy apart, latency, and — where the ledger
holds fine-tuning runs of the same model (the run served, or runs of the
same model name) — after how many requests serving at this session's rate
(active and idle emissions together, per request) emits as much as that
fine-tuning did.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from greentune.ledger import RunKind, RunRecord


class ServingRow(BaseModel):
    """One serving session in the report."""

    run_name: str
    model_name: str
    backend: str
    replicas: int
    requests: int
    wh_per_1000_requests: float | None
    gco2eq_per_1000_requests: float | None
    active_energy_kwh: float
    idle_energy_kwh: float
    session_gco2eq: float
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    energy_source: str
    training_run: str | None
    training_gco2eq: float | None
    breakeven_requests: int | None


def _training_for(session: RunRecord, records: list[RunRecord]) -> RunRecord | None:
    """The fine-tuning run served (by run name), else the latest run of the same model name."""
    trained = [r for r in records if r.kind == RunKind.TRAIN]
    served_run = session.spec.get("run_name")
    named = [r for r in trained if served_run and r.run_name == served_run]
    same_model = [r for r in trained if r.model_name == session.model_name]
    chosen = named or same_model
    return chosen[-1] if chosen else None


def breakeven_requests(training_gco2eq: float, session_gco2eq: float, requests: int) -> int | None:
    """Requests at the session's emissions per request that add up to the fine-tuning's emissions."""
    if requests <= 0 or session_gco2eq <= 0:
        return None
    return math.ceil(training_gco2eq / (session_gco2eq / requests))


def serving_rows(records: list[RunRecord]) -> list[ServingRow]:
    """One row per serving session in `records`, in their order."""
    rows = []
    for record in records:
        serving = record.serving
        if record.kind != RunKind.SERVE or serving is None:
            continue
        training = _training_for(record, records)
        rows.append(
            ServingRow(
                run_name=record.run_name,
                model_name=record.model_name,
                backend=serving.backend,
                replicas=serving.replicas,
                requests=serving.requests,
                wh_per_1000_requests=serving.wh_per_1000_requests,
                gco2eq_per_1000_requests=serving.gco2eq_per_1000_requests,
                active_energy_kwh=serving.active_energy_kwh,
                idle_energy_kwh=serving.idle_energy_kwh,
                session_gco2eq=record.emissions_gco2eq,
                latency_ms_p50=serving.latency_ms_p50,
                latency_ms_p95=serving.latency_ms_p95,
                energy_source=record.energy_source,
                training_run=training.run_name if training else None,
                training_gco2eq=training.emissions_gco2eq if training else None,
                breakeven_requests=(
                    breakeven_requests(training.emissions_gco2eq, record.emissions_gco2eq, serving.requests)
                    if training
                    else None
                ),
            )
        )
    return rows


def serving_markdown(rows: list[ServingRow]) -> list[str]:
    """The section as Markdown lines (nothing when there is no serving session)."""
    if not rows:
        return []
    lines = [
        "## Serving",
        "",
        "| session | model | requests | Wh/1k req | gCO2eq/1k req | idle kWh | p50 ms | p95 ms | fine-tuning | "
        "serving passes it after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            row.run_name,
            f"{row.model_name} ({row.backend}, {row.replicas}×)",
            str(row.requests),
            _num(row.wh_per_1000_requests),
            _num(row.gco2eq_per_1000_requests),
            _num(row.idle_energy_kwh),
            _num(row.latency_ms_p50),
            _num(row.latency_ms_p95),
            f"{row.training_run} ({_num(row.training_gco2eq)} gCO2eq)" if row.training_run else "—",
            f"{row.breakeven_requests:,} requests" if row.breakeven_requests is not None else "—",
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", "Per 1,000 requests: energy inside batches only; idle energy (between batches) apart. "
              "The break-even counts the session's emissions per request, idle included.", ""]  # fmt: skip
    return lines


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
