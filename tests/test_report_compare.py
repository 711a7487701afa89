"""Pareto fronts, deltas, baseline choice and the recommendation, on hand-written ledger records.

These records stand in for the ledger's output (its own round trip is tested
with the real runner in test_report_ledger.py); the code under test is the
report's arithmetic.
"""

from __future__ import annotations

import pytest

from greentune.ledger import ComponentEnergy, PhaseFootprint, RunRecord
from greentune.report import build_report
from greentune.report.compare import cost_usd, delta, emissions_gco2eq, pareto_front, rouge1
from greentune.report.load import choose_baseline, select_runs


def record(name: str, rouge_1: float | None, energy_kwh: float, cost: float | None = None, **fields) -> RunRecord:
    """A finished CPU run in France (56 gCO2eq/kWh, PUE 1) with the given ROUGE-1 and energy."""
    values = dict(
        run_id=f"id-{name}",
        run_name=name,
        experiment="unit",
        status="FINISHED" if rouge_1 is not None else "FAILED",
        start_time=f"2026-01-01T00:00:{len(name):02d}+00:00",
        model_name="tiny",
        dataset_name="aclsum",
        strategies={"freeze": name if name != "baseline" else "none"},
        hardware="cpu: test x1",
        duration_s=energy_kwh * 1e5,
        energy_kwh=energy_kwh,
        components=[ComponentEnergy(name="cpu", energy_kwh=energy_kwh, source="estimated")],
        phases=[
            PhaseFootprint(name="train", duration_s=10, energy_kwh=energy_kwh * 0.8),
            PhaseFootprint(name="epoch-1", duration_s=5, energy_kwh=energy_kwh * 0.4),
        ],
        location="FR",
        intensity_gco2eq_per_kwh=56.0,
        pue=1.0,
        emissions_gco2eq=energy_kwh * 56.0,
        cost_usd=cost,
        rouge={} if rouge_1 is None else {"rouge1": rouge_1, "rouge2": rouge_1 / 3, "rougeL": rouge_1 * 0.8},
    )
    values.update(fields)
    return RunRecord(**values)


def test_pareto_front_keeps_only_runs_nothing_beats_on_both_axes() -> None:
    runs = [
        record("baseline", 18.0, 0.010),
        record("cheap", 17.0, 0.005),
        record("worse", 16.0, 0.008),  # cheap scores more for less
        record("same", 18.0, 0.012),  # baseline scores the same for less
        record("failed", None, 0.001),
    ]
    assert pareto_front(runs, rouge1, emissions_gco2eq) == {"id-baseline", "id-cheap"}
    assert pareto_front(runs, rouge1, cost_usd) == set()  # no run has a price


def test_delta_is_percent_of_the_baseline_and_rouge_in_points() -> None:
    change = delta(record("half", 17.5, 0.005, cost=1.0), record("baseline", 18.0, 0.010, cost=4.0))
    assert change.energy_pct == pytest.approx(-50.0)
    assert change.emissions_pct == pytest.approx(-50.0)
    assert change.cost_pct == pytest.approx(-75.0)
    assert change.rouge_points["rouge1"] == pytest.approx(-0.5)


def test_recommendation_keeps_savings_within_tolerance_and_drops_the_rest() -> None:
    runs = [
        record("baseline", 18.0, 0.010),
        record("embeddings", 17.6, 0.008),
        record("encoder", 12.0, 0.004),
        record("both", 17.0, 0.011),
    ]
    report = build_report(runs, rouge_tolerance_points=1.0)
    decisions = {v.run_name: v.decision for v in report.verdicts}
    assert decisions == {"embeddings": "keep", "encoder": "trade-off", "both": "drop"}
    keep = next(v for v in report.verdicts if v.run_name == "embeddings")
    assert keep.energy_change_pct == pytest.approx(-20.0)
    assert "saves 20% energy" in keep.sentence and "losing 0.4 ROUGE-1 points" in keep.sentence
    assert "Strategies worth keeping: embeddings." in report.recommendation


def test_per_epoch_windows_are_not_added_to_the_phase_totals() -> None:
    report = build_report([record("baseline", 18.0, 0.010)])
    assert report.runs[0].energy_by_phase_kwh == {"train": pytest.approx(0.008)}


def test_unknown_baseline_and_failed_run_become_notes_and_the_report_still_builds() -> None:
    runs = [record("baseline", 18.0, 0.010), record("crashed", None, 0.002)]
    chosen, notes = choose_baseline(runs, "nope")
    assert chosen is not None and chosen.run_name == "baseline"
    assert "Baseline 'nope' is not among the reported runs" in notes[0]
    report = build_report(runs, baseline="nope")
    assert [row.run_name for row in report.runs] == ["baseline", "crashed"]
    assert any("'crashed' (FAILED) has no ROUGE" in note for note in report.notes)
    assert report.runs[1].pareto_emissions is None
    assert report.deltas == []  # a run without ROUGE is not compared


def test_filter_matching_nothing_says_which_runs_exist() -> None:
    runs = [record("baseline", 18.0, 0.010), record("embeddings", 17.6, 0.008)]
    kept, notes = select_runs(runs, "lora-*")
    assert kept == []
    assert notes == ["No run matches --runs 'lora-*'; runs in the ledger: baseline, embeddings."]
    assert [r.run_name for r in select_runs(runs, "emb*, nothing")[0]] == ["embeddings"]
