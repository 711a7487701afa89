"""Write `RunRecord`s to MLflow and read them back; the only module that imports mlflow.

Each run becomes an MLflow run: params (the flattened spec), metrics (ROUGE,
kWh by component and phase, gCO2eq, $, throughput, per-evaluation history),
tags (status, hardware, energy source) and artifacts (the record as JSON, the
spec, emissions.csv, predictions, the meter log). The record JSON artifact is
what `read_runs` reads back; run id and status come from MLflow itself.

The default store is a SQLite file, greentune-runs/mlflow.db, with artifacts in
greentune-runs/artifacts/ beside it: `mlflow ui --backend-store-uri <uri>`
shows the same runs.

Concurrency: any number of processes may write one SQLite ledger. Creating
the store (MLflow's schema set-up) and experiments happens under a file lock
beside the database; every call is retried with growing pauses while SQLite
reports the database locked. For heavy parallel use an MLflow server (with
PostgreSQL behind it) is the better ledger. A job writes its record twice:
RUNNING at its start (`start_run`, with a heartbeat tag it refreshes with
`touch_run`) and complete at its end (`finish_run`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from greentune.errors import GreentuneError
from greentune.ledger.record import RunRecord, RunStatus
from greentune.paths import DEFAULT_HOME

RECORD_ARTIFACT = "run_record.json"
STATUS_TAG = "greentune.status"
HEARTBEAT_TAG = "greentune.heartbeat_unix_s"
_PARAM_VALUE_LIMIT = 6000
_BATCH = 100  # MLflow accepts at most 100 params per log_batch call
_LOCK_TIMEOUT_S = 900.0
# back-off on a locked SQLite database, on top of SQLite's own 5 s busy wait per try: about 45 s in all
_RETRY_DELAYS_S = (0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0)

T = TypeVar("T")
P = ParamSpec("P")


def default_tracking_uri() -> str:
    """$GREENTUNE_TRACKING_URI, else $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/greentune-runs/mlflow.db."""
    configured = os.environ.get("GREENTUNE_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{(DEFAULT_HOME / 'mlflow.db').resolve()}"


def _quiet_mlflow() -> None:
    """MLflow and its alembic migrations log at INFO and warn about futures; the user needs none of it."""
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        # CRITICAL: MLflow logs a failed SQL write at ERROR with a 100-line traceback; our one line says it
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*[Mm][Ll]flow.*")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _sqlite_file(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


@contextmanager
def _creation_lock(uri: str) -> Iterator[None]:
    """Hold `<db>.lock` (a `filelock.FileLock`) while a SQLite store is created or migrated, or an experiment made.

    MLflow sets up its schema when a client first opens the file; two processes
    doing that at once race (duplicate tables, a half-migrated database). An
    existing ledger in a folder we cannot write is opened without the lock: it
    cannot be set up from here, and the lock file could not be made there.
    """
    database = _sqlite_file(uri)
    if database is None or (database.is_file() and not os.access(database.parent, os.W_OK)):
        yield
        return
    from filelock import FileLock, Timeout

    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(f"{database}.lock", timeout=_LOCK_TIMEOUT_S):
            yield
    except Timeout:
        raise GreentuneError(
            f"waited {_LOCK_TIMEOUT_S:.0f} s for {database}.lock held by another greentune process; "
            "if none is running, delete that file"
        ) from None


def _client(tracking_uri: str | None) -> tuple[Any, str]:
    _quiet_mlflow()
    from mlflow.tracking import MlflowClient

    _quiet_mlflow()  # importing mlflow sets its loggers back to INFO ("Creating initial MLflow database tables...")
    uri = tracking_uri or default_tracking_uri()
    database = _sqlite_file(uri)
    if database is not None:
        _import_sqlite_store()
    with _ledger_errors(uri), _creation_lock(uri):
        if database is not None and (not database.exists() or database.stat().st_size == 0):
            _retrying(_create_sqlite_store, database, uri)
        return _retrying(MlflowClient, tracking_uri=uri), uri


def _create_sqlite_store(database: Path, uri: str) -> None:
    """Set up MLflow's schema in `<db>.creating`, then move the file into place (under the creation lock).

    The set-up runs dozens of migrations, seconds on a busy machine; Ctrl-C or a kill in them must leave
    no half-migrated ledger, which every later run would refuse.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    staging = database.with_name(f"{database.name}.creating")
    staging.unlink(missing_ok=True)  # left by a set-up that was killed
    SqlAlchemyStore(f"sqlite:///{staging}", _artifact_location(uri)).engine.dispose()
    os.replace(staging, database)


