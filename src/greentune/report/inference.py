"""The report's inference section: records of kind `infer` (`greentune bench-infer`), ROUGE-1 against J/summary.

One row per configuration with its latency; the Pareto front is the rows no
other row beats on both ROUGE-1 (higher) and J/summary (lower), within each
model, so that a noisy random-init benchmark does not hide a real model's front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from greentune.ledger import RunKind, RunRecord

if TYPE_CHECKING:
    from plotly.graph_objects import Figure


class InferenceRow(BaseModel):
    """One benchmarked configuration as the report shows it."""

    run_id: str
    model_name: str
    label: str
    j_per_summary: float
    wh_per_1000_summaries: float
    latency_p95_ms: float
    rouge1: float | None
    rouge1_delta: float | None
    exact_match_share: float | None
    emissions_gco2eq: float
    pareto: bool


def inference_rows(records: list[RunRecord]) -> list[InferenceRow]:
    """The `infer` records as rows, with their Pareto flag (ROUGE-1 up, J/summary down, per model)."""
    found = [record for record in records if record.kind is RunKind.INFER and record.infer is not None]
    rows = []
    for record in found:
        figures = record.infer
        assert figures is not None
        rouge1 = record.rouge.get("rouge1")
        dominated = any(
            other is not record
            and other.infer is not None
            and other.model_name == record.model_name
            and (other.rouge.get("rouge1") or 0.0) >= (rouge1 or 0.0)
            and other.infer.j_per_summary <= figures.j_per_summary
            and (
                (other.rouge.get("rouge1") or 0.0) > (rouge1 or 0.0)
                or other.infer.j_per_summary < figures.j_per_summary
            )
            for other in found
        )
        rows.append(
            InferenceRow(
                run_id=record.run_id,
                model_name=record.model_name,
                label=str(record.strategies.get("label", record.run_name)),
                j_per_summary=figures.j_per_summary,
                wh_per_1000_summaries=figures.wh_per_1000_summaries,
                latency_p95_ms=figures.latency_p95_ms,
                rouge1=rouge1,
                rouge1_delta=figures.rouge_delta.get("rouge1"),
                exact_match_share=figures.exact_match_share,
                emissions_gco2eq=record.emissions_gco2eq,
                pareto=not dominated,
            )
        )
    return rows


def inference_figure(rows: list[InferenceRow]) -> Figure | None:
    """ROUGE-1 against J/summary, one marker per configuration sized by p95 latency; None without rows."""
    if not rows:
        return None
    import plotly.graph_objects as go

    figure = go.Figure()
    for model in sorted({row.model_name for row in rows}):
        mine = [row for row in rows if row.model_name == model]
        largest = max(row.latency_p95_ms for row in mine) or 1.0
        figure.add_trace(
            go.Scatter(
                x=[row.j_per_summary for row in mine],
                y=[row.rouge1 for row in mine],
                mode="markers",
                name=model,
                marker={"size": [10 + 20 * row.latency_p95_ms / largest for row in mine]},
                text=[
                    f"{row.label}<br>p95 {row.latency_p95_ms:.0f} ms{' · Pareto' if row.pareto else ''}" for row in mine
                ],
                hovertemplate="%{text}<br>%{x:.3g} J/summary<br>ROUGE-1 %{y:.2f}<extra></extra>",
            )
        )
    figure.update_layout(xaxis_title="J per summary", yaxis_title="ROUGE-1", height=420, margin={"t": 20})
    return figure
