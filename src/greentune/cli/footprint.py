"""`greentune footprint` — the project's lifecycle footprint over the ledger (table, --json, or a report section)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from greentune.errors import GreentuneError

if TYPE_CHECKING:
    from greentune.report.footprint import Footprint


def register(app: typer.Typer) -> None:
    """Add `greentune footprint` to the app."""
    app.command("footprint")(footprint)


def footprint(
    experiment: list[str] | None = typer.Option(
        None, "--experiment", "-e", help="Only runs of this experiment (repeat for several); default: all."
    ),
    since: str | None = typer.Option(None, "--since", help="Only jobs started at or after this ISO date/time (UTC)."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI of the ledger."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "--output",
        "-o",
        help="Write the report section: .md (Markdown) or .html (with the cumulative timeline).",
    ),
) -> None:
    """Every job of the ledger by kind and status: kWh, gCO2eq, $, storage, SCI per model and per 1,000 summaries."""
    from greentune.report.footprint import parse_since, project_footprint
    from greentune.report.footprint_page import render_html, render_markdown
    from greentune.report.load import read_ledger
    from greentune.report.write import write_text

    if out is not None and out.suffix.lower() not in (".md", ".html", ".htm"):
        raise GreentuneError(f"--out must end in .md or .html, got {out.name!r}")
    start = parse_since(since) if since is not None else None
    empty: list[str] = []
    if experiment:
        by_name = {name: read_ledger(tracking_uri, name) for name in experiment}  # `-e a -e a` counts a's runs once
        records = [record for runs in by_name.values() for record in runs]
        empty = [name for name, runs in by_name.items() if not runs]
    else:
        records = read_ledger(tracking_uri)
    result = project_footprint(records, start)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print(result, Console())
        if not records and not experiment:
            Console(stderr=True).print("[yellow]note:[/yellow] no runs in the ledger")
    for name in empty:  # a typo in -e would otherwise pass for an experiment that cost nothing
        Console(stderr=True).print(f"[yellow]note:[/yellow] no runs in experiment {name!r}", highlight=False)
    if out is not None:
        text = render_markdown(result) if out.suffix.lower() == ".md" else render_html(result)
        path = write_text(text, out)
        Console(stderr=True).print(f"footprint section written to {path.resolve()}", highlight=False)


def _print(result: Footprint, console: Console) -> None:
    from greentune.report.footprint_page import HEADER, cells, summary_lines

    table = Table(title="Project footprint (operational and embodied emissions, every status)")
    for name in HEADER:
        table.add_column(name, justify="left" if name in ("kind", "status") else "right")
    for line in result.lines:
        table.add_row(*cells(line))
    table.add_row(*cells(result.total), style="bold")
    console.print(table)
    for sentence in summary_lines(result):
        console.print(sentence, highlight=False)
