"""The recommendation: least J/summary whose ROUGE-1 drop and p95 latency fit, and what it saves at a site.

A pure function of the measured rows (no model runs here), so a table of rows
in gives one answer out. Savings compare the choice with the eager fp32
reference of the same workload (batch size, beams, device) and are accounted
by `greentune.carbon.account`: kWh, gCO2eq (× PUE × grid intensity) and, when
the site names a priced SKU, $ for the machine time the summaries take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from greentune.carbon import Site, account
from greentune.infer.rows import BenchRow

MAX_ROUGE1_DROP = 0.5  # points
JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Savings:
    """What the choice saves against its reference per 1,000 summaries (× 1,000 for a million)."""

    kwh_per_1000: float
    gco2eq_per_1000: float
    usd_per_1000: float | None

    @property
    def kwh_per_million(self) -> float:
        """kWh saved per million summaries."""
        return self.kwh_per_1000 * 1000

    @property
    def gco2eq_per_million(self) -> float:
        """gCO2eq saved per million summaries."""
        return self.gco2eq_per_1000 * 1000

    @property
    def usd_per_million(self) -> float | None:
        """$ saved per million summaries (None without a priced SKU)."""
        return None if self.usd_per_1000 is None else self.usd_per_1000 * 1000


@dataclass(frozen=True)
class Recommendation:
    """The chosen row (None when nothing qualifies), its reference, the CPU verdict and the savings."""

    choice: BenchRow | None
    reference: BenchRow | None
    latency_budget_ms: float | None
    cpu_meets_budget: bool
    savings: Savings | None
    location: str
    line: str


def recommend(
    rows: list[BenchRow], site: Site, latency_budget_ms: float | None = None, max_rouge1_drop: float = MAX_ROUGE1_DROP
) -> Recommendation:
    """The row of least J/summary with ROUGE-1 drop ≤ `max_rouge1_drop` and p95 latency ≤ the budget (if any)."""
    measured = [row for row in rows if row.supported and row.j_per_summary is not None]
    quality = [row for row in measured if row.rouge1_delta is not None and row.rouge1_delta >= -max_rouge1_drop]
    fits = [row for row in quality if _fits(row, latency_budget_ms)]
    cpu_meets = any(row.config.device == "cpu" for row in fits)
    if not fits:
        return Recommendation(
            None, None, latency_budget_ms, False, None, site.location, _none_line(measured, quality, latency_budget_ms)
        )
    choice = min(fits, key=lambda row: (row.j_per_summary or 0.0, row.latency_p95_ms or 0.0))
    reference = next((row for row in measured if row.is_reference and row.config.same_workload(choice.config)), None)
    savings = _savings(choice, reference, site) if reference is not None else None
    return Recommendation(
        choice,
        reference,
        latency_budget_ms,
        cpu_meets,
        savings,
        site.location,
        _line(choice, reference, savings, latency_budget_ms, cpu_meets, site),
    )


def _fits(row: BenchRow, latency_budget_ms: float | None) -> bool:
    return latency_budget_ms is None or (row.latency_p95_ms is not None and row.latency_p95_ms <= latency_budget_ms)


def _savings(choice: BenchRow, reference: BenchRow, site: Site) -> Savings:
    """Per 1,000 summaries: energy difference and, with a priced SKU, the machine-time cost difference."""
    per_1000 = []
    for row in (reference, choice):
        energy_kwh = (row.j_per_summary or 0.0) * 1000 / JOULES_PER_KWH
        duration_s = 1000 / row.summaries_per_s if row.summaries_per_s else 1e-9
        source: Literal["measured", "estimated"] = "measured" if row.energy_source == "measured" else "estimated"
        per_1000.append(account(energy_kwh, duration_s, site, energy_source=source))
    before, after = per_1000
    usd = None if before.cost_usd is None or after.cost_usd is None else before.cost_usd - after.cost_usd
    return Savings(
        kwh_per_1000=before.energy_kwh - after.energy_kwh,
        gco2eq_per_1000=before.emissions_gco2eq - after.emissions_gco2eq,
        usd_per_1000=usd,
    )


def _line(
    choice: BenchRow,
    reference: BenchRow | None,
    savings: Savings | None,
    latency_budget_ms: float | None,
    cpu_meets: bool,
    site: Site,
) -> str:
    config = choice.config
    parts = [
        f"recommended: {config.backend}/{config.precision}, batch {config.batch_size}, "
        f"{'greedy' if config.num_beams == 1 else f'{config.num_beams} beams'}, {config.device}: "
        f"{choice.j_per_summary:.3g} J/summary, ROUGE-1 {choice.rouge1_delta:+.2f} points, p95 {choice.latency_p95_ms:.0f} ms"
    ]
    if reference is not None and reference is not choice and choice.j_per_summary:
        ratio = (reference.j_per_summary or 0.0) / choice.j_per_summary
        parts.append(f"{ratio:.2f}× less energy than eager fp32 at the same batch size and beams")
    elif reference is choice:
        parts.append("eager fp32 is already the cheapest that qualifies")
    if latency_budget_ms is None:
        parts.append("no latency budget given")
    elif cpu_meets:
        parts.append(f"the CPU meets the {latency_budget_ms:g} ms budget: this budget does not need a GPU")
    else:
        parts.append(f"only a GPU meets the {latency_budget_ms:g} ms budget")
    if savings is not None and reference is not choice:
        usd_1000 = "" if savings.usd_per_1000 is None else f", ${savings.usd_per_1000:.4g}"
        usd_million = "" if savings.usd_per_million is None else f", ${savings.usd_per_million:.4g}"
        parts.append(
            f"saves {savings.kwh_per_1000:.3g} kWh, {savings.gco2eq_per_1000:.3g} gCO2eq{usd_1000} per 1,000 summaries "
            f"({savings.kwh_per_million:.3g} kWh, {savings.gco2eq_per_million / 1000:.3g} kgCO2eq{usd_million} per million) "
            f"at {site.location}{'' if site.sku else ' ($ needs --sku)'}"
        )
    return "; ".join(parts)


def _none_line(measured: list[BenchRow], quality: list[BenchRow], latency_budget_ms: float | None) -> str:
    if not measured:
        return "no recommendation: no configuration ran"
    if not quality:
        return f"no recommendation: every configuration loses more than {MAX_ROUGE1_DROP} ROUGE-1 points"
    fastest = min(quality, key=lambda row: row.latency_p95_ms or float("inf"))
    return (
        f"no recommendation: no configuration keeps p95 latency within {latency_budget_ms:g} ms "
        f"(fastest: {fastest.config.label} at {fastest.latency_p95_ms:.0f} ms)"
    )
