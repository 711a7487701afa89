"""WattTime API v3 client: signal index, forecast and historical data, with its login flow.

Login is `GET /login` with HTTP basic auth (username and password from
$WATTTIME_USERNAME and $WATTTIME_PASSWORD), which returns a bearer token
valid for about 30 minutes; a 401 later on triggers one fresh login. The base
URL ($GREENTUNE_WATTTIME_URL, or the argument) can point at a local server
for tests.

WattTime reports the marginal operating emissions rate (`co2_moer`) — or the
average one (`co2_aoer`) — in pounds of CO2 per MWh. One pound is exactly
0.45359237 kg, so 1 lb/MWh = 0.45359237 g/kWh; values are converted on
arrival so that every series in greentune is in gCO2eq/kWh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from greentune.carbon.live_http import HttpStatusError, get_json, parse_api_time
from greentune.carbon.series import Fill, IntensitySeries, Kind, require_aware
from greentune.errors import GreentuneError

DEFAULT_URL = "https://api.watttime.org"
GRAMS_PER_KWH_PER_LB_PER_MWH = 0.45359237  # definition of the avoirdupois pound: 453.59237 g; 1 MWh = 1000 kWh
UNIT_FACTORS = {"lbs_co2_per_mwh": GRAMS_PER_KWH_PER_LB_PER_MWH, "g_co2_per_kwh": 1.0}
SIGNAL_KINDS: dict[str, Kind] = {"co2_moer": "marginal", "co2_aoer": "average"}
RECENT_TTL_S = 300.0
PAST_TTL_S = 7 * 86400.0


@dataclass(frozen=True)
class SignalIndex:
    """WattTime's 0–100 percentile of the current signal for a region (0 = cleanest of the recent past)."""

    region: str
    time: datetime
    percentile: float


def lbs_per_mwh_to_g_per_kwh(value: float) -> float:
    """Convert lb CO2/MWh to g CO2/kWh."""
    return value * GRAMS_PER_KWH_PER_LB_PER_MWH


class WattTime:
    """Client for one WattTime account."""

    def __init__(self, username: str | None = None, password: str | None = None, base_url: str | None = None) -> None:
        self.username = username or os.environ.get("WATTTIME_USERNAME", "")
        self.password = password or os.environ.get("WATTTIME_PASSWORD", "")
        if not (self.username and self.password):
            raise GreentuneError("WattTime needs an account: set WATTTIME_USERNAME and WATTTIME_PASSWORD")
        self.base_url = (base_url or os.environ.get("GREENTUNE_WATTTIME_URL") or DEFAULT_URL).rstrip("/")
        self._token: str | None = None

    def _login(self) -> str:
        try:
            data = get_json(f"{self.base_url}/login", auth=(self.username, self.password))
        except HttpStatusError as error:
            raise GreentuneError(
                f"WattTime login failed for {self.username} (HTTP {error.status}); check the credentials"
            ) from None
        self._token = str(data["token"])
        return self._token

    def _get(self, endpoint: str, params: dict[str, str], ttl_s: float) -> Any:
        url = f"{self.base_url}/v3/{endpoint}"
        try:
            return get_json(url, params=params, headers=self._bearer(self._token or self._login()), ttl_s=ttl_s)
        except HttpStatusError as error:
            if error.status != 401:
                raise
        return get_json(url, params=params, headers=self._bearer(self._login()), ttl_s=ttl_s)

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def signal_index(self, region: str, signal_type: str = "co2_moer") -> SignalIndex:
        """The current percentile of the signal in `region`."""
        data = self._get("signal-index", {"region": region, "signal_type": signal_type}, RECENT_TTL_S)
        point = data["data"][0]
        return SignalIndex(region, parse_api_time(point["point_time"]), float(point["value"]))

    def forecast(
        self, region: str, signal_type: str = "co2_moer", horizon_hours: int = 24, *, fill: Fill | None = None
    ) -> IntensitySeries:
        """The forecast from now on, converted to gCO2eq/kWh."""
        params = {"region": region, "signal_type": signal_type, "horizon_hours": str(horizon_hours)}
        return self._series(self._get("forecast", params, RECENT_TTL_S), region, signal_type, "forecast", fill)

    def historical(
        self, region: str, start: datetime, end: datetime, signal_type: str = "co2_moer", *, fill: Fill | None = None
    ) -> IntensitySeries:
        """Historical values between `start` and `end` (the API allows up to 32 days per call)."""
        params = {"region": region, "signal_type": signal_type, "start": _utc_text(start), "end": _utc_text(end)}
        return self._series(self._get("historical", params, PAST_TTL_S), region, signal_type, "historical", fill)

    def _series(
        self, data: dict[str, Any], region: str, signal_type: str, endpoint: str, fill: Fill | None
    ) -> IntensitySeries:
        units = data["meta"]["units"]
        if units not in UNIT_FACTORS or signal_type not in SIGNAL_KINDS:
            raise GreentuneError(
                f"WattTime {signal_type} in {units} is not a carbon intensity greentune can use; "
                f"use signal_type {' or '.join(SIGNAL_KINDS)}"
            )
        points = data["data"]
        if not points:
            raise GreentuneError(f"WattTime returned no {endpoint} points for region {region}")
        return IntensitySeries.from_points(
            [parse_api_time(point["point_time"]) for point in points],
            [float(point["value"]) * UNIT_FACTORS[units] for point in points],
            kind=SIGNAL_KINDS[signal_type],
            source=f"WattTime API v3 {endpoint} ({signal_type}, converted from {units})",
            region=region,
            step_s=int(data["meta"].get("data_point_period_seconds") or 0) or None,
            fill=fill,
            tz=UTC,
        )


def _utc_text(moment: datetime) -> str:
    return require_aware(moment, "time").astimezone(UTC).isoformat()
