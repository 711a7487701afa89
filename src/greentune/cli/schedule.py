"""`greentune schedule` — when (and where) a job should run to emit least.

`--mode fs` (Flexible Start) delays the whole job to the cleanest start in
[start, start + window]; `--mode pr` (Pause & Resume) runs it in the cleanest
slots before start + window + duration, so with the same `--window` P&R never
does worse than FS. `--regions` compares places (each planned on its own
series when one exists). The job's power is constant (`--power-w`) or a
measured timeline (`--timeline CSV` with columns elapsed_s,power_w).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from greentune.carbon import IntensitySeries
    from greentune.schedule import Mode


def _job_power(power_w: float | None, timeline: Path | None) -> tuple[dict[str, Any], str]:
    """Keyword arguments for `Job` and a note saying where the power came from."""
    from greentune.errors import GreentuneError
    from greentune.schedule import DEFAULT_POWER_W

    if timeline is None:
        if power_w is None:
            return {
                "power_w": DEFAULT_POWER_W
            }, f"constant power {DEFAULT_POWER_W:g} W (default; pass --power-w or --timeline)"
        return {"power_w": power_w}, f"constant power {power_w:g} W"
    if power_w is not None:
        raise GreentuneError("give either --power-w or --timeline, not both")
    try:
        with timeline.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, restval=""))  # a short row reads as empty cells, not None
        elapsed = tuple(float(row["elapsed_s"]) for row in rows)
        power = tuple(float(row["power_w"]) for row in rows)
    except (OSError, KeyError, ValueError) as error:
        raise GreentuneError(
            f"cannot read power timeline {timeline}: {error}; it needs columns elapsed_s,power_w"
        ) from None
    if not rows:
        raise GreentuneError(
            f"power timeline {timeline} has no rows; it needs columns elapsed_s,power_w and ≥ 2 samples"
        )
    return {"timeline_elapsed_s": elapsed, "timeline_power_w": power}, f"measured power timeline {timeline.name}"


def _start_time(text: str | None, tz_name: str | None, source: str, region: str) -> tuple[datetime, str | None]:
    """The requested start, tz-aware, and a note when its time zone was assumed."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from greentune.errors import GreentuneError
    from greentune.schedule.sources import is_live, read_start

    if text is None:
        if not is_live(source):
            raise GreentuneError(f"give --start: the {source} source holds history, so there is no 'now' to plan from")
        return datetime.now(ZoneInfo("UTC")), None
    try:
        tz = ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path-like key such as ../x
        raise GreentuneError(f"unknown time zone {tz_name!r}; use an IANA name such as Europe/Berlin") from None
    return read_start(text, "--start", source, region, tz)


def _schedule(
    region: str | None,
    regions: str | None,
    start: str | None,
    duration: str | None,
    window: str,
    max_duration: str | None,
    mode: str,
    source: str,
    power_w: float | None,
    timeline: Path | None,
    pue: float,
    fill: str | None,
    kind: str | None,
    tz_name: str | None,
    checkpoint: str,
    checkpoint_kwh: float,
    min_segment: str,
    max_pauses: int | None,
) -> dict[str, Any]:
    from greentune.carbon import KINDS
    from greentune.errors import GreentuneError
    from greentune.schedule import (
        Job,
        PauseRules,
        add_seconds,
        compare_regions,
        flexibility_s,
        parse_duration_s,
        plan_job,
    )
    from greentune.schedule.sources import check_source, has_series, load_series

    check_source(source)
    if mode not in ("fs", "pr"):
        raise GreentuneError(f"unknown mode {mode!r}; use fs (Flexible Start) or pr (Pause & Resume)")
    if fill is not None and fill not in ("ffill", "interpolate"):
        raise GreentuneError(f"unknown fill {fill!r}; use ffill or interpolate")
    if kind is not None and kind not in KINDS:
        raise GreentuneError(f"unknown kind {kind!r}; use {' or '.join(KINDS)}")
    names = [name.strip().upper() for name in (regions or "").split(",") if name.strip()]
    if region:
        names = [region.strip().upper(), *[name for name in names if name != region.strip().upper()]]
    if not names:
        raise GreentuneError("give --region (e.g. DE) or --regions DE,FR,PL,SE")
    power, power_note = _job_power(power_w, timeline)
    if duration is None and timeline is None:
        raise GreentuneError("give --duration (e.g. 6h)")
    duration_s = parse_duration_s(duration) if duration else max(power["timeline_elapsed_s"])
    requested, tz_note = _start_time(start, tz_name, source, names[0])
    job = Job(start=requested, duration_s=duration_s, window_s=flexibility_s(window, max_duration, duration_s), **power)
    rules = PauseRules(
        checkpoint_s=parse_duration_s(checkpoint),
        checkpoint_kwh=checkpoint_kwh,
        min_segment_s=parse_duration_s(min_segment),
        max_pauses=max_pauses,
    )
    pad_s = 0 if requested.timestamp() % 3600 == 0 else 3600  # room to round the start up to a slot
    series_end = add_seconds(requested, job.window_s + duration_s + pad_s)

    def series_for(name: str) -> IntensitySeries | None:
        if not has_series(source, name, requested, series_end):
            return None
        return load_series(source, name, requested, series_end, fill=fill, kind=kind)

    notes = [note for note in (tz_note, power_note) if note]
    job_info = {
        "duration_s": duration_s,
        "window_s": job.window_s,
        "power": power_note,
        "pue": pue,
        "rules": vars(rules) if mode == "pr" else None,
    }
    if len(names) == 1:
        series = load_series(source, names[0], requested, series_end, fill=fill, kind=kind)
        plan = plan_job(series, job, cast("Mode", mode), rules=rules, pue=pue)
        result = plan.to_dict()
        result.update(job=job_info, notes=notes + result["notes"])
        return result
    ranking = compare_regions(job, names, series_for, cast("Mode", mode), rules=rules, pue=pue)
    best = next((choice for choice in ranking if choice.plan is not None), None)
    result = best.plan.to_dict() if best and best.plan else {"mode": mode}
    result.update(
        regions=[choice.to_dict() for choice in ranking],
        best_region=ranking[0].region,
        job=job_info,
        notes=notes + result.get("notes", []),
    )
    return result


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
        region: str = typer.Option(None, help="Region or country code, e.g. DE (ENTSO-E), a zone for live sources."),
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
        mode: str = typer.Option("fs", help="fs (Flexible Start) or pr (Pause & Resume)."),
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
        result = _schedule(
            region,
            regions,
            start,
            duration,
            window,
            max_duration,
            mode,
            source,
            power_w,
            timeline,
            pue,
            fill,
            kind,
            tz,
            checkpoint,
            checkpoint_kwh,
            min_segment,
            max_pauses,
        )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            _print(result, Console())
