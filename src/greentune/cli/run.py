"""`greentune run`, `greentune runs` and `greentune demo`: fine-tune from a spec, list the ledger, run the offline demo."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from greentune.cli.json_output import echo_json
from greentune.errors import GreentuneError
from greentune.schedule.choices import ClockKind, Mode

if TYPE_CHECKING:
    from greentune.finetune.carbon_aware import PlanFollower
    from greentune.finetune.spec import ExperimentSpec
    from greentune.ledger import RunRecord
    from greentune.ledger.record import CarbonAwareSummary
    from greentune.schedule import PlanRequest

console = Console()


def register(app: typer.Typer) -> None:
    """Add `run`, `runs` and `demo` to the app."""
    app.command("run")(run_command)
    app.command("runs")(runs_command)
    app.command("demo")(demo_command)


_CARBON_AWARE_OPTIONS = (
    "window",
    "max_duration",
    "region",
    "source",
    "clock",
    "at",
    "expected_duration",
    "min_segment",
    "max_pauses",
)


def run_command(
    context: typer.Context,
    spec: Path = typer.Argument(..., help="experiment spec (YAML); see examples/"),
    set_values: list[str] = typer.Option(
        [], "--set", help="override one spec value, e.g. --set strategies.precision=bf16"
    ),
    resume: bool = typer.Option(False, "--resume", help="continue from the last Trainer checkpoint of this run"),
    carbon_aware: Mode | None = typer.Option(
        None, "--carbon-aware", help="fs (wait for the cleanest start) or pr (pause and resume in the cleanest slots)"
    ),
    window: str = typer.Option(
        "24h", "--window", help="carbon-aware: FS may start this late; P&R may finish this late (or a % of the job)"
    ),
    max_duration: str | None = typer.Option(
        None, "--max-duration", help="carbon-aware: instead of --window, the total time allowed from start to finish"
    ),
    region: str | None = typer.Option(
        None, "--region", help="carbon-aware: grid region, e.g. DE (default: the spec's site.location)"
    ),
    source: str = typer.Option(
        "entsoe", "--source", help="carbon-aware: entsoe | csv:PATH | electricitymaps | watttime"
    ),
    clock: ClockKind = typer.Option(
        ClockKind.REAL, "--clock", help="carbon-aware: real, or simulated (replay history from --at in seconds)"
    ),
    at: str | None = typer.Option(
        None, "--at", help="carbon-aware: requested start, ISO 8601 (no offset: the region's time); default now"
    ),
    expected_duration: str | None = typer.Option(
        None,
        "--expected-duration",
        help="carbon-aware: the job's uninterrupted length, e.g. 2h (default: its last run in the ledger)",
    ),
    min_segment: str = typer.Option("0s", "--min-segment", help="P&R: shortest run between pauses, e.g. 1h"),
    max_pauses: int | None = typer.Option(None, "--max-pauses", help="P&R: at most this many pauses"),
) -> None:
    """Fine-tune a summarization model as SPEC says; measure every phase and record the run in the ledger."""
    from greentune.finetune.spec import load_spec

    follower = None
    if carbon_aware is None:
        given = [
            name
            for name in _CARBON_AWARE_OPTIONS
            if getattr(context.get_parameter_source(name), "name", None) == "COMMANDLINE"
        ]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise GreentuneError(f"{flags} only apply to a carbon-aware run; add --carbon-aware fs|pr")
        experiment = load_spec(spec, set_values)
    else:
        if resume:
            raise GreentuneError(
                "--resume cannot be combined with --carbon-aware; a carbon-aware run resumes by itself"
            )
        if carbon_aware is Mode.PR:  # pausing needs full checkpoints: weights, optimizer, scheduler, RNG
            set_values = [*set_values, "train.save_checkpoints=true"]
        from greentune.schedule import PauseRules, PlanRequest, Source, parse_duration_s

        request = PlanRequest(  # checked (source, durations) before the spec and the ledger are read
            mode=carbon_aware,
            source=Source.parse(source),
            regions=(region,) if region else (),
            start=at,
            window=window,
            max_duration=max_duration,
            rules=PauseRules(min_segment_s=parse_duration_s(min_segment), max_pauses=max_pauses),
            clock=clock,
            start_flag="--at",
        )
        experiment = load_spec(spec, set_values)
        follower, experiment = _plan_follower(experiment, request, expected_duration)
        follower.wait_for_start()
    from greentune.finetune import run

    with _progress() as progress:
        record = run(experiment, resume=resume, progress=progress, follower=follower)
    console.print(comparison_table([record], title=f"run {record.run_name} ({record.status})"))
    for line in early_stopping_lines([record]):
        console.print(line)
    if record.carbon_aware is not None:
        console.print(_carbon_aware_table(record.carbon_aware))
    console.print(f"recorded in the ledger as {record.run_id}; artifacts in {record.artifact_dir}")


def _plan_follower(
    spec: ExperimentSpec, request: PlanRequest, expected: str | None
) -> tuple[PlanFollower, ExperimentSpec]:
    """Plan the run (`schedule.plan`) and print the plan; returns the follower and the spec with its accounting site."""
    from dataclasses import replace
    from datetime import timedelta

    from rich.markup import escape

    from greentune.carbon import resolve_site
    from greentune.finetune.carbon_aware import PlanFollower, accounting_site, expected_duration
    from greentune.finetune.clock import RealClock, SimulatedClock
    from greentune.schedule import ClockKind, plan

    region = request.regions[0] if request.regions else (spec.site.location or request.source.default_region())
    if not region:
        raise GreentuneError("give --region (e.g. DE): the spec has no site.location to plan on")
    location, site_note = accounting_site(spec.site.location, region.strip().upper())
    spec = spec.model_copy(update={"site": spec.site.model_copy(update={"location": location})})
    duration = expected_duration(spec, expected)
    result = plan(
        replace(
            request,
            regions=(region,),
            duration_s=duration.duration_s,
            power_w=duration.power_w,
            pue=resolve_site(location, pue=spec.site.pue).pue,  # the plan's emissions at the site's PUE
        )
    )
    planned, series = result.plan, result.series
    assert planned is not None and series is not None  # one region: planned on its series, or an error
    clock = (
        SimulatedClock(result.job.start, duration.duration_s)
        if request.clock is ClockKind.SIMULATED
        else RealClock(console)
    )
    segments = ", ".join(f"{s.start:%m-%d %H:%M}–{s.end:%H:%M}" for s in planned.segments)
    console.print(
        f"{planned.mode.long_name} on {planned.source} ({planned.kind}) for {planned.region}, {clock.kind} clock: "
        f"job of {timedelta(seconds=round(duration.duration_s))} ({escape(duration.method)}); "
        f"{len(planned.segments)} segment(s) {segments}; "
        f"planned savings {planned.savings_pct:.1f} % vs starting at {result.job.start:%Y-%m-%d %H:%M %Z}"
    )
    for note in [*result.notes, *planned.notes, site_note]:
        if note:
            console.print(f"  note: {note}")
    return PlanFollower(plan=planned, series=series, clock=clock, duration=duration), spec


def _carbon_aware_table(entry: CarbonAwareSummary) -> Table:
    """Executed segments of a carbon-aware run, with realised vs run-now emissions."""
    table = Table(
        title=f"{entry.mode.upper()} on a {entry.clock} clock: realised {entry.realised_gco2eq:.3f} g "
        f"vs {entry.counterfactual_gco2eq:.3f} g run now ({entry.savings_pct:.1f} % saved)"
    )
    for column in ("segment", "start", "end", "steps", "kWh", "gCO2eq/kWh", "gCO2eq"):
        table.add_column(column, justify="left" if column in ("start", "end") else "right")
    for segment in entry.segments:
        table.add_row(
            str(segment.index),
            segment.start[:16],
            segment.end[:16],
            str(segment.steps),
            f"{segment.energy_kwh:.6f}",
            f"{segment.mean_intensity_gco2eq_per_kwh:.0f}",
            f"{segment.emissions_gco2eq:.4f}",
        )
    return table


def runs_command(
    as_json: bool = typer.Option(False, "--json", help="print the records as JSON"),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="only this experiment"),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="MLflow store; default greentune-runs/mlflow.db"
    ),
) -> None:
    """List the recorded runs and their status (LOST: the process died): ROUGE, time, energy, carbon and cost."""
    from greentune.ledger import default_tracking_uri, pending_runs, read_runs

    uri = tracking_uri or default_tracking_uri()
    records = read_runs(tracking_uri=uri, experiment=experiment)
    pending = pending_runs(uri)
    if pending:  # on stderr, so that --json stays one JSON document
        Console(stderr=True, soft_wrap=True, highlight=False).print(
            f"[yellow]{len(pending)} finished run(s) are not in the ledger yet[/yellow] "
            f"(their records wait in {', '.join(escape(str(p.folder)) for p in pending[:3])}"
            f"{' …' if len(pending) > 3 else ''}); run `greentune ledger sync`"
        )
    if as_json:
        echo_json([record.model_dump(mode="json") for record in records])
        return
    if not records:
        where = f"experiment '{experiment}' of the ledger" if experiment else "the ledger"
        console.print(
            f"no runs in {where} at {uri}; try `greentune demo` or `greentune run SPEC.yaml`",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(comparison_table(records, title="greentune runs"))
    for line in early_stopping_lines(records):
        console.print(line)
    from greentune.sweep.footprint import footprint_lines

    for record in records:
        for line in footprint_lines(record):
            console.print(line, highlight=False)
        if record.carbon_aware is not None:
            entry = record.carbon_aware
            console.print(
                f"carbon-aware {record.run_name}: {entry.mode.upper()}, {len(entry.segments)} segment(s) "
                f"on a {entry.clock} clock, realised {entry.realised_gco2eq:.3f} gCO2eq vs "
                f"{entry.counterfactual_gco2eq:.3f} run now ({entry.savings_pct:.1f} % saved; --json for the plan)"
            )


def demo_command(
    experiment: str = typer.Option("greentune-demo", "--experiment", "-e", help="ledger experiment for the demo runs"),
    location: str | None = typer.Option(
        None, "--location", help="country or provider:region for the carbon accounting"
    ),
    sku: str | None = typer.Option(None, "--sku", help="cloud instance type whose hourly price gives the $ column"),
    report_path: Path = typer.Option(
        Path("greentune-runs") / "demo-report.html", "--report", help="where to write the HTML report of the demo runs"
    ),
) -> None:
    """Offline CPU demo: MiniLM BERT2BERT on ACLSum, a baseline and two strategies, a comparison table and an HTML report."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # built-ins only: never reach for the Hub
    from greentune.finetune.demo import DEMO_RUNS, demo_specs

    started = time.monotonic()
    specs = demo_specs(experiment, location=location, sku=sku)
    specs[0].site.resolve()  # an unknown location or SKU: one line before anything is made or printed
    _check_report_path(report_path)  # fail now, not after ten minutes of training
    console.print(
        f"greentune demo: {len(specs)} fine-tuning runs of MiniLM BERT2BERT on ACLSum "
        f"({', '.join(label for label, _ in DEMO_RUNS)}), offline on CPU"
    )
    from greentune.finetune import run

    records = []
    with _progress() as progress:
        for spec in specs:
            records.append(run(spec, progress=progress))
            progress.console.print(f"  done: {_summary_line(records[-1])}")
    console.print(comparison_table(records, title="greentune demo: strategies compared"))
    for line in early_stopping_lines(records):
        console.print(line)
    from greentune.report import write_report

    written = write_report(records, report_path)
    console.print(f"{len(records)} runs in {time.monotonic() - started:.0f} s. {_footnote(records)}")
    console.print(f"report: {written.resolve()}")
    console.print("`greentune runs` lists them from the ledger; `greentune report` compares any of them.")


