"""Records that finished but could not reach the ledger: kept in their run folder, synced later.

At its start a job reserves ``run_record.json`` in its run folder (the
RUNNING record padded with spaces to `RESERVED_BYTES`, fsynced) and a
``PENDING_SYNC`` marker. At its end the full record overwrites the reserved
bytes in place — so it is kept even when the disk has filled up meanwhile —
and the marker is removed once the ledger has the record (`mark_synced`). If
the ledger write fails (disk full, a corrupt or unreachable ledger), the
marker stays, with the reason (`mark_pending`); `pending_runs` finds such
folders under a ledger's home and `sync_pending` (``greentune ledger sync``)
writes them to the ledger — completing the RUNNING entry the job made at its
start when the ledger still has it — and removes the marker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.ledger.mlflow_store import RECORD_ARTIFACT, finish_run, run_exists, write_run
from greentune.ledger.record import RunRecord, RunStatus
from greentune.paths import home_for

PENDING_MARKER = "PENDING_SYNC"
RUNS_FOLDER = "runs"
RESERVED_BYTES = 1 << 20  # room for the final record: spec, data report, evaluation history, notes
_MARKER_RESERVED_BYTES = 4096


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


def reserve_record(record: RunRecord, folder: Path) -> Path:
    """At a job's start: run_record.json holding ``record`` padded to `RESERVED_BYTES`, and the marker, fsynced."""
    _overwrite(folder / PENDING_MARKER, b"the job has not finished", _MARKER_RESERVED_BYTES)
    return _overwrite(folder / RECORD_ARTIFACT, record.model_dump_json(indent=2).encode(), RESERVED_BYTES)


def save_record(record: RunRecord, folder: Path) -> Path:
    """Write the full record as run_record.json, in the bytes reserved at the start when there are enough."""
    return _overwrite(folder / RECORD_ARTIFACT, record.model_dump_json(indent=2).encode(), 0)


def mark_pending(folder: Path, reason: str) -> None:
    """Say on the marker why the record is not in the ledger (one line, in the marker's reserved bytes)."""
    _overwrite(folder / PENDING_MARKER, " ".join(reason.split()).encode()[: _MARKER_RESERVED_BYTES - 1], 0)


def mark_synced(folder: Path) -> None:
    """The ledger has the record: remove the marker."""
    (folder / PENDING_MARKER).unlink(missing_ok=True)


def _overwrite(path: Path, content: bytes, size: int) -> Path:
    """Write ``content`` at the start of ``path`` in place, padded with spaces (JSON whitespace) to at least
    ``size`` bytes and to the file's present length, so that no byte beyond what is already allocated is needed."""
    length = max(size, path.stat().st_size if path.exists() else 0)
    with path.open("r+b" if path.exists() else "wb") as file:
        file.write(content + b" " * max(length - len(content), 0))
        file.flush()
        os.fsync(file.fileno())
    return path


def pending_runs(tracking_uri: str | None) -> list[PendingRun]:
    """Run folders under the ledger's home that still wait for `greentune ledger sync`, oldest first."""
    runs = home_for(tracking_uri) / RUNS_FOLDER
    if not runs.is_dir():
        return []
    found = []
    for marker in sorted(runs.glob(f"*/{PENDING_MARKER}")):
        if _still_running(marker.parent):
            continue  # a job in progress, or one that died (the ledger shows it LOST)
        try:
            reason = marker.read_text(encoding="utf-8").strip()
        except OSError as error:
            reason = f"unreadable marker ({error.strerror})"
        found.append(PendingRun(marker.parent, reason))
    return found


def _still_running(folder: Path) -> bool:
    try:
        return bool(_read(folder / RECORD_ARTIFACT).status == RunStatus.RUNNING)
    except GreentuneError:
        return False


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


def _read(path: Path) -> RunRecord:
    try:
        return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GreentuneError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise GreentuneError(f"{path} is not a run record ({str(error).splitlines()[0]})") from None


def _sync_one(folder: Path, tracking_uri: str | None) -> RunRecord:
    record = _read(folder / RECORD_ARTIFACT)
    if not (folder / PENDING_MARKER).is_file():  # e.g. a folder of that name: it could not be removed once synced
        raise GreentuneError(
            f"{PENDING_MARKER} there is not a file greentune wrote, so it could not be removed once synced; "
            "nothing was written to the ledger: replace it with an empty file and sync again"
        )
    if not all(os.access(path, os.W_OK) for path in (folder, folder / RECORD_ARTIFACT)):
        # checked first: a record synced but left marked would be written to the ledger again by the next sync
        raise GreentuneError(
            "the folder is not writable (read-only?), so it could not be marked synced; "
            "nothing was written to the ledger: make it writable and sync again"
        )
    artifacts = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in (PENDING_MARKER, RECORD_ARTIFACT))
    if record.run_id and run_exists(record.run_id, tracking_uri):
        stored = finish_run(record, artifacts, tracking_uri=tracking_uri)
    else:  # the ledger lost its RUNNING entry (e.g. restored from a backup): a new run
        stored = write_run(record.model_copy(update={"run_id": ""}), artifacts, tracking_uri=tracking_uri)
    save_record(stored, folder)
    mark_synced(folder)
    return stored
