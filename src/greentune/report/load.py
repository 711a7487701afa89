"""Choose the runs a report covers: read the ledger, apply `--runs`, pick the baseline.

Problems the user should know about (an empty ledger, a filter matching
nothing, an unknown baseline, a run without ROUGE) become notes: the report
prints them and still renders what exists.
"""

from __future__ import annotations

import difflib
import fnmatch

from greentune.errors import GreentuneError
from greentune.ledger import RunRecord
from greentune.report.metrics import has_rouge

BASELINE_NAME = "baseline"
MIN_ID_PREFIX = 6  # characters of a run id that may stand for the whole id


def read_ledger(tracking_uri: str | None = None, experiment: str | None = None) -> list[RunRecord]:
    """Every run of the ledger (of one experiment when given), oldest first."""
    from greentune.ledger import read_runs

    return sorted(read_runs(tracking_uri=tracking_uri, experiment=experiment), key=lambda r: r.start_time)


def load_runs(
    tracking_uri: str | None = None, experiment: str | None = None, runs_filter: str | None = None
) -> tuple[list[RunRecord], list[str]]:
    """The ledger's runs (of `experiment`, matching `runs_filter`) and notes on what was not found."""
    from greentune.ledger import default_tracking_uri

    records = read_ledger(tracking_uri, experiment)
    if not records:
        where = f"experiment '{experiment}' of the ledger" if experiment else "the ledger"
        uri = tracking_uri or default_tracking_uri()
        return [], [f"No runs in {where} at {uri}: run `greentune demo` or `greentune run SPEC.yaml` first."]
    return select_runs(records, runs_filter)


def select_runs(records: list[RunRecord], runs_filter: str | None) -> tuple[list[RunRecord], list[str]]:
    """Runs whose name or id matches one of the comma-separated shell patterns in `runs_filter`.

    Returns the runs kept and notes for the reader.
    """
    if not runs_filter:
        return list(records), []
    patterns = [pattern.strip() for pattern in runs_filter.split(",") if pattern.strip()]
    kept = [r for r in records if any(_matches(r, pattern) for pattern in patterns)]
    if kept:
        return kept, []
    names = ", ".join(sorted({r.run_name for r in records}))
    return [], [f"No run matches --runs '{runs_filter}'; runs in the ledger: {names}."]


def _matches(record: RunRecord, pattern: str) -> bool:
    return fnmatch.fnmatchcase(record.run_name, pattern) or fnmatch.fnmatchcase(record.run_id, pattern)


def find_run(records: list[RunRecord], ref: str) -> RunRecord | None:
    """The run with id `ref` (or an id starting with it), else the latest run named `ref`."""
    by_id = [r for r in records if r.run_id == ref]
    by_id = by_id or [r for r in records if len(ref) >= MIN_ID_PREFIX and r.run_id.startswith(ref)]
    if len(by_id) == 1:
        return by_id[0]
    by_name = [r for r in records if r.run_name == ref]
    return max(by_name, key=lambda r: r.start_time) if by_name else None


def require_run(records: list[RunRecord], ref: str) -> RunRecord:
    """Like `find_run`, but a missing run is a `GreentuneError` naming the closest run names."""
    record = find_run(records, ref)
    if record is not None:
        return record
    if not records:
        raise GreentuneError(f"no run '{ref}': the ledger holds no runs; run `greentune demo` first")
    close = difflib.get_close_matches(ref, sorted({r.run_name for r in records}), n=3)
    hint = f"closest: {', '.join(close)}" if close else "list them with `greentune runs`"
    raise GreentuneError(f"no run with id or name '{ref}'; {hint}")


def choose_baseline(records: list[RunRecord], ref: str | None) -> tuple[RunRecord | None, list[str]]:
    """The baseline: `ref` when given and found; else the latest baseline-named or -labelled run with ROUGE;
    else the oldest run with ROUGE."""
    notes: list[str] = []
    if ref is not None:
        found = find_run(records, ref)
        if found is not None:
            return found, notes
        names = ", ".join(sorted({r.run_name for r in records})) or "none"
        notes.append(f"Baseline '{ref}' is not among the reported runs ({names}); using the default baseline instead.")
    scored = [r for r in records if has_rouge(r)]
    named = [r for r in scored if _is_baseline(r)]
    default = max(named, key=lambda r: r.start_time) if named else next(iter(scored), None)
    if default is None and records:
        notes.append("No run has ROUGE scores, so there is no baseline to compare against.")
    return default, notes


def _is_baseline(record: RunRecord) -> bool:
    """Named 'baseline' (or '…-baseline', as the demo's runs are), or labelled so by the runner."""
    name = record.run_name
    labelled = record.strategies.get("label") == BASELINE_NAME
    return name == BASELINE_NAME or name.endswith(f"-{BASELINE_NAME}") or labelled


def rouge_notes(records: list[RunRecord]) -> list[str]:
    """A note for every run without validation ROUGE (usually a failed or killed run)."""
    return [
        f"Run '{r.run_name}' ({r.status}) has no ROUGE scores: it is listed in the table "
        "but left out of the Pareto plots and the recommendation."
        + "".join(f" It {note}." for note in r.notes if note.startswith("failed"))
        for r in records
        if not has_rouge(r)
    ]
