"""Embodied emissions: the M term of the Software Carbon Intensity specification.

M = TE × (TiR / EL) × (RR / ToR): the hardware's total embodied emissions TE,
times the share of its expected lifetime EL that the job reserved it (TiR),
times the share of its resources the job reserved (RR of ToR).

Published footprints of large models (Luccioni et al. 2023, BLOOM) add two
refinements, both kept as inputs: an accelerator also carries its share of
the host server (server TE ÷ accelerators per server), and the lifetime is
only partly in use, so the time reserved is divided by EL × lifetime use
(0.85 for BLOOM) rather than EL.
See https://github.com/Green-Software-Foundation/sci/blob/main/Software_Carbon_Intensity/Software_Carbon_Intensity_Specification.md
"""

from __future__ import annotations

from greentune.carbon.tables import require_positive
from greentune.errors import GreentuneError

SECONDS_PER_YEAR = 365.25 * 24 * 3600


def embodied_gco2eq(
    total_embodied_kgco2e: float,
    reserved_s: float,
    lifetime_s: float,
    resources_reserved: float = 1.0,
    resources_total: float = 1.0,
    lifetime_use: float = 1.0,
) -> float:
    """M in gCO2eq: TE (kgCO2eq) × reserved_s / (lifetime_s × lifetime_use) × resources_reserved / resources_total."""
    require_positive("total embodied emissions", total_embodied_kgco2e, "kgCO2eq")
    require_positive("time reserved", reserved_s, "s")
    require_positive("expected lifetime", lifetime_s, "s")
    require_positive("resources reserved", resources_reserved, "")
    require_positive("total resources", resources_total, "")
    require_positive("lifetime use", lifetime_use, "")
    if lifetime_use > 1:
        raise GreentuneError(f"lifetime use is a fraction of the lifetime, at most 1; got {lifetime_use:g}")
    if resources_reserved > resources_total:
        raise GreentuneError(f"resources reserved ({resources_reserved:g}) exceed the total ({resources_total:g})")
    share_of_life = reserved_s / (lifetime_s * lifetime_use)
    return total_embodied_kgco2e * 1000.0 * share_of_life * (resources_reserved / resources_total)


def lifetime_s(years: float) -> float:
    """An expected lifetime in seconds from years of 365.25 days."""
    return require_positive("expected lifetime", years, "years") * SECONDS_PER_YEAR