def _import_sqlite_store() -> None:
    """Import what opening a SQLite store imports, before the lock is taken: on a busy machine these
    imports take longer than the database work, and eight processes importing one after another under
    the lock waited minutes (found by the eight-runs test)."""
    import alembic.command
    import alembic.config  # noqa: F401
    import mlflow.store.db.utils
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def _retrying(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)``, tried again with growing pauses while SQLite says the database is locked."""
    for delay_s in (*_RETRY_DELAYS_S, None):
        try:
            return call(*args, **kwargs)
        except Exception as error:
            if delay_s is None or "is locked" not in str(error):
                raise
            time.sleep(delay_s * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


@contextmanager
def _ledger_errors(uri: str) -> Iterator[None]:
    """A store that cannot be opened or written becomes one line; MLflow and SQLAlchemy raise many types for it."""
    try:
        yield
    except GreentuneError:
        raise
    except Exception as error:
        lines = str(error).strip().splitlines() or [""]
        sqlite_cause = next((line for line in lines if "(sqlite3." in line), None)  # e.g. "database or disk is full"
        message = sqlite_cause.split(")", 1)[-1].strip() if sqlite_cause else lines[0]
        raise GreentuneError(
            f"cannot open or write the ledger at {uri} ({type(error).__name__}: {message[:300]}); "
            "give a working tracking URI like sqlite:///path/mlflow.db or http://host:5000"
        ) from None


def check_ledger(tracking_uri: str | None = None) -> str:
    """Open the ledger (creating a new SQLite one) and read from it; a broken one fails here in seconds.

    Called before a job starts, so that a corrupt or unreachable ledger is
    found before any model loads. Returns the URI.
    """
    client, uri = _client(tracking_uri)
    with _ledger_errors(uri):
        _retrying(client.search_experiments, max_results=1)
    return uri


def _artifact_location(uri: str) -> str | None:
    """Artifacts beside a SQLite file; the server's default otherwise."""
    database = _sqlite_file(uri)
    return None if database is None else (database.parent / "artifacts").resolve().as_uri()


def _experiment_id(client: Any, uri: str, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=_artifact_location(uri)))
    except Exception:  # another process (e.g. through a tracking server, beyond our file lock) created it first
        created = client.get_experiment_by_name(name)
        if created is None:
            raise
        return str(created.experiment_id)


def record_metrics(record: RunRecord) -> dict[str, float]:
    """The record's numbers as flat MLflow metrics."""
    metrics: dict[str, float | int | None] = {
        "duration_s": record.duration_s,
        "energy_kwh": record.energy_kwh,
        "emissions_gco2eq": record.emissions_gco2eq,
        "embodied_gco2eq": record.embodied_gco2eq,
        "cost_usd": record.cost_usd,
        "intensity_gco2eq_per_kwh": record.intensity_gco2eq_per_kwh,
        "pue": record.pue,
        "samples_per_s": record.samples_per_s,
        "tokens_per_s": record.tokens_per_s,
        "total_flos": record.total_flos,
        "peak_ram_bytes": record.peak_ram_bytes,
        "peak_vram_bytes": record.peak_vram_bytes,
        "avg_cpu_util_pct": record.avg_cpu_util_pct,
        "avg_gpu_util_pct": record.avg_gpu_util_pct,
        "avg_power_w": record.avg_power_w,
        "peak_power_w": record.peak_power_w,
        "epochs_run": record.epochs_run,
        "epochs_budget": record.epochs_budget,
        "early_stopping_saved_kwh": record.early_stopping_saved_kwh,
    }
    metrics.update({f"rouge.{key}": value for key, value in record.rouge.items()})
    metrics.update({f"test_rouge.{key}": value for key, value in record.test_rouge.items()})
    metrics.update({f"energy_kwh.{_key(c.name)}": c.energy_kwh for c in record.components})
    if record.carbon_aware is not None:
        metrics.update(
            {
                f"carbon_aware.{key}": getattr(record.carbon_aware, key)
                for key in ("realised_gco2eq", "counterfactual_gco2eq", "savings_pct")
            }
        )
    for phase in record.phases:
        metrics[f"phase.{_key(phase.name)}.energy_kwh"] = phase.energy_kwh
        metrics[f"phase.{_key(phase.name)}.duration_s"] = phase.duration_s
    return {key: float(value) for key, value in metrics.items() if value is not None}


def _key(name: str) -> str:
    return re.sub(r"[^\w.\- /]", "_", name)


def start_run(record: RunRecord, params: dict[str, str] | None = None, tracking_uri: str | None = None) -> RunRecord:
    """Create the MLflow run with the record as it stands (status RUNNING at a job's start); returns it with its id."""
    client, uri = _client(tracking_uri)
    with _ledger_errors(uri):
        with _creation_lock(uri):  # two processes creating the same experiment would collide
            experiment_id = _retrying(_experiment_id, client, uri, record.experiment)
        run = _retrying(
            client.create_run, experiment_id, start_time=_epoch_ms(record.start_time), run_name=record.run_name
        )
    return _log_params(record.model_copy(update={"run_id": run.info.run_id}), params, tracking_uri)


