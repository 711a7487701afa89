"""Hand-made ledger records for the project-footprint tests: only what each test varies is an argument."""

from __future__ import annotations

from typing import Any

from greentune.ledger import RunKind, RunRecord


def hand_record(
    name: str, kind: RunKind, status: str, start: str, energy_kwh: float, grams: float, **extra: Any
) -> RunRecord:
    """A record of experiment ``proj`` in DE (400 g/kWh, PUE 1) lasting 60 s; ``extra`` sets or overrides fields."""
    fields: dict[str, Any] = {
        "run_id": "",
        "run_name": name,
        "kind": kind,
        "experiment": "proj",
        "status": status,
        "start_time": start,
        "model_name": "minilm-bert2bert",
        "dataset_name": "aclsum",
        "hardware": "cpu: test x1",
        "duration_s": 60.0,
        "energy_kwh": energy_kwh,
        "location": "DE",
        "intensity_gco2eq_per_kwh": 400.0,
        "pue": 1.0,
        "emissions_gco2eq": grams,
        **extra,
    }
    return RunRecord(**fields)
