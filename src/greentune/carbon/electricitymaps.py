"""Electricity Maps API v3 client: latest, recent history, a past range, and the forecast.

Endpoints `carbon-intensity/{latest,history,past-range,forecast}` with the
key in the `auth-token` header, from $ELECTRICITYMAPS_API_KEY. The base URL
($GREENTUNE_ELECTRICITYMAPS_URL, or the argument) can point at any server
with the same API — the tests serve recorded responses on 127.0.0.1.
Electricity Maps intensities are consumption-based averages (lifecycle
factors unless the account asks for direct ones), in gCO2eq/kWh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from greentune.carbon.live_http import get_json, parse_api_time
from greentune.carbon.series import Fill, IntensitySeries, require_aware
from greentune.errors import GreentuneError

DEFAULT_URL = "https://api.electricitymap.org/v3"
RECENT_TTL_S = 300.0  # latest, history and forecast change every few minutes
PAST_TTL_S = 7 * 86400.0  # a closed past range barely changes


@dataclass(frozen=True)
class LatestIntensity:
    """The newest value for a zone: `time` (tz-aware), `intensity_gco2eq_per_kwh`, `is_estimated`, `emission_factor_type`."""

    zone: str
    time: datetime
    intensity_gco2eq_per_kwh: float
    is_estimated: bool
    emission_factor_type: str


class ElectricityMaps:
    """Client for one API key; every method returns gCO2eq/kWh."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None) -> None:
        self.api_key = api_key or os.environ.get("ELECTRICITYMAPS_API_KEY", "")
        if not self.api_key:
            raise GreentuneError("Electricity Maps needs an API key: set ELECTRICITYMAPS_API_KEY")
        self.base_url = (base_url or os.environ.get("GREENTUNE_ELECTRICITYMAPS_URL") or DEFAULT_URL).rstrip("/")

    def _get(self, endpoint: str, params: dict[str, str], ttl_s: float) -> Any:
        return get_json(
            f"{self.base_url}/carbon-intensity/{endpoint}",
            params=params,
            headers={"auth-token": self.api_key},
            ttl_s=ttl_s,
        )

    def latest(self, zone: str) -> LatestIntensity:
        """The zone's newest intensity."""
        data = self._get("latest", {"zone": zone}, RECENT_TTL_S)
        return LatestIntensity(
            zone,
            parse_api_time(data["datetime"]),
            float(data["carbonIntensity"]),
            bool(data.get("isEstimated", False)),
            data.get("emissionFactorType", "lifecycle"),
        )

    def history(self, zone: str, *, fill: Fill | None = None) -> IntensitySeries:
        """The past 24 hours, hourly."""
        data = self._get("history", {"zone": zone}, RECENT_TTL_S)
        return self._series(zone, data["history"], "history", fill)

    def past_range(self, zone: str, start: datetime, end: datetime, *, fill: Fill | None = None) -> IntensitySeries:
        """Hourly history between `start` and `end` (the API allows up to 10 days per call)."""
        params = {"zone": zone, "start": _utc_text(start), "end": _utc_text(end)}
        data = self._get("past-range", params, PAST_TTL_S)
        return self._series(zone, data["data"], "past-range", fill)

    def forecast(self, zone: str, *, fill: Fill | None = None) -> IntensitySeries:
        """The forecast from now on (24 h or more, depending on the plan)."""
        data = self._get("forecast", {"zone": zone}, RECENT_TTL_S)
        return self._series(zone, data["forecast"], "forecast", fill)

    def _series(self, zone: str, points: list[dict[str, Any]], endpoint: str, fill: Fill | None) -> IntensitySeries:
        if not points:
            raise GreentuneError(f"Electricity Maps returned no {endpoint} points for zone {zone}")
        factor = points[0].get("emissionFactorType", "lifecycle")
        values = [float("nan") if p["carbonIntensity"] is None else float(p["carbonIntensity"]) for p in points]
        return IntensitySeries.from_points(
            [parse_api_time(p["datetime"]) for p in points],
            values,
            kind="average",
            source=f"Electricity Maps API v3 carbon-intensity/{endpoint} ({factor} factors)",
            region=zone,
            fill=fill,
            tz=UTC,
        )


def _utc_text(moment: datetime) -> str:
    return require_aware(moment, "time").astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
