"""LOST runs: a RUNNING record whose process died without a word (SIGKILL, OOM killer, power loss).

A job writes its RUNNING record at start and refreshes a heartbeat while it
runs; its meter log (meter.jsonl in the run folder) is flushed at least every
10 s. When the ledger is read, a RUNNING run whose folder holds a final
record waiting for `greentune ledger sync` reads as that record; any other
RUNNING run is LOST if its process no longer exists on this machine, or —
run elsewhere — if neither heartbeat nor meter log moved for `STALE_AFTER_S`. Its energy is the meter log's cumulative
counters at the last flush, accounted like any run.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greentune.errors import GreentuneError
from greentune.ledger.record import ComponentEnergy, RunRecord, RunStatus

STALE_AFTER_S = 600.0
_J_PER_KWH = 3.6e6


def settle_lost(record: RunRecord, heartbeat_unix_s: float | None, now_unix_s: float | None = None) -> RunRecord:
    """``record`` as it is, or — a RUNNING run whose process is gone — as LOST with the energy its log holds."""
    if record.status != RunStatus.RUNNING:
        return record
    kept = _kept_in_folder(record)
    if kept is not None:
        return kept
    log = _meter_log(record)
    last_seen = max([t for t in (heartbeat_unix_s, _last_time(log)) if t is not None], default=None)
    now = time.time() if now_unix_s is None else now_unix_s
    if record.host == socket.gethostname() and record.pid is not None:
        if _alive(record.pid):
            return record
        why = f"its process {record.pid} on {record.host} is gone"
    elif last_seen is not None and now - last_seen > STALE_AFTER_S:
        why = f"no sign of life for {now - last_seen:.0f} s"
    else:
        return record
    seen = datetime.fromtimestamp(last_seen, UTC).isoformat(timespec="seconds") if last_seen else "its start"
    note = f"LOST: {why} (killed, out of memory or power loss); figures up to the meter's last flush ({seen})"
    return _with_logged_energy(record, log).model_copy(
        update={"status": RunStatus.LOST, "notes": [*record.notes, note]}
    )


def _kept_in_folder(record: RunRecord) -> RunRecord | None:
    """The final record a job left in its run folder when the ledger could not take it (PENDING_SYNC), if any."""
    from greentune.ledger.pending import PENDING_MARKER, RECORD_ARTIFACT

    if record.artifact_dir is None or not (Path(record.artifact_dir) / PENDING_MARKER).is_file():
        return None
    try:
        kept = RunRecord.model_validate_json((Path(record.artifact_dir) / RECORD_ARTIFACT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if kept.status == RunStatus.RUNNING:
        return None
    note = "kept in its run folder, not yet in the ledger: run `greentune ledger sync`"
    return kept.model_copy(update={"run_id": record.run_id, "notes": [*kept.notes, note]})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that id
        return True
    return True


def _meter_log(record: RunRecord) -> list[dict[str, Any]]:
    """The run's meter log records; empty when the run folder is not readable from here."""
    from greentune.meter import read_log

    if record.artifact_dir is None:
        return []
    path = Path(record.artifact_dir) / "meter.jsonl"
    if not path.is_file():
        return []
    try:
        return read_log(path)
    except GreentuneError:
        return []


def _last_time(log: list[dict[str, Any]]) -> float | None:
    times = [entry["t_unix_s"] for entry in log if isinstance(entry.get("t_unix_s"), int | float)]
    return max(times, default=None)


def _with_logged_energy(record: RunRecord, log: list[dict[str, Any]]) -> RunRecord:
    """Energy, components and duration from the last counters in the log, with carbon and $ accounted again."""
    start = next((entry for entry in log if entry.get("type") == "meter_start"), None)
    readings = [entry for entry in log if entry.get("type") in ("sample", "window_begin") and "energy_j" in entry]
    if start is None or not readings:
        return record
    last = readings[-1]
    sources = {component["name"]: component["source"] for component in start.get("components", [])}
    components = [
        ComponentEnergy(name=name, energy_kwh=joules / _J_PER_KWH, source=sources.get(name, "estimated"))
        for name, joules in last["energy_j"].items()
    ]
    energy_kwh = sum(component.energy_kwh for component in components)
    duration_s = max(float(last["t_unix_s"]) - float(start["t_unix_s"]), 0.0)
    measured = record.model_copy(update={"energy_kwh": energy_kwh, "duration_s": duration_s, "components": components})
    if duration_s <= 0:
        return measured
    accounting = _account(measured)
    return measured.model_copy(
        update=dict(
            emissions_gco2eq=accounting.emissions_gco2eq,
            embodied_gco2eq=accounting.embodied_gco2eq,
            cost_usd=accounting.cost_usd,
            intensity_gco2eq_per_kwh=accounting.intensity_gco2eq_per_kwh,
            pue=accounting.pue,
        )
    )


def _account(record: RunRecord) -> Any:
    """The same accounting a finished run gets, at the site its spec names."""
    from greentune.carbon import account, resolve_site

    site_spec = record.spec.get("site", {}) if isinstance(record.spec.get("site"), dict) else {}
    site = resolve_site(
        site_spec.get("location"), pue=site_spec.get("pue"), sku=site_spec.get("sku"), prices=site_spec.get("prices")
    )
    return account(record.energy_kwh, record.duration_s, site, energy_source=record.energy_source)
