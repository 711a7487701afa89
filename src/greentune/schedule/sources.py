"""Named intensity sources → an `IntensitySeries` for a region and a span.

`entsoe` (offline history, 2017–2020), `csv:PATH`, and the live services
`electricitymaps` and `watttime`. A source is parsed once into a `Source`
(its kind, and the path of a CSV file). Live services plan from their
forecast, so a span that starts in the past or whose deadline has passed is an
error; a run already over is accounted on their history (`past_series`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

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
from greentune.schedule.choices import SourceKind

LIVE_START_TOLERANCE = timedelta(minutes=15)  # a start this far in the past still counts as 'now'
CSV_PREFIX = "csv:"


LIVE_KINDS = (SourceKind.ELECTRICITYMAPS, SourceKind.WATTTIME)
# The environment variables that make a live source usable (its key, or user name and password).
LIVE_KEYS: dict[SourceKind, tuple[str, ...]] = {
    SourceKind.ELECTRICITYMAPS: ("ELECTRICITYMAPS_API_KEY",),
    SourceKind.WATTTIME: ("WATTTIME_USERNAME", "WATTTIME_PASSWORD"),
}
SOURCE_NAMES = ("entsoe", "csv:PATH", "electricitymaps", "watttime")


@dataclass(frozen=True)
class Source:
    """A parsed `--source`: its `kind`, and `path` for a CSV file (None otherwise)."""

    kind: SourceKind
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        """'entsoe', 'csv:PATH', 'electricitymaps' or 'watttime' → a `Source`; anything else is a one-line error."""
        if text.startswith(CSV_PREFIX) and len(text) > len(CSV_PREFIX):
            return cls(SourceKind.CSV, Path(text[len(CSV_PREFIX) :]))
        if text != SourceKind.CSV and text in set(SourceKind):
            return cls(SourceKind(text))
        raise GreentuneError(f"unknown source {text!r}; use one of {', '.join(SOURCE_NAMES)}")

    def __str__(self) -> str:
        return f"{CSV_PREFIX}{self.path}" if self.path is not None else self.kind.value

    @property
    def is_live(self) -> bool:
        """Whether this is a live API (forecasts; plans must lie in the future)."""
        return self.kind in LIVE_KINDS

    @property
    def has_key(self) -> bool:
        """Whether a live source's key (or user name and password) is set in the environment."""
        return all(os.environ.get(name) for name in LIVE_KEYS.get(self.kind, ()))

    def default_region(self) -> str | None:
        """The region when none is given: a CSV file's `region` column or, failing that, its name."""
        if self.kind is not SourceKind.CSV or self.path is None:
            return None
        return load_csv_series(self.path, kind="average").region.upper()

    def time_zone(self, region: str) -> tzinfo:
        """The time zone a naive start is read in: the region's for ENTSO-E, UTC otherwise."""
        return entsoe_timezone(region.upper()) if self.kind is SourceKind.ENTSOE else UTC

    def covers(self, region: str, start: datetime, end: datetime) -> bool:
        """Whether the source can have a series for `region` over [start, end) (ENTSO-E: country and years shipped)."""
        if self.kind is not SourceKind.ENTSOE:
            return True
        years = entsoe_availability().get(region.upper(), [])
        tz = entsoe_timezone(region.upper()) if years else UTC
        return all(year in years for year in range(start.astimezone(tz).year, end.astimezone(tz).year + 1))

    def load(
        self, region: str, start: datetime, end: datetime, *, fill: Fill | None = None, kind: Kind | None = None
    ) -> IntensitySeries:
        """The series of `region` covering [start, end) (a live source: its forecast)."""
        if self.kind is SourceKind.ENTSOE:
            return load_entsoe(region, start, end, fill=fill)
        if self.kind is SourceKind.CSV:
            assert self.path is not None
            return load_csv_series(self.path, kind=kind, region=region, fill=fill)
        now = datetime.now(UTC)
        if end <= now:
            raise GreentuneError(
                f"the deadline {end.isoformat()} has passed; {self} plans from its forecast, so give a future window"
            )
        if start < now - LIVE_START_TOLERANCE:
            raise GreentuneError(
                f"start {start.isoformat()} is in the past; {self} plans from now on (leave out --start)"
            )
        if self.kind is SourceKind.ELECTRICITYMAPS:
            return ElectricityMaps().forecast(region, fill=fill)
        return WattTime().forecast(region, fill=fill)

    def past_series(self, region: str, start: datetime, end: datetime) -> IntensitySeries:
        """A live source's history of `region` over [start, end), for accounting a run that is over."""
        if self.kind is SourceKind.ELECTRICITYMAPS:
            return ElectricityMaps().past_range(region, start, end, fill="ffill")
        if self.kind is SourceKind.WATTTIME:
            return WattTime().historical(region, start, end, fill="ffill")
        return self.load(region, start, end, fill="ffill")


def read_start(text: str, flag: str, zone: tzinfo) -> tuple[datetime, str | None]:
    """An ISO 8601 start given with `flag`, tz-aware, and a note when it had no offset (then read in `zone`)."""
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise GreentuneError(
            f"cannot read {flag} {text!r}; write it like 2020-06-01T00:00 or 2020-06-01T00:00+02:00"
        ) from None
    if start.tzinfo is not None:
        return start, None
    return start.replace(tzinfo=zone), f"{flag} has no offset: read as {zone} time"
