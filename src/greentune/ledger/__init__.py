"""greentune.ledger: the only code that talks to MLflow (imported lazily)."""

from greentune.ledger.mlflow_store import default_tracking_uri, read_runs, record_metrics, reserve_run, write_run
from greentune.ledger.record import (
    ComponentEnergy,
    InferFigures,
    PhaseFootprint,
    RunKind,
    RunRecord,
    ServingFootprint,
    SweepBudget,
    SweepFootprint,
    SweepTrial,
    TrialInfo,
    TrialReport,
    TrialStatus,
)

__all__ = [
    "ComponentEnergy",
    "InferFigures",
    "PhaseFootprint",
    "RunKind",
    "RunRecord",
    "ServingFootprint",
    "SweepBudget",
    "SweepFootprint",
    "SweepTrial",
    "TrialInfo",
    "TrialReport",
    "TrialStatus",
    "default_tracking_uri",
    "read_runs",
    "record_metrics",
    "reserve_run",
    "write_run",
]