def _check_report_path(path: Path) -> None:
    if path.is_dir():
        raise GreentuneError(f"--report {path} is a folder; give a file path, e.g. {path / 'demo-report.html'}")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GreentuneError(f"cannot create report folder {folder}: {error.strerror}; pass --report PATH") from error
    if not os.access(folder, os.W_OK):
        raise GreentuneError(f"cannot write to report folder {folder}; pass --report PATH")


def _progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # off a terminal Rich draws no bars, only a stray blank line at the end
    )


def _footnote(records: list[RunRecord]) -> str:
    """How energy, carbon and $ were obtained, in one line."""
    first = records[0]
    energy = (
        "energy estimated from CPU utilisation × TDP and RAM in use (no RAPL or NVML counter readable here)"
        if any(record.energy_source == "estimated" for record in records)
        else "energy measured by hardware counters"
    )
    cost = "" if first.cost_usd is not None else "; $ needs a cloud SKU (--sku)"
    return f"{energy}; carbon at {first.location}, {first.intensity_gco2eq_per_kwh:g} gCO2eq/kWh{cost}."


def _summary_line(record: RunRecord) -> str:
    rouge1 = record.rouge.get("rouge1")
    return (
        f"{record.run_name}: ROUGE-1 {rouge1:.1f}" if rouge1 is not None else f"{record.run_name}: no ROUGE"
    ) + f", {record.duration_s:.0f} s, {record.energy_kwh * 1000:.2f} Wh ({record.energy_source})"