def _log_params(stored: RunRecord, params: dict[str, str] | None, tracking_uri: str | None) -> RunRecord:
    """Params, tags and the record artifact of a run that exists in the ledger."""
    from mlflow.entities import Param

    client, uri = _client(tracking_uri)
    param_list = [Param(key, str(value)[:_PARAM_VALUE_LIMIT]) for key, value in (params or {}).items()]
    with _ledger_errors(uri):
        for start in range(0, max(len(param_list), 1), _BATCH):
            batch = param_list[start : start + _BATCH]
            _retrying(client.log_batch, stored.run_id, params=batch, tags=_tags(stored))
        _log_record_artifact(client, stored)
    return stored


def touch_run(run_id: str, tracking_uri: str | None = None) -> None:
    """Refresh a RUNNING run's heartbeat (Unix seconds in the tag greentune.heartbeat_unix_s)."""
    client, uri = _client(tracking_uri)
    with _ledger_errors(uri):
        _retrying(client.set_tag, run_id, HEARTBEAT_TAG, f"{time.time():.0f}")


def run_exists(run_id: str, tracking_uri: str | None = None) -> bool:
    """Whether the ledger holds a run with this id."""
    client, uri = _client(tracking_uri)
    try:
        client.get_run(run_id)
    except Exception as error:  # MlflowException RESOURCE_DOES_NOT_EXIST; anything else is a broken ledger
        if "RESOURCE_DOES_NOT_EXIST" in str(getattr(error, "error_code", "")) or "not found" in str(error).lower():
            return False
        with _ledger_errors(uri):
            raise
    return True


def finish_run(
    record: RunRecord,
    artifacts: Iterable[Path] = (),
    extra_metrics: dict[str, float] | None = None,
    tracking_uri: str | None = None,
) -> RunRecord:
    """Complete the run ``record.run_id`` (made by `start_run`): metrics, tags, record, artifacts, final status."""
    from mlflow.entities import Metric

    client, uri = _client(tracking_uri)
    now_ms = int(time.time() * 1000)
    metrics = [
        Metric(key, value, now_ms, 0) for key, value in {**record_metrics(record), **(extra_metrics or {})}.items()
    ]
    for entry in record.eval_history:
        step = round((entry.get("epoch") or 0) * 1000)  # MLflow steps are integers: epoch × 1000
        metrics.extend(
            Metric(f"eval.{key}", float(value), now_ms, step)
            for key, value in entry.items()
            if key != "epoch" and value is not None
        )
    with _ledger_errors(uri):
        for start in range(0, max(len(metrics), 1), _BATCH):
            batch = metrics[start : start + _BATCH]
            tags = _tags(record) if start == 0 else []
            _retrying(client.log_batch, record.run_id, metrics=batch, tags=tags)
        _log_record_artifact(client, record)
        for path in artifacts:
            if path.is_dir():
                _retrying(client.log_artifacts, record.run_id, str(path), artifact_path=path.name)
            elif path.is_file():
                _retrying(client.log_artifact, record.run_id, str(path))
        end_ms = _epoch_ms(record.start_time) + int(record.duration_s * 1000)
        _retrying(client.set_terminated, record.run_id, status=str(record.status), end_time=end_ms)
    return record


