"""`greentune schedule` — when (and where) a job should run to emit least.

`--mode fs` (Flexible Start) delays the whole job to the cleanest start in
[start, start + window]; `--mode pr` (Pause & Resume) runs it in the cleanest
slots before start + window + duration, so with the same `--window` P&R never
does worse than FS. `--regions` compares places (each planned on its own
series when one exists). The job's power is constant (`--power-w`) or a
measured timeline (`--timeline CSV` with columns elapsed_s,power_w).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from greentune.cli.json_output import echo_json
from greentune.schedule.choices import Mode


def _short(source: str, width: int = 34) -> str:
    """The source's leading words, cut to `width`; --json has the full text."""
    head = source.split(" (")[0].split(",")[0]
    return head if len(head) <= width else head[: width - 1] + "…"


def _print(result: dict[str, Any], console: Console) -> None:
    if "regions" in result:
        table = Table(title=f"{result.get('mode_name', result['mode'])}: regions ranked by emissions")
        for column in ("region", "emissions (g)", "best start", "savings vs now", "source"):
            table.add_column(column)
        for row in result["regions"]:
            table.add_row(
                row["region"],
                f"{row['emissions_gco2eq']:,.0f}",
                row.get("start", "—")[:16],
                f"{row['savings_pct']:.1f} %" if "savings_pct" in row else "—",
                _short(row["source"]),
            )
        console.print(table)
    if "segments" in result:
        console.print(
            f"[bold]{result['mode_name']}[/bold] in {result['region']} — {result['source']} ({result['kind']})"
        )
        console.print(f"  requested start {result['requested_start']}, deadline {result['deadline']}")
        for segment in result["segments"]:
            console.print(f"  run {segment['start']} → {segment['end']}")
        console.print(f"  pauses: {result['pauses']} ({result['pauses_per_hour']:.2f} per hour of running)")
        console.print(
            f"  emissions: now {result['emissions_now_gco2eq']:,.1f} g → plan {result['emissions_plan_gco2eq']:,.1f} g "
            f"(saves {result['savings_pct']:.1f} %)"
        )
    for note in result["notes"]:
        console.print(f"  [dim]note: {note}[/dim]")


def register(app: typer.Typer) -> None:
    """Add `greentune schedule`."""

    @app.command("schedule")
    def schedule(
        region: str = typer.Option(
            None, help="Region or country code, e.g. DE (ENTSO-E), a zone for live sources; csv: the file's own."
        ),
        regions: str = typer.Option(None, help="Compare places: comma-separated, e.g. DE,FR,PL,SE."),
        start: str = typer.Option(
            None, help="Requested start, ISO 8601 (no offset: the region's local time). Live sources: default now."
        ),
        duration: str = typer.Option(None, help="Uninterrupted run time, e.g. 6h, 90m, 4d."),
        window: str = typer.Option(
            "24h",
            help="Flexibility: FS may start up to this late; P&R may finish up to this late. Or a % of the duration.",
        ),
        max_duration: str = typer.Option(
            None, help="Alternative to --window: total time allowed from start to finish, e.g. 9h."
        ),
        mode: Mode = typer.Option(Mode.FS, help="fs (Flexible Start) or pr (Pause & Resume)."),
        source: str = typer.Option("entsoe", help="entsoe | csv:PATH | electricitymaps | watttime."),
        power_w: float = typer.Option(
            None, help="Constant power of the job in W (default 1000, stated in the output)."
        ),
        timeline: Path = typer.Option(
            None, help="Measured power timeline CSV (elapsed_s,power_w) instead of --power-w."
        ),
        pue: float = typer.Option(1.0, help="Power usage effectiveness applied to all emissions."),
        fill: str = typer.Option(
            None, help="Fill gaps in the series: ffill or interpolate (default: a gap is an error)."
        ),
        kind: str = typer.Option(None, help="For csv: sources without a kind column: average or marginal."),
        tz: str = typer.Option(None, help="Time zone for a --start without offset, e.g. Europe/Berlin."),
        checkpoint: str = typer.Option("0s", help="P&R: time to save and restore a checkpoint per pause, e.g. 90s."),
        checkpoint_kwh: float = typer.Option(0.0, help="P&R: energy per pause to save and restore, kWh."),
        min_segment: str = typer.Option("0s", help="P&R: shortest allowed run between pauses, e.g. 1h."),
        max_pauses: int = typer.Option(None, help="P&R: at most this many pauses."),
        as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    ) -> None:
        """Plan a job's start (fs) or its run slots (pr) to cut emissions; compare regions with --regions."""
        from greentune.schedule import PauseRules, PlanRequest, Source, parse_duration_s, plan

        request = PlanRequest(
            mode=mode,
            source=Source.parse(source),
            regions=(region or "", *(regions or "").split(",")),
            start=start,
            duration_s=parse_duration_s(duration) if duration else None,
            window=window,
            max_duration=max_duration,
            power_w=power_w,
            timeline=timeline,
            pue=pue,
            fill=fill,
            kind=kind,
            tz=tz,
            rules=PauseRules(
                checkpoint_s=parse_duration_s(checkpoint),
                checkpoint_kwh=checkpoint_kwh,
                min_segment_s=parse_duration_s(min_segment),
                max_pauses=max_pauses,
            ),
        )
        result = plan(request).to_dict()
        if as_json:
            echo_json(result)
        else:
            _print(result, Console())
