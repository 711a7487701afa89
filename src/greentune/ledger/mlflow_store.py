"""Write `RunRecord`s to MLflow and read them back; the only module that imports mlflow.

Each run becomes an MLflow run: params (the flattened spec), metrics (ROUGE,
kWh by component and phase, gCO2eq, $, throughput, per-evaluation history),
tags (status, hardware, energy source) and artifacts (the record as JSON, the
spec, emissions.csv, predictions, the meter log). The record JSON artifact is
what `read_runs` reads back; run id and status come from MLflow itself.

The default store is a SQLite file, greentune-runs/mlflow.db, with artifacts in
greentune-runs/artifacts/ beside it: `mlflow ui --backend-store-uri <uri>`
shows the same runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from greentune.errors import GreentuneError
from greentune.ledger.record import RunRecord

DEFAULT_DIR = Path("greentune-runs")
RECORD_ARTIFACT = "run_record.json"
_PARAM_VALUE_LIMIT = 6000
_BATCH = 100  # MLflow accepts at most 100 params per log_batch call


def default_tracking_uri() -> str:
    """$GREENTUNE_TRACKING_URI, else $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/greentune-runs/mlflow.db."""
    configured = os.environ.get("GREENTUNE_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{(DEFAULT_DIR / 'mlflow.db').resolve()}"


def _quiet_mlflow() -> None:
    """MLflow and its alembic migrations log at INFO and warn about futures; the user needs none of it."""
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*[Mm][Ll]flow.*")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _client(tracking_uri: str | None) -> tuple[Any, str]:
    _quiet_mlflow()
    from mlflow.tracking import MlflowClient

    _quiet_mlflow()  # importing mlflow sets its loggers back to INFO ("Creating initial MLflow database tables...")
    uri = tracking_uri or default_tracking_uri()
    with _ledger_errors(uri):
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return MlflowClient(tracking_uri=uri), uri


@contextmanager
def _ledger_errors(uri: str) -> Iterator[None]:
    """A store that cannot be opened becomes one line; MLflow and SQLAlchemy raise many types for it."""
    try:
        yield
    except GreentuneError:
        raise
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise GreentuneError(
            f"cannot open the ledger at {uri} ({type(error).__name__}: {message}); "
            "give a tracking URI like sqlite:///path/mlflow.db or http://host:5000"
        ) from None


def _artifact_location(uri: str) -> str | None:
    """Artifacts beside a SQLite file; the server's default otherwise."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()


def _experiment_id(client: Any, uri: str, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_location(uri))


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


def write_run(
    record: RunRecord,
    artifacts: Iterable[Path] = (),
    params: dict[str, str] | None = None,
    extra_metrics: dict[str, float] | None = None,
    tracking_uri: str | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """Store one run (any status) with its artifacts; returns the record with MLflow's run id.

    `run_id`: fill a run made earlier by `reserve_run` (a sweep whose trials name it as their parent).
    """
    from mlflow.entities import Metric, Param, RunTag

    client, uri = _client(tracking_uri)
    start_ms = _epoch_ms(record.start_time)
    if run_id is None:
        with _ledger_errors(uri):
            experiment_id = _experiment_id(client, uri, record.experiment)
        run_id = client.create_run(experiment_id, start_time=start_ms, run_name=record.run_name).info.run_id
    stored = record.model_copy(update={"run_id": run_id})

    now_ms = int(time.time() * 1000)
    metrics = [
        Metric(key, value, now_ms, 0) for key, value in {**record_metrics(record), **(extra_metrics or {})}.items()
    ]
    for entry in record.eval_history:
        step = round(entry.get("epoch", 0) * 1000)  # MLflow steps are integers: epoch × 1000
        metrics.extend(
            Metric(f"eval.{key}", float(value), now_ms, step) for key, value in entry.items() if key != "epoch"
        )
    param_list = [Param(key, str(value)[:_PARAM_VALUE_LIMIT]) for key, value in (params or {}).items()]
    tags = [
        RunTag("greentune.status", record.status),
        RunTag("greentune.hardware", record.hardware),
        RunTag("greentune.energy_source", record.energy_source),
        RunTag("greentune.model", record.model_name),
        RunTag("greentune.dataset", record.dataset_name),
    ]
    for start in range(0, max(len(metrics), len(param_list), 1), _BATCH):
        client.log_batch(
            run_id,
            metrics=metrics[start : start + _BATCH],
            params=param_list[start : start + _BATCH],
            tags=tags if start == 0 else [],
        )
    with tempfile.TemporaryDirectory() as folder:
        record_path = Path(folder) / RECORD_ARTIFACT
        record_path.write_text(stored.model_dump_json(indent=2))
        client.log_artifact(run_id, str(record_path))
    for path in artifacts:
        if path.is_dir():
            client.log_artifacts(run_id, str(path), artifact_path=path.name)
        elif path.is_file():
            client.log_artifact(run_id, str(path))
    end_ms = start_ms + int(record.duration_s * 1000)
    client.set_terminated(run_id, status=record.status, end_time=end_ms)
    return stored


def reserve_run(experiment: str, run_name: str, start_time: str, tracking_uri: str | None = None) -> str:
    """Create an empty MLflow run now and return its id; `write_run(record, run_id=...)` fills it later.

    `read_runs` skips it until then (it has no greentune tags yet).
    """
    client, uri = _client(tracking_uri)
    with _ledger_errors(uri):
        experiment_id = _experiment_id(client, uri, experiment)
        run = client.create_run(experiment_id, start_time=_epoch_ms(start_time), run_name=run_name)
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
    """Every greentune run in the ledger (of one experiment when named), oldest first."""
    uri = tracking_uri or default_tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return []  # nothing recorded yet; reading creates no store
    with _impatient_http():
        return _read_runs(uri, experiment)


def _read_runs(uri: str, experiment: str | None) -> list[RunRecord]:
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
    with tempfile.TemporaryDirectory() as folder:
        while True:
            page = client.search_runs(
                experiment_ids, order_by=["attributes.start_time ASC"], max_results=1000, page_token=page_token
            )
            for run in page:
                record = _read_record(client, run, Path(folder))
                if record is not None:
                    records.append(record)
            page_token = page.token
            if not page_token:
                break
    return records


def _read_record(client: Any, run: Any, folder: Path) -> RunRecord | None:
    """The record JSON of one run, with MLflow's id and status; None for runs greentune did not write."""
    if "greentune.status" not in run.data.tags:
        return None
    try:
        local = client.download_artifacts(run.info.run_id, RECORD_ARTIFACT, str(folder))
    except Exception:  # MLflow raises MlflowException or OSError for a missing artifact
        return None
    try:
        data: dict[str, Any] = json.loads(Path(local).read_text(encoding="utf-8"))
        data["run_id"] = run.info.run_id
        data["status"] = (
            run.info.status if run.info.status in ("RUNNING", "FINISHED", "FAILED", "KILLED") else data["status"]
        )
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