def write_run(
    record: RunRecord,
    artifacts: Iterable[Path] = (),
    params: dict[str, str] | None = None,
    extra_metrics: dict[str, float] | None = None,
    tracking_uri: str | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """Store one finished job (any status) in one go; returns the record with MLflow's run id.

    `run_id`: fill a run made earlier by `reserve_run` (a sweep whose trials name it as their parent).
    """
    if run_id is None:
        stored = start_run(record, params, tracking_uri)
    else:
        stored = _log_params(record.model_copy(update={"run_id": run_id}), params, tracking_uri)
    return finish_run(stored, artifacts, extra_metrics, tracking_uri)


def _tags(record: RunRecord) -> list[Any]:
    from mlflow.entities import RunTag

    return [
        RunTag(STATUS_TAG, str(record.status)),
        RunTag(HEARTBEAT_TAG, f"{time.time():.0f}"),
        RunTag("greentune.kind", str(record.kind)),
        RunTag("greentune.hardware", record.hardware),
        RunTag("greentune.energy_source", record.energy_source),
        RunTag("greentune.model", record.model_name),
        RunTag("greentune.dataset", record.dataset_name),
    ]


def _log_record_artifact(client: Any, record: RunRecord) -> None:
    with tempfile.TemporaryDirectory() as folder:
        record_path = Path(folder) / RECORD_ARTIFACT
        record_path.write_text(record.model_dump_json(indent=2))
        _retrying(client.log_artifact, record.run_id, str(record_path))


def reserve_run(experiment: str, run_name: str, start_time: str, tracking_uri: str | None = None) -> str:
    """Create an empty MLflow run now and return its id; `write_run(record, run_id=...)` fills it later.

    `read_runs` skips it until then (it has no greentune tags yet).
    """
    client, uri = _client(tracking_uri)
    with _ledger_errors(uri):
        with _creation_lock(uri):
            experiment_id = _retrying(_experiment_id, client, uri, experiment)
        run = _retrying(client.create_run, experiment_id, start_time=_epoch_ms(start_time), run_name=run_name)
    return str(run.info.run_id)


# Reading is interactive: a wrong or unreachable server should fail in seconds, not after MLflow's
# default 7 retries with exponential back-off (about 4 minutes). Writing a finished run keeps the defaults.
_READ_HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


@contextmanager
def _impatient_http() -> Iterator[None]:
    """MLflow's HTTP retries and timeout cut for the duration, unless the user has set them."""
    added = {name: value for name, value in _READ_HTTP_SETTINGS.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def read_runs(tracking_uri: str | None = None, experiment: str | None = None) -> list[RunRecord]:
    """Every greentune run in the ledger (of one experiment when named), oldest first.

    A RUNNING run whose process is gone reads as LOST, with the energy its meter log holds (see `ledger.lost`).
    """
    uri = tracking_uri or default_tracking_uri()
    database = _sqlite_file(uri)
    if database is not None and not _has_mlflow_tables(database):
        return []  # nothing recorded yet; reading creates no store
    with _impatient_http():
        return _read_runs(uri, experiment)


def _has_mlflow_tables(database: Path) -> bool:
    """Whether ``database`` is an MLflow SQLite store; opened read-only, so a missing or empty file stays as it is."""
    if database.is_dir():  # `--tracking-uri sqlite:///ledger-folder` read as "no runs" before
        raise GreentuneError(
            f"the ledger {database} is a folder, not a SQLite file; "
            f"give sqlite:///{database / 'mlflow.db'} or another ledger's file"
        )
    if not database.is_file() or database.stat().st_size == 0:
        return False
    try:
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as error:
        raise GreentuneError(
            f"the ledger {database} is not a readable SQLite database ({error}); "
            "restore it from a backup or point --tracking-uri at another ledger"
        ) from None
    return "runs" in names and "experiments" in names


def _read_runs(uri: str, experiment: str | None) -> list[RunRecord]:
    from greentune.ledger.lost import settle_lost

    client, uri = _client(uri)
    with _ledger_errors(uri):
        if experiment is not None:
            found = client.get_experiment_by_name(experiment)
            experiment_ids = [found.experiment_id] if found is not None else []
        else:
            experiment_ids = [e.experiment_id for e in client.search_experiments()]
    if not experiment_ids:
        return []
    records: list[RunRecord] = []
    page_token = None
    with tempfile.TemporaryDirectory() as folder, _ledger_errors(uri):
        while True:
            page = client.search_runs(
                experiment_ids, order_by=["attributes.start_time ASC"], max_results=1000, page_token=page_token
            )
            for run in page:
                record = _read_record(client, run, Path(folder))
                if record is not None:
                    heartbeat = run.data.tags.get(HEARTBEAT_TAG)
                    records.append(settle_lost(record, float(heartbeat) if heartbeat else None))
            page_token = page.token
            if not page_token:
                break
    return records


def _read_record(client: Any, run: Any, folder: Path) -> RunRecord | None:
    """The record JSON of one run, with MLflow's id and status; None for runs greentune did not write."""
    if STATUS_TAG not in run.data.tags:
        return None
    try:
        local = client.download_artifacts(run.info.run_id, RECORD_ARTIFACT, str(folder))
    except Exception:  # MLflow raises MlflowException or OSError for a missing artifact
        return None
    try:
        data: dict[str, Any] = json.loads(Path(local).read_text(encoding="utf-8"))
        data["run_id"] = run.info.run_id
        if run.info.status in RunStatus.__members__:
            data["status"] = run.info.status
        return RunRecord.model_validate(data)
    except (ValueError, TypeError, KeyError) as error:  # bad JSON or UTF-8, or a record that does not validate
        detail = "; ".join(str(error).strip().splitlines()[:2]) or type(error).__name__
        raise GreentuneError(
            f"run {run.info.run_id} in the ledger has an unreadable {RECORD_ARTIFACT} ({detail}); "
            "fix that file or delete the run (e.g. in `mlflow ui`)"
        ) from None


def _epoch_ms(iso_time: str) -> int:
    try:
        return int(datetime.fromisoformat(iso_time).timestamp() * 1000)
    except ValueError:
        return int(time.time() * 1000)
