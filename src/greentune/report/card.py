"""A Hugging Face model card for one run: `co2_eq_emissions` metadata plus a readable footprint section.

`huggingface_hub.ModelCard` reads and writes the card, so an existing card
keeps its metadata and text; only `co2_eq_emissions` and the section between
the greentune markers are replaced. Emissions go in **grams**, as the Hub's
card specification asks, and are checked against energy × PUE × intensity
before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from greentune.errors import GreentuneError
from greentune.ledger import RunRecord
from greentune.ledger.record import AccountingInput
from greentune.report import fmt
from greentune.report.metrics import (
    ROUGE_KEYS,
    ROUGE_LABELS,
    component_sources,
    energy_by_component_kwh,
    rouge_points,
    strategy_summary,
)

SECTION_START = "<!-- greentune:footprint:start -->"
SECTION_END = "<!-- greentune:footprint:end -->"
TRAINING_TYPE = "fine-tuning"
# Emissions within this factor of energy × PUE × intensity are plausible grams;
# a card in kilograms would be off by 1000.
MAGNITUDE_TOLERANCE = 2.0


def check_grams(record: RunRecord) -> None:
    """Refuse a run whose gCO2eq does not match its kWh × PUE × gCO2eq/kWh (e.g. kg stored as g).

    The intensity is the one the figure used: the annual average, or the energy-weighted mean of a time-resolved run."""
    expected_g = record.energy_kwh * record.pue * record.intensity_gco2eq_per_kwh
    if expected_g <= 0 or record.emissions_gco2eq <= 0:
        return
    ratio = record.emissions_gco2eq / expected_g
    if not 1 / MAGNITUDE_TOLERANCE <= ratio <= MAGNITUDE_TOLERANCE:
        raise GreentuneError(
            f"run '{record.run_name}' records {record.emissions_gco2eq:.4g} gCO2eq, but its "
            f"{record.energy_kwh:.4g} kWh × PUE {record.pue:g} × {record.intensity_gco2eq_per_kwh:.4g} gCO2eq/kWh "
            f"is {expected_g:.4g} g; its accounting is off (kg instead of g?), so no card was written"
        )


def co2_eq_emissions(record: RunRecord) -> dict[str, Any]:
    """The card's `co2_eq_emissions` block, emissions in grams: the record's one figure, by its method."""
    check_grams(record)
    return {
        "emissions": float(f"{record.emissions_gco2eq:.6g}"),
        "source": _source(record),
        "training_type": TRAINING_TYPE,
        "geographical_location": record.location,
        "hardware_used": record.hardware,
    }


def _source(record: RunRecord) -> str:
    """One line: how the grams were computed (the method) and where the grid intensity came from."""
    from greentune import __version__

    mean = "mean " if record.is_time_resolved else ""
    text = (
        f"greentune {__version__}: {record.energy_source} energy × PUE {record.pue:g} × "
        f"{mean}{record.intensity_gco2eq_per_kwh:.4g} gCO2eq/kWh; method: {record.emissions_method}"
    )
    if record.intensity_kind == "marginal":
        text += " (marginal emissions, not comparable with average-intensity figures)"
    return text


def footprint_section(record: RunRecord, search_lines: list[str] | None = None) -> str:
    """The Markdown section between the greentune markers; `search_lines`: the sweep this run was a trial of."""
    sources = component_sources(record)
    components = ", ".join(
        f"{kind} {fmt.sig(kwh)} kWh ({sources[kind]})" for kind, kwh in energy_by_component_kwh(record).items()
    )
    components = f": {components}" if components else ""
    embodied = f"{fmt.sig(record.embodied_gco2eq)} gCO2eq" if record.embodied_gco2eq is not None else fmt.MISSING
    rouge = " / ".join(fmt.fixed(rouge_points(record, key), 2) for key in ROUGE_KEYS)
    strategies = strategy_summary(record, None) or fmt.MISSING
    comparison = ""
    if record.is_time_resolved and record.annual_average_emissions_gco2eq is not None:
        comparison = f"; at the annual average it would read {fmt.sig(record.annual_average_emissions_gco2eq)} gCO2eq"
    rows = [
        (
            "Emissions",
            f"{fmt.sig(record.emissions_gco2eq)} gCO2eq (operational, {record.emissions_method}{comparison})",
        ),
        ("Energy", f"{fmt.sig(record.energy_kwh)} kWh, {record.energy_source}{components}"),
        ("Duration", fmt.duration(record.duration_s)),
        ("Hardware", record.hardware),
        (
            "Location",
            f"{record.location}, {'mean ' if record.is_time_resolved else ''}"
            f"{fmt.sig(record.intensity_gco2eq_per_kwh)} gCO2eq/kWh, PUE {record.pue:g}",
        ),
        ("Cost", fmt.money(record.cost_usd)),
        ("Embodied emissions", embodied),
        ("Strategies", strategies),
        (" / ".join(ROUGE_LABELS[key] for key in ROUGE_KEYS) + " (validation)", rouge),
    ]
    lines = [
        SECTION_START,
        "## Training footprint",
        "",
        f"Measured by greentune for run `{record.run_name}` (`{record.run_id}`, {record.status.lower()}, "
        f"started {record.start_time}): {record.model_name} fine-tuned on {record.dataset_name}.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    cited = [item for item in record.accounting_inputs if item.source]
    if cited:
        lines += ["", "Accounting inputs:", ""]
        lines += [
            f"- {item.name}: {_value(item)} ({item.source}" + (f", {item.year})" if item.year else ")")
            for item in cited
        ]
    if search_lines:
        lines += ["", "### The search that produced it", "", *search_lines]
    lines.append(SECTION_END)
    return "\n".join(lines)


def _value(item: AccountingInput) -> str:
    number = fmt.sig(item.value) if isinstance(item.value, int | float) else str(item.value or "")
    return f"{number} {item.unit}".strip()


def write_card(record: RunRecord, out_path: str | Path, search_lines: list[str] | None = None) -> Path:
    """Write or update the model card at `out_path`; existing metadata and text are kept.

    `search_lines` (`greentune.report.sweep.card_search_lines`) state the whole sweep's footprint for a trial.
    """
    import yaml
    from huggingface_hub import ModelCard, ModelCardData

    from greentune.report.write import write_text

    path = Path(out_path)
    emissions = co2_eq_emissions(record)
    section = footprint_section(record, search_lines)
    if path.is_file():
        try:
            with _quiet_about_missing_metadata():
                card = ModelCard.load(path)
        except (ValueError, yaml.YAMLError) as error:  # bad UTF-8 or metadata that is not a YAML mapping
            raise GreentuneError(
                f"cannot update the model card {path} ({str(error).splitlines()[0]}); "
                "fix its metadata block or choose another --out"
            ) from None
        card.text = _merge_section(card.text, section)
    else:
        data = ModelCardData(pipeline_tag="summarization", tags=["summarization", "greentune"])
        card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n# {record.run_name}\n\n{section}\n")
    card.data.co2_eq_emissions = emissions
    return write_text(str(card), path)


@contextmanager
def _quiet_about_missing_metadata() -> Iterator[None]:
    """Hold back huggingface_hub's warning that a card has no metadata block: the card gets one here."""
    logger = logging.getLogger("huggingface_hub.repocard")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _merge_section(text: str, section: str) -> str:
    """Replace the greentune section of `text`, or append it."""
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start != -1 and end > start:
        return text[:start] + section + text[end + len(SECTION_END) :]
    return text.rstrip() + "\n\n" + section + "\n"
