"""Named intensity sources → an `IntensitySeries` for a region and a span.

`entsoe` (offline history, 2017–2020), `csv:PATH`, and the live services
`electricitymaps` and `watttime`. Live services plan from their forecast, so
a span that starts in the past or whose deadline has passed is an error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from greentune.carbon import (
    ElectricityMaps,
    Fill,
    IntensitySeries,
    Kind,
    WattTime,
    entsoe_availability,
    entsoe_timezone,
    load_csv_series,
    load_entsoe,
)
from greentune.errors import GreentuneError

LIVE_SOURCES = ("electricitymaps", "watttime")
SOURCES = ("entsoe", "csv:PATH", *LIVE_SOURCES)
LIVE_START_TOLERANCE = timedelta(minutes=15)  # a start this far in the past still counts as 'now'


def check_source(source: str) -> str:
    """Return `source` if greentune knows it; otherwise a one-line error listing the known ones."""
    if source in ("entsoe", *LIVE_SOURCES) or (source.startswith("csv:") and len(source) > 4):
        return source
    raise GreentuneError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")


def is_live(source: str) -> bool:
    """Whether `source` is a live API (forecasts; plans must lie in the future)."""
    return source in LIVE_SOURCES


def source_time_zone(source: str, region: str) -> tzinfo:
    """The time zone a naive start is read in: the region's for ENTSO-E, UTC otherwise."""
    return entsoe_timezone(region.upper()) if source == "entsoe" else UTC


def read_start(text: str, flag: str, source: str, region: str, tz: tzinfo | None = None) -> tuple[datetime, str | None]:
    """An ISO 8601 start given with `flag`, tz-aware, and a note when its time zone was assumed.

    A start with no offset is read in `tz`, else in the source's time zone (`source_time_zone`).
    """
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise GreentuneError(
            f"cannot read {flag} {text!r}; write it like 2020-06-01T00:00 or 2020-06-01T00:00+02:00"
        ) from None
    if start.tzinfo is not None:
        return start, None
    zone = tz or source_time_zone(source, region)
    return start.replace(tzinfo=zone), f"{flag} has no offset: read as {zone} time"


def has_series(source: str, region: str, start: datetime, end: datetime) -> bool:
    """Whether `source` can have a series for `region` over [start, end) (ENTSO-E: country and years shipped)."""
    if source != "entsoe":
        return True
    years = entsoe_availability().get(region.upper(), [])
    tz = entsoe_timezone(region.upper()) if years else UTC
    return all(year in years for year in range(start.astimezone(tz).year, end.astimezone(tz).year + 1))


def load_series(
    source: str, region: str, start: datetime, end: datetime, *, fill: Fill | None = None, kind: Kind | None = None
) -> IntensitySeries:
    """The series of `region` from `source` covering [start, end)."""
    check_source(source)
    if source == "entsoe":
        return load_entsoe(region, start, end, fill=fill)
    if source.startswith("csv:"):
        return load_csv_series(source[4:], kind=kind, region=region, fill=fill)
    now = datetime.now(UTC)
    if end <= now:
        raise GreentuneError(
            f"the deadline {end.isoformat()} has passed; {source} plans from its forecast, so give a future window"
        )
    if start < now - LIVE_START_TOLERANCE:
        raise GreentuneError(
            f"start {start.isoformat()} is in the past; {source} plans from now on (leave out --start)"
        )
    if source == "electricitymaps":
        return ElectricityMaps().forecast(region, fill=fill)
    return WattTime().forecast(region, fill=fill)
