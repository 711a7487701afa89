"""`greentune report` (compare runs: HTML page, Markdown or JSON) and `greentune card RUN` (model card)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from greentune.errors import GreentuneError

if TYPE_CHECKING:
    from greentune.report.write import Format

SUFFIX_FORMATS: dict[str, Format] = {".md": "md", ".markdown": "md", ".json": "json", ".html": "html", ".htm": "html"}
DEFAULT_HTML_OUT = Path("report.html")


def register(app: typer.Typer) -> None:
    """Add `report` and `card` to the app."""
    app.command("report")(report)
    app.command("card")(card)


def report(
    out: Path | None = typer.Option(
        None, "--out", "--output", "-o", help="File to write; default report.html for html, stdout for md/json."
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="html | md | json; default from --out's suffix, else html."
    ),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only runs of this MLflow experiment."),
    runs: str | None = typer.Option(
        None, "--runs", help="Comma-separated run names or ids; shell wildcards allowed, e.g. 'baseline,freeze-*'."
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Run id or name to compare against; default: the run named 'baseline'."
    ),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI of the ledger."),
    rouge_tolerance: float = typer.Option(
        1.0, "--rouge-tolerance", min=0.0, help="ROUGE-1 points a strategy may lose and still be recommended."
    ),
) -> None:
    """Compare runs from the ledger: tables, deltas, Pareto plots, region what-if, recommendation."""
    from greentune.report.build import build_report
    from greentune.report.load import load_runs
    from greentune.report.write import render, write_text

    chosen_format = _format(fmt, out)
    records, notes = load_runs(tracking_uri, experiment, runs)
    built = build_report(records, baseline, notes, rouge_tolerance)
    errors = Console(stderr=True)
    for note in built.notes:
        errors.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    text = render(built, records, chosen_format)
    if out is None and chosen_format != "html":
        typer.echo(text, nl=False)
        return
    path = write_text(text, out or DEFAULT_HTML_OUT)
    typer.echo(f"report written to {path.resolve()} ({len(built.runs)} runs)")


def _format(fmt: str | None, out: Path | None) -> Format:
    from greentune.report import FORMATS

    if fmt is None:
        return SUFFIX_FORMATS.get(out.suffix.lower(), "html") if out is not None else "html"
    chosen = next((known for known in FORMATS if known == fmt.lower()), None)  # as --out's suffix: MD is md
    if chosen is None:
        raise GreentuneError(f"unknown --format '{fmt}'; choose html, md or json")
    return chosen


def card(
    run: str = typer.Argument(..., help="Run id or run name (the latest run of that name)."),
    out: Path = typer.Option(Path("README.md"), "--out", "--output", "-o", help="Model card to write or update."),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Look the run up in this experiment."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI of the ledger."),
) -> None:
    """Write a Hugging Face model card (co2_eq_emissions in grams, a footprint section); merges into an existing one."""
    from greentune.report.card import write_card
    from greentune.report.load import read_ledger, require_run

    records = read_ledger(tracking_uri, experiment)
    if not records and experiment is not None:
        raise GreentuneError(
            f"no runs in experiment '{experiment}'; `greentune runs --json` shows each run's experiment"
        )
    record = require_run(records, run)
    from greentune.report.sweep import card_search_lines

    path = write_card(record, out, search_lines=card_search_lines(record, records))
    typer.echo(f"model card for run '{record.run_name}' written to {path.resolve()}")
