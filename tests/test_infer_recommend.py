"""The recommendation is computed from the rows: change a row and the answer changes; savings are hand-computed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from greentune.carbon import Site
from greentune.carbon.prices import Price
from greentune.infer import Backend, Precision
from greentune.infer.recommend import recommend
from greentune.infer.rows import BenchConfig, BenchRow

SITE = Site(
    location="XX",
    name="test site",
    intensity_gco2eq_per_kwh=400.0,
    intensity_source="test",
    intensity_year="2024",
    pue=1.5,
    pue_source="test",
    pue_year="2024",
)
PRICED = replace(
    SITE,
    sku="test-vm",
    sku_prices=(Price("test", "test-vm", "", "on_demand", 3.6, "none", 1, "2024", "test", "2024"),),
)


def row(
    backend: Backend,
    precision: Precision,
    j_per_summary: float,
    summaries_per_s: float,
    p95_ms: float,
    rouge1_delta: float,
    device: str = "cpu",
) -> BenchRow:
    return BenchRow(
        config=BenchConfig(backend, precision, 1, 1, device),
        summaries=10,
        j_per_summary=j_per_summary,
        summaries_per_s=summaries_per_s,
        latency_p95_ms=p95_ms,
        rouge1_delta=rouge1_delta,
        energy_source="estimated",
        is_reference=(backend, precision) == (Backend.EAGER, Precision.FP32),
    )


EAGER = row(Backend.EAGER, Precision.FP32, 36.0, 2.0, 600.0, 0.0)
INT8 = row(Backend.INT8, Precision.INT8, 18.0, 4.0, 300.0, -0.3)
ONNX_INT8 = row(Backend.ONNX, Precision.INT8, 9.0, 8.0, 150.0, -0.8)
CT2_INT8 = row(Backend.CT2, Precision.INT8, 12.0, 5.0, 900.0, -0.1)
CT2_ON_BERT = BenchRow(
    config=BenchConfig(Backend.CT2, Precision.INT8, 1, 1, "cpu"), reason="CTranslate2 cannot convert it"
)
ROWS = [EAGER, INT8, ONNX_INT8, CT2_INT8, CT2_ON_BERT]


def test_least_energy_within_the_rouge_drop_wins_and_an_unsupported_row_is_ignored() -> None:
    chosen = recommend(ROWS, SITE)
    assert chosen.choice is CT2_INT8  # onnx int8 is cheaper but loses 0.8 ROUGE-1 points
    assert chosen.reference is EAGER
    assert chosen.line.startswith("recommended: ct2/int8, batch 1, greedy, cpu: 12 J/summary, ROUGE-1 -0.10 points")
    assert "3.00× less energy than eager fp32" in chosen.line
    assert "no latency budget given" in chosen.line


def test_changing_a_row_changes_the_recommendation() -> None:
    assert recommend(ROWS, SITE).choice is CT2_INT8
    better_onnx = replace(ONNX_INT8, rouge1_delta=-0.4)
    assert recommend([EAGER, INT8, better_onnx, CT2_INT8], SITE).choice is better_onnx
    cheaper_int8 = replace(INT8, j_per_summary=10.0)
    assert recommend([EAGER, cheaper_int8, ONNX_INT8, CT2_INT8], SITE).choice is cheaper_int8


def test_latency_budget_excludes_slow_rows_and_says_the_cpu_meets_it() -> None:
    chosen = recommend(ROWS, SITE, latency_budget_ms=500)
    assert chosen.choice is INT8  # ct2 (900 ms) and eager (600 ms) are over budget
    assert chosen.cpu_meets_budget is True
    assert "the CPU meets the 500 ms budget: this budget does not need a GPU" in chosen.line


def test_no_row_within_budget_names_the_fastest_that_keeps_quality() -> None:
    chosen = recommend(ROWS, SITE, latency_budget_ms=100)
    assert chosen.choice is None
    assert chosen.line == (
        "no recommendation: no configuration keeps p95 latency within 100 ms "
        "(fastest: int8/int8 batch 1 beams 1 cpu at 300 ms)"
    )


def test_only_a_gpu_meets_a_tight_budget() -> None:
    gpu_eager = row(Backend.EAGER, Precision.FP32, 10.0, 50.0, 80.0, 0.0, device="cuda")
    gpu_fp16 = row(Backend.EAGER, Precision.FP16, 5.0, 100.0, 40.0, 0.0, device="cuda")
    chosen = recommend([*ROWS, gpu_eager, gpu_fp16], SITE, latency_budget_ms=100)
    assert chosen.choice is gpu_fp16
    assert chosen.reference is gpu_eager  # savings against eager fp32 on the same device
    assert chosen.cpu_meets_budget is False
    assert "only a GPU meets the 100 ms budget" in chosen.line


def test_savings_per_thousand_and_per_million_in_kwh_grams_and_dollars() -> None:
    savings = recommend(ROWS, PRICED).savings
    assert savings is not None
    # 1,000 summaries: eager 36 kJ = 0.01 kWh, ct2 12 kJ = 0.003333 kWh
    assert savings.kwh_per_1000 == pytest.approx(0.01 - 0.012 / 3.6)
    # × PUE 1.5 × 400 gCO2eq/kWh
    assert savings.gco2eq_per_1000 == pytest.approx((0.01 - 0.012 / 3.6) * 1.5 * 400)
    # eager 500 s, ct2 200 s of a $3.60/h instance: $0.50 - $0.20
    assert savings.usd_per_1000 == pytest.approx(0.3)
    assert savings.kwh_per_million == pytest.approx(1000 * (0.01 - 0.012 / 3.6))
    assert savings.usd_per_million == pytest.approx(300.0)
    assert recommend(ROWS, SITE).savings.usd_per_1000 is None  # type: ignore[union-attr]
    assert "($ needs --sku)" in recommend(ROWS, SITE).line


def test_every_row_over_the_rouge_drop_gives_no_recommendation() -> None:
    chosen = recommend([replace(EAGER, rouge1_delta=-1.0), ONNX_INT8], SITE)
    assert chosen.choice is None
    assert chosen.line == "no recommendation: every configuration loses more than 0.5 ROUGE-1 points"
