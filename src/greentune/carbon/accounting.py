"""Energy in, grams and dollars out: the accounting of one job at one site.

Operational emissions O = E × PUE × I (energy in kWh, PUE, intensity in
gCO2eq/kWh). I is time-resolved when the caller integrated the job's energy
timeline against an intensity series covering it (`timeline.time_resolved`):
then I is that energy-weighted mean and the annual average of the site is
kept beside it for comparison; otherwise I is the site's annual average, and
the result says which (`method`, `method_label`). Embodied M as in the SCI specification (`embodied.py`); cost =
hours × price × instances. `account` is a pure function: it returns an
`Accounting` that lists every input, whether it was measured or estimated,
and the data rows (source, year) it used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from greentune.carbon.cost import cost_usd, instances_for
from greentune.carbon.embodied import embodied_gco2eq, lifetime_s
from greentune.carbon.hardware import embodied_citation, lookup_hardware
from greentune.carbon.intensity import Site
from greentune.carbon.prices import PRICING_KINDS, regional_price
from greentune.carbon.series import Kind
from greentune.carbon.tables import DataRow, require_positive
from greentune.carbon.timeline import TimelineEmissions
from greentune.errors import GreentuneError

Origin = Literal["measured", "estimated"]


class EmissionsMethod(StrEnum):
    """How operational emissions were computed: on an intensity series over the job's own time, or at an annual average."""

    TIME_RESOLVED = "time-resolved"
    ANNUAL_AVERAGE = "annual average"


@dataclass(frozen=True)
class Input:
    """One figure a result was computed from, with its unit, citation and origin."""

    name: str
    value: float | str
    unit: str
    source: str
    year: str
    origin: Origin


