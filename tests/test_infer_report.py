"""The report's inference section: `infer` records get their own table and Pareto flags, not rows among the runs."""

from __future__ import annotations

from greentune.ledger import InferFigures, RunKind, RunRecord
from greentune.report.build import build_report
from greentune.report.markdown import render_markdown


def infer_record(run_id: str, backend: str, rouge1: float, j_per_summary: float, model: str = "m") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        run_name=f"infer-{backend}",
        kind=RunKind.INFER,
        experiment="bench-infer",
        status="FINISHED",
        start_time="2026-12-01T20:00:00+00:00",
        model_name=model,
        dataset_name="aclsum",
        strategies={"label": f"{backend}/fp32 batch 1 beams 1 cpu"},
        hardware="cpu: test x2",
        duration_s=10.0,
        energy_kwh=j_per_summary * 10 / 3.6e6,
        location="DE",
        intensity_gco2eq_per_kwh=400.0,
        pue=1.0,
        emissions_gco2eq=j_per_summary * 10 / 3.6e6 * 400.0,
        rouge={"rouge1": rouge1},
        infer=InferFigures(
            backend=backend,
            precision="fp32",
            batch_size=1,
            num_beams=1,
            device="cpu",
            summaries=10,
            j_per_summary=j_per_summary,
            wh_per_1000_summaries=j_per_summary * 1000 / 3600,
            latency_p50_ms=100.0,
            latency_p95_ms=120.0,
            rouge_delta={"rouge1": rouge1 - 30.0},
            exact_match_share=0.5,
        ),
    )


def test_pareto_flags_per_model_and_no_infer_record_among_the_runs() -> None:
    records = [
        infer_record("a", "eager", 30.0, 10.0),
        infer_record("b", "onnx", 29.0, 5.0),
        infer_record("c", "int8", 28.0, 8.0),  # b has more ROUGE-1 for fewer joules
        infer_record("d", "eager", 10.0, 50.0, model="other"),  # alone in its model: on its front
    ]
    report = build_report(records)
    assert report.runs == []
    assert [(row.run_id, row.pareto) for row in report.inference] == [
        ("a", True),
        ("b", True),
        ("c", False),
        ("d", True),
    ]
    text = render_markdown(report)
    assert "## Inference (bench-infer)" in text
    assert "| m | int8/fp32 batch 1 beams 1 cpu | 8.00 | 2.22 | 120 | 28.00 | −2.00 | 50 % |  |" in text
