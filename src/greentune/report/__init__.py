"""greentune.report: compare runs from the ledger (HTML, Markdown, JSON) and write model cards."""

from greentune.report.build import Report, RunRow, build_report
from greentune.report.card import co2_eq_emissions, footprint_section, write_card
from greentune.report.write import FORMATS, render, write_report

__all__ = [
    "FORMATS",
    "Report",
    "RunRow",
    "build_report",
    "co2_eq_emissions",
    "footprint_section",
    "render",
    "write_card",
    "write_report",
]
