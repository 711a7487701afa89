"""greentune.ledger: the only code that talks to MLflow (imported lazily)."""

from greentune.ledger.mlflow_store import (
    check_ledger,
    default_tracking_uri,
    finish_run,
    read_runs,
    record_metrics,
    run_exists,
    start_run,
    touch_run,
    write_run,
)
from greentune.ledger.pending import (
    PendingRun,
    SyncResult,
    mark_pending,
    mark_synced,
    pending_runs,
    reserve_record,
    save_record,
    sync_pending,
)
from greentune.ledger.record import ComponentEnergy, PhaseFootprint, RunKind, RunRecord, RunStatus

__all__ = [
    "ComponentEnergy",
    "PendingRun",
    "PhaseFootprint",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "SyncResult",
    "check_ledger",
    "default_tracking_uri",
    "finish_run",
    "mark_pending",
    "mark_synced",
    "pending_runs",
    "read_runs",
    "record_metrics",
    "reserve_record",
    "run_exists",
    "save_record",
    "start_run",
    "sync_pending",
    "touch_run",
    "write_run",
]