@dataclass(frozen=True)
class Accounting:
    """The footprint of one job. Energies in kWh, emissions in gCO2eq, cost in USD, duration in s.

    `energy_kwh` is the IT energy given (devices); `grid_energy_kwh` = energy × PUE
    is what the grid supplied; `emissions_gco2eq` is operational (grid energy ×
    intensity), by `method` (`method_label`: 'time-resolved: <source>' or
    'annual average: <source, year>'), on an `intensity_kind` average or marginal
    series; `annual_average_emissions_gco2eq` (at `annual_average_intensity_gco2eq_per_kwh`)
    is the annual-average figure, equal to `emissions_gco2eq` when that is the method; `embodied_gco2eq` is the SCI M term, None when not asked or not
    published; `cost_usd` is None without a SKU or without a matching price.
    """

    energy_kwh: float
    grid_energy_kwh: float
    duration_s: float
    emissions_gco2eq: float
    embodied_gco2eq: float | None
    cost_usd: float | None
    intensity_gco2eq_per_kwh: float
    pue: float
    location: str
    location_name: str
    is_default_location: bool
    inputs: tuple[Input, ...]
    rows: tuple[DataRow, ...]
    notes: tuple[str, ...] = ()
    method: EmissionsMethod = EmissionsMethod.ANNUAL_AVERAGE
    method_label: str = ""
    intensity_kind: Kind = "average"
    annual_average_emissions_gco2eq: float = 0.0
    annual_average_intensity_gco2eq_per_kwh: float = 0.0

    @property
    def total_gco2eq(self) -> float:
        """Operational plus embodied emissions."""
        return self.emissions_gco2eq + (self.embodied_gco2eq or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


def _require_energy(energy_kwh: float) -> float:
    if not isinstance(energy_kwh, (int, float)) or math.isnan(energy_kwh) or math.isinf(energy_kwh) or energy_kwh < 0:
        raise GreentuneError(f"energy must be a finite number ≥ 0, got {energy_kwh!r} kWh")
    return float(energy_kwh)


@dataclass(frozen=True)
class EmbodiedOverrides:
    """The user's replacements for published embodied figures (None: use the hardware table's).

    `server_kgco2e` 0 leaves the host server's share out.
    """

    kgco2e: float | None = None
    lifetime_years: float | None = None
    server_kgco2e: float | None = None
    devices_per_server: int | None = None
    lifetime_use: float | None = None


def _given_or_table(given: object, source: str, year: str) -> tuple[str, str]:
    return ("given by the user", "") if given is not None else (source, year)


def _embodied(
    hardware_name: str, duration_s: float, count: int, given: EmbodiedOverrides
) -> tuple[float | None, list[Input], list[DataRow], list[str]]:
    hardware = lookup_hardware(hardware_name)
    total_kg = given.kgco2e if given.kgco2e is not None else hardware.embodied_kgco2e
    years = given.lifetime_years if given.lifetime_years is not None else hardware.lifetime_years
    if total_kg is None:
        return (
            None,
            [],
            [],
            [f"no published embodied figure for {hardware.name}; give embodied_kgco2e (CLI: --embodied-kg)"],
        )
    if years is None:
        raise GreentuneError(f"no published lifetime for {hardware.name}; give lifetime_years (CLI: --lifetime-years)")
    use = given.lifetime_use if given.lifetime_use is not None else (hardware.lifetime_use or 1.0)
    life_s = lifetime_s(years)
    devices = hardware.devices
    if count <= devices:
        grams = embodied_gco2eq(total_kg, duration_s, life_s, count, devices, lifetime_use=use)
    else:
        grams = embodied_gco2eq(total_kg, duration_s, life_s, lifetime_use=use) * count / devices
    source = hardware.embodied_source
    inputs = [
        Input(
            "embodied emissions TE",
            total_kg,
            "kgCO2eq",
            *_given_or_table(given.kgco2e, source, hardware.year),
            "estimated",
        ),
        Input(
            "expected lifetime EL",
            years,
            "years",
            *_given_or_table(given.lifetime_years, source, hardware.year),
            "estimated",
        ),
        Input(
            "lifetime use (share of EL in use)",
            use,
            "fraction",
            *_given_or_table(
                given.lifetime_use, source if hardware.lifetime_use else "default: always in use", hardware.year
            ),
            "estimated",
        ),
        Input("time reserved TiR", duration_s, "s", "job duration", "", "measured"),
        Input("resources reserved RR / total ToR", f"{count} / {devices}", "devices", hardware.name, "", "estimated"),
    ]
    rows = [embodied_citation(hardware)] if given.kgco2e is None else []
    server = lookup_hardware(hardware.host_server) if hardware.host_server else None
    server_kg = given.server_kgco2e if given.server_kgco2e is not None else (server.embodied_kgco2e if server else None)
    if server_kg:
        per_server = given.devices_per_server or (server.devices if server else None)
        if per_server is None:
            raise GreentuneError("give the accelerators per server (CLI: --accelerators-per-server) with --server-kg")
        grams += embodied_gco2eq(server_kg, duration_s, life_s, 1, per_server, lifetime_use=use) * count
        server_source, server_year = (server.embodied_source, server.year) if server else ("", "")
        inputs += [
            Input(
                "host server embodied emissions",
                server_kg,
                "kgCO2eq",
                *_given_or_table(given.server_kgco2e, server_source, server_year),
                "estimated",
            ),
            Input(
                "accelerators per server",
                per_server,
                "devices",
                *_given_or_table(given.devices_per_server, server_source, server_year),
                "estimated",
            ),
        ]
        if server is not None and given.server_kgco2e is None:
            rows.append(embodied_citation(server))
    return grams, inputs, rows, []


def account(
    energy_kwh: float,
    duration_s: float,
    site: Site,
    *,
    energy_source: Origin = "measured",
    count: int = 1,
    pricing: str = "on_demand",
    embodied_hardware: str | None = None,
    embodied_kgco2e: float | None = None,
    lifetime_years: float | None = None,
    embodied_overrides: EmbodiedOverrides | None = None,
    resolved: TimelineEmissions | None = None,
) -> Accounting:
    """Account `energy_kwh` (IT energy) used over `duration_s` at `site`.

    `resolved`: the job's energy timeline on an intensity series (any PUE); its
    energy-weighted mean intensity replaces the site's annual average, which is
    kept as the comparison figure. Without it (or with no energy on it) the
    annual average is the method, and the result says so.

    `count` is the number of devices used: instances billed = ⌈count ÷ devices
    per instance of the SKU⌉, and embodied resources reserved = count devices
    of `embodied_hardware` (a row of accelerators.csv; `embodied_kgco2e` and
    `lifetime_years` replace its published figures; `embodied_overrides` replaces
    any of them, the host server's share and the lifetime use). `pricing` is on_demand,
    spot or low_priority.
    """
    energy = _require_energy(energy_kwh)
    duration = require_positive("duration", duration_s, "s")
    if not isinstance(count, int) or count < 1:
        raise GreentuneError(f"count must be a whole number ≥ 1, got {count!r}")
    if pricing not in PRICING_KINDS:
        raise GreentuneError(f"pricing must be one of {', '.join(PRICING_KINDS)}, got {pricing!r}")
    grid_energy = energy * site.pue
    annual = Input(
        "grid intensity" if resolved is None else "grid intensity, annual average (comparison only)",
        site.intensity_gco2eq_per_kwh,
        "gCO2eq/kWh",
        site.intensity_source,
        site.intensity_year,
        "estimated",
    )
    annual_label = ", ".join(part for part in (site.intensity_source, site.intensity_year) if part)
    kind: Kind = "average"
    method, label, intensity = (
        EmissionsMethod.ANNUAL_AVERAGE,
        f"{EmissionsMethod.ANNUAL_AVERAGE}: {annual_label}",
        site.intensity_gco2eq_per_kwh,
    )
    intensity_inputs = [annual]
    timed_ok = resolved is not None and resolved.energy_kwh > 0
    notes = [site.note] if site.note and not timed_ok else []
    if resolved is not None and timed_ok:
        kind = resolved.kind
        method, intensity = EmissionsMethod.TIME_RESOLVED, resolved.mean_intensity_gco2eq_per_kwh
        label = f"{method}{' (marginal)' if kind == 'marginal' else ''}: {resolved.source}"
        timed = Input(
            f"grid intensity, time-resolved {kind} (energy-weighted mean over the job's timeline in {resolved.region})",
            intensity,
            "gCO2eq/kWh",
            resolved.source,
            "",
            "estimated",
        )
        intensity_inputs = [timed, annual]
    elif resolved is not None:
        notes.append("the energy timeline held no energy, so the annual average was used")
    emissions = grid_energy * intensity
    inputs = [
        Input("energy", energy, "kWh", "meter" if energy_source == "measured" else "estimate", "", energy_source),
        Input("duration", duration, "s", "meter" if energy_source == "measured" else "estimate", "", energy_source),
        Input("PUE", site.pue, "ratio", site.pue_source, site.pue_year, "estimated"),
        *intensity_inputs,
    ]
    rows = list(site.rows)

    cost = None
    if site.sku:
        price = regional_price(list(site.sku_prices), site.region, pricing)
        if price is None:
            regions = sorted({p.region or "any region" for p in site.sku_prices if p.pricing == pricing})
            have = f"prices exist for: {', '.join(regions)}" if regions else f"no {pricing} price is published for it"
            notes.append(
                f"no {pricing} price for {site.sku} in {site.region or 'this location'} ({have}); add one with --prices FILE"
            )
        else:
            instances = instances_for(count, price.accelerator_count)
            cost = cost_usd(duration / 3600.0, price.usd_per_hour, instances)
            inputs.append(
                Input(
                    f"price of {price.sku} ({price.pricing}, {price.region or 'region not stated'})",
                    price.usd_per_hour,
                    "USD/h",
                    price.source,
                    f"{price.year} (price date {price.date})",
                    "estimated",
                )
            )
            inputs.append(
                Input(
                    "instances billed",
                    instances,
                    "instances",
                    f"{count} device(s) on {price.accelerator_count or count} per instance",
                    "",
                    "estimated",
                )
            )
            rows.append(price.data_row())
            if site.region and not price.region:
                notes.append(f"the price of {price.sku} has no region; used it for {site.region}")

    embodied = None
    if embodied_hardware is not None:
        given = embodied_overrides or EmbodiedOverrides(kgco2e=embodied_kgco2e, lifetime_years=lifetime_years)
        embodied, embodied_inputs, embodied_rows, embodied_notes = _embodied(embodied_hardware, duration, count, given)
        inputs += embodied_inputs
        rows += embodied_rows
        notes += embodied_notes

    return Accounting(
        energy_kwh=energy,
        grid_energy_kwh=grid_energy,
        duration_s=duration,
        emissions_gco2eq=emissions,
        embodied_gco2eq=embodied,
        cost_usd=cost,
        intensity_gco2eq_per_kwh=intensity,
        pue=site.pue,
        location=site.location,
        location_name=site.name,
        is_default_location=site.is_default,
        inputs=tuple(inputs),
        rows=tuple(rows),
        notes=tuple(notes),
        method=method,
        method_label=label,
        intensity_kind=kind,
        annual_average_emissions_gco2eq=grid_energy * site.intensity_gco2eq_per_kwh,
        annual_average_intensity_gco2eq_per_kwh=site.intensity_gco2eq_per_kwh,
    )
