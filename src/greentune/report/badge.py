"""A README badge of a run's or an experiment's footprint: kWh, gCO2eq and whether they were measured.

The SVG is written by hand from a fixed flat two-part template (the shields.io
look): a badge library (pybadges) would add a dependency for one `<svg>` with
two rectangles and two texts, and shields.io itself needs the network.
Text widths use 7 px per character of 11 px Verdana-like text, a slight
overestimate so that the text never overflows its box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

from greentune.ledger import RunRecord
from greentune.report.fmt import sig

LABEL = "greentune"
CHAR_WIDTH_PX = 7
PADDING_PX = 10
MEASURED_COLOUR = "#2ea043"
ESTIMATED_COLOUR = "#bf8700"


@dataclass(frozen=True)
class Badge:
    """What a badge says: IT energy (kWh), operational + embodied emissions (gCO2eq), and their source."""

    name: str
    energy_kwh: float
    total_gco2eq: float
    source: str

    @property
    def text(self) -> str:
        """The badge's right-hand text, e.g. '0.0123 kWh · 4.56 gCO2eq · measured'."""
        return f"{sig(self.energy_kwh)} kWh · {sig(self.total_gco2eq)} gCO2eq · {self.source}"


def badge_for_records(name: str, records: list[RunRecord]) -> Badge:
    """The sum of `records` (a run, or an experiment's footprint); measured only when every record was."""
    from greentune.report.footprint import counted_records

    counted = counted_records(records)
    return Badge(
        name=name,
        energy_kwh=math.fsum(r.energy_kwh for r in counted),
        total_gco2eq=math.fsum(r.emissions_gco2eq + (r.embodied_gco2eq or 0.0) for r in counted),
        source="measured" if counted and all(r.energy_source == "measured" for r in counted) else "estimated",
    )


def badge_svg(badge: Badge) -> str:
    """The badge as a standalone SVG document."""
    left = len(LABEL) * CHAR_WIDTH_PX + PADDING_PX
    right = len(badge.text) * CHAR_WIDTH_PX + PADDING_PX
    width = left + right
    colour = MEASURED_COLOUR if badge.source == "measured" else ESTIMATED_COLOUR
    title = escape(f"{badge.name}: {badge.text}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{left / 2:g}" y="14">{LABEL}</text>'
        f'<text x="{left + right / 2:g}" y="14">{escape(badge.text)}</text>'
        "</g></svg>\n"
    )


def markdown_line(badge: Badge, svg_path: str) -> str:
    """The Markdown image line to paste into a README; the path percent-encoded, so a space or a parenthesis
    in it does not end the link."""
    return f"![{LABEL}: {badge.text}]({quote(svg_path, safe='/:')})"
