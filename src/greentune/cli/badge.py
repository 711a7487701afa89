"""`greentune badge RUN|--experiment E` — an SVG badge (kWh, gCO2eq, measured/estimated) and its Markdown line."""

from __future__ import annotations

from pathlib import Path

import typer

from greentune.errors import GreentuneError


def register(app: typer.Typer) -> None:
    """Add `greentune badge` to the app."""
    app.command("badge")(badge)


def badge(
    run: str | None = typer.Argument(None, help="Run id or name; or give --experiment for a whole experiment."),
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Badge the experiment's footprint (or look RUN up in it)."
    ),
    out: Path = typer.Option(Path("greentune-badge.svg"), "--out", "--output", "-o", help="SVG file to write."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI of the ledger."),
) -> None:
    """Write an SVG badge of a run's or an experiment's footprint and print the Markdown line to paste."""
    from greentune.report.badge import badge_for_records, badge_svg, markdown_line
    from greentune.report.load import read_ledger, require_run
    from greentune.report.write import write_text

    if run is None and experiment is None:
        raise GreentuneError("give a run (id or name) or --experiment NAME")
    if out.suffix.lower() != ".svg":
        raise GreentuneError(f"--out must end in .svg, got {out.name!r}")
    records = read_ledger(tracking_uri, experiment)
    if run is not None:
        record = require_run(records, run)
        made = badge_for_records(record.run_name, [record])
    elif records:
        made = badge_for_records(f"experiment {experiment}", records)
    else:
        raise GreentuneError(
            f"no runs in experiment '{experiment}'; `greentune runs --json` shows each run's experiment"
        )
    write_text(badge_svg(made), out)
    typer.echo(markdown_line(made, out.as_posix()))