def comparison_table(records: list[RunRecord], title: str) -> Table:
    """One row per run: epochs, ROUGE-1/2/L, duration, kWh (measured/estimated), gCO2eq, $.

    Narrow enough for an 80-column terminal: the energy source goes in the kWh
    header when every run shares it, and the status column appears only when a
    run did not finish. Early-stopping savings are in `early_stopping_lines`.
    """
    from rich import box

    sources = {record.energy_source for record in records}
    kwh_header = f"kWh\n{sources.pop()}" if len(sources) == 1 else "kWh"
    show_status = any(record.status != "FINISHED" for record in records)
    table = Table(
        title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True, show_edge=False
    )
    table.add_column("run", no_wrap=True)
    if show_status:
        table.add_column("status", no_wrap=True)
    for column in ("epochs", "ROUGE\n-1", "ROUGE\n-2", "ROUGE\n-L", "time\ns", kwh_header, "gCO2eq", "$"):
        table.add_column(column, justify="right")
    for record in records:
        epochs = (
            f"{record.epochs_run:.3g}/{record.epochs_budget:g}" if record.epochs_run and record.epochs_budget else "—"
        )
        kwh = f"{record.energy_kwh:.2g}" + ("" if kwh_header != "kWh" else f" {record.energy_source[:4]}.")
        table.add_row(
            record.run_name,
            *([record.status] if show_status else []),
            epochs,
            _points(record.rouge.get("rouge1")),
            _points(record.rouge.get("rouge2")),
            _points(record.rouge.get("rougeL")),
            f"{record.duration_s:.0f}",
            kwh,
            f"{record.emissions_gco2eq:.3g}",
            f"{record.cost_usd:.3g}" if record.cost_usd is not None else "—",
        )
    return table


def early_stopping_lines(records: list[RunRecord]) -> list[str]:
    """One line per run that early stopping cut short: epochs and estimated kWh not spent."""
    lines = []
    for record in records:
        if record.early_stopping_saved_kwh is not None and record.epochs_run and record.epochs_budget:
            lines.append(
                f"{record.run_name}: early stopping ran {record.epochs_run:.3g} of {record.epochs_budget:g} epochs, "
                f"≈ {record.early_stopping_saved_kwh:.2g} kWh not spent (estimated from the epochs it ran)"
            )
    return lines


def _points(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "—"
