"""Records that finished but could not reach the ledger: kept in their run folder, synced later.

Before a job's final ledger write, the runner saves the full record as
``run_record.json`` in the run folder. If the write fails (disk full, a corrupt
or unreachable ledger), `mark_pending` adds a ``PENDING_SYNC`` marker saying
why; `pending_runs` finds such folders under a ledger's home and `sync_pending`
(``greentune ledger sync``) writes them to the ledger — completing the RUNNING
entry the job made at its start when the ledger still has it — and removes the
marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.ledger.mlflow_store import RECORD_ARTIFACT, finish_run, run_exists, write_run
from greentune.ledger.record import RunRecord
from greentune.paths import home_for

PENDING_MARKER = "PENDING_SYNC"
RUNS_FOLDER = "runs"


@dataclass(frozen=True)
class PendingRun:
    """A run folder whose record has not reached the ledger."""

    folder: Path
    reason: str


@dataclass(frozen=True)
class SyncResult:
    """What `sync_pending` did: the records written and the folders it could not sync, each with why."""

    synced: tuple[RunRecord, ...]
    failed: tuple[PendingRun, ...]


def save_record(record: RunRecord, folder: Path) -> Path:
    """Write the full record as run_record.json in the run folder (before the ledger is written)."""
    path = folder / RECORD_ARTIFACT
    path.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    return path


def mark_pending(folder: Path, reason: str) -> None:
    """Mark the run folder's record as not yet in the ledger, with the reason on one line."""
    (folder / PENDING_MARKER).write_text(" ".join(reason.split()) + "\n", encoding="utf-8")


def pending_runs(tracking_uri: str | None) -> list[PendingRun]:
    """Run folders under the ledger's home that still wait for `greentune ledger sync`, oldest first."""
    runs = home_for(tracking_uri) / RUNS_FOLDER
    if not runs.is_dir():
        return []
    found = []
    for marker in sorted(runs.glob(f"*/{PENDING_MARKER}")):
        try:
            reason = marker.read_text(encoding="utf-8").strip()
        except OSError as error:
            reason = f"unreadable marker ({error.strerror})"
        found.append(PendingRun(marker.parent, reason))
    return found


def sync_pending(tracking_uri: str | None) -> SyncResult:
    """Write every pending record under the ledger's home to the ledger; unmark each one written."""
    synced: list[RunRecord] = []
    failed: list[PendingRun] = []
    for pending in pending_runs(tracking_uri):
        try:
            synced.append(_sync_one(pending.folder, tracking_uri))
        except GreentuneError as error:
            failed.append(PendingRun(pending.folder, str(error)))
    return SyncResult(tuple(synced), tuple(failed))


def _sync_one(folder: Path, tracking_uri: str | None) -> RunRecord:
    path = folder / RECORD_ARTIFACT
    try:
        record = RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GreentuneError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise GreentuneError(f"{path} is not a run record ({str(error).splitlines()[0]})") from None
    artifacts = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in (PENDING_MARKER, RECORD_ARTIFACT))
    if record.run_id and run_exists(record.run_id, tracking_uri):
        stored = finish_run(record, artifacts, tracking_uri=tracking_uri)
    else:  # the ledger lost its RUNNING entry (e.g. restored from a backup): a new run
        stored = write_run(record.model_copy(update={"run_id": ""}), artifacts, tracking_uri=tracking_uri)
    save_record(stored, folder)
    (folder / PENDING_MARKER).unlink()
    return stored
