"""Intensity series from a CSV file, read with the standard library (no pandas at start-up).

The file has a header with `timestamp` (ISO 8601 with an offset or `Z`, the
start of each slot) and `intensity_gco2eq_per_kwh`. Optional columns `kind`,
`source` and `region` describe the series; arguments override them.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from greentune.carbon.series import KINDS, Fill, IntensitySeries, Kind
from greentune.errors import GreentuneError

REQUIRED_COLUMNS = ("timestamp", "intensity_gco2eq_per_kwh")


def load_csv_series(
    path: str | Path,
    *,
    kind: Kind | None = None,
    source: str | None = None,
    region: str | None = None,
    fill: Fill | None = None,
) -> IntensitySeries:
    """Read an intensity series from `path`; a missing kind is an error, not a guess."""
    path = Path(path)
    if not path.is_file():
        raise GreentuneError(
            f"no CSV file at {path}; give the path of a file with columns {', '.join(REQUIRED_COLUMNS)}"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, restval=""))  # a short row reads as empty cells, not None
    except (OSError, UnicodeDecodeError) as error:
        raise GreentuneError(
            f"cannot read {path} ({error}); give a UTF-8 CSV file with columns {', '.join(REQUIRED_COLUMNS)}"
        ) from None
    if not rows or any(column not in rows[0] for column in REQUIRED_COLUMNS):
        raise GreentuneError(f"{path} needs a header with columns {', '.join(REQUIRED_COLUMNS)} and at least one row")
    times, values = [], []
    for number, row in enumerate(rows, start=2):
        try:
            times.append(datetime.fromisoformat(row["timestamp"].strip()))
            values.append(
                float(row["intensity_gco2eq_per_kwh"]) if row["intensity_gco2eq_per_kwh"].strip() else float("nan")
            )
        except ValueError as error:
            raise GreentuneError(f"{path}, line {number}: {error}") from None
    named_kind = kind or rows[0].get("kind") or None
    kind = next((known for known in KINDS if known == named_kind), None)
    if kind is None:
        raise GreentuneError(f"{path}: say whether the series is {' or '.join(KINDS)} (a `kind` column or --kind)")
    return IntensitySeries.from_points(
        times,
        values,
        kind=kind,
        source=source or rows[0].get("source") or f"CSV file {path.name}",
        region=region or rows[0].get("region") or path.stem,
        fill=fill,
    )
