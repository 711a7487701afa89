"""The model card refuses emissions whose magnitude does not match the run's energy (kg stored as g)."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.ledger import ComponentEnergy, RunRecord
from greentune.report import co2_eq_emissions, write_card


def h100_run(emissions_gco2eq: float) -> RunRecord:
    """A 12.5 kWh GPU run in azure:westeurope accounted at 250 gCO2eq/kWh and PUE 1.2 (3,750 g)."""
    return RunRecord(
        run_id="0123456789abcdef",
        run_name="bart-large-bf16",
        experiment="cards",
        status="FINISHED",
        start_time="2026-01-01T00:00:00+00:00",
        model_name="facebook/bart-large",
        dataset_name="samsum",
        hardware="gpu: NVIDIA H100 80GB HBM3 x1",
        duration_s=3 * 3600.0,
        energy_kwh=12.5,
        components=[ComponentEnergy(name="gpu:0", energy_kwh=12.5, source="measured")],
        location="azure:westeurope",
        intensity_gco2eq_per_kwh=250.0,
        pue=1.2,
        emissions_gco2eq=emissions_gco2eq,
    )


def test_emissions_in_grams_pass_the_magnitude_check() -> None:
    block = co2_eq_emissions(h100_run(3750.0))
    assert block == {
        "emissions": 3750.0,
        "source": block["source"],
        "training_type": "fine-tuning",
        "geographical_location": "azure:westeurope",
        "hardware_used": "gpu: NVIDIA H100 80GB HBM3 x1",
    }
    assert block["source"].startswith("greentune ") and "measured energy" in block["source"]


def test_kilograms_recorded_as_grams_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "README.md"
    with pytest.raises(GreentuneError, match=r"records 3\.75 gCO2eq, but .* is 3750 g; .*kg instead of g"):
        write_card(h100_run(3.75), out)
    assert not out.exists()
