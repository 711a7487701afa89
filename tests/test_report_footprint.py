"""`greentune report`'s project footprint section and the runs table's storage column, on a SQLite ledger.

Hand-made records written with the ledger API (as a user's runs would be):
a finished and a killed training run, a sweep whose trial is already inside
it, and a serving session. The section must hold the same sums as
`greentune footprint` (trial not counted twice), and its cumulative timeline
must end at the total, in Markdown, JSON and the HTML page's plotly figure.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from browser import chromium_available, open_page
from greentune.cli.app import app
from greentune.ledger import RunKind, write_run
from hand_records import hand_record

runner = CliRunner()
STORAGE_BYTES = 412_000_000  # 412e6 / 2**20 = 392.9 MiB


ten_minute_record = functools.partial(hand_record, duration_s=600.0)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'mlflow.db'}"
    baseline = ten_minute_record(
        "baseline", RunKind.TRAIN, "FINISHED", "2026-11-01T10:00:00+00:00", 0.010, 4.0,
        embodied_gco2eq=1.0, storage_bytes=STORAGE_BYTES,
    )  # fmt: skip
    write_run(baseline, tracking_uri=uri)
    killed = ten_minute_record(
        "killed", RunKind.TRAIN, "KILLED", "2026-11-02T10:00:00+00:00", 0.004, 1.5, embodied_gco2eq=0.25
    )
    write_run(killed, tracking_uri=uri)
    sweep = write_run(
        ten_minute_record(
            "sweep", RunKind.SWEEP, "FINISHED", "2026-11-03T10:00:00+00:00", 0.030, 12.0, embodied_gco2eq=3.0
        ),
        tracking_uri=uri,
    )
    trial = ten_minute_record(  # inside the sweep's 12 g already
        "trial-0", RunKind.TRAIN, "FINISHED", "2026-11-03T11:00:00+00:00", 0.012, 5.0, parent_run_id=sweep.run_id
    )
    write_run(trial, tracking_uri=uri)
    serve = ten_minute_record(
        "serve", RunKind.SERVE, "FINISHED", "2026-11-05T10:00:00+00:00", 0.005, 1.5, embodied_gco2eq=0.5, requests=1000
    )
    write_run(serve, tracking_uri=uri)
    return uri


# baseline + killed + sweep (not its trial) + serve, by hand
TOTAL_KWH = 0.010 + 0.004 + 0.030 + 0.005  # 0.049
OPERATIONAL_G = 4.0 + 1.5 + 12.0 + 1.5  # 19.0
EMBODIED_G = 1.0 + 0.25 + 3.0 + 0.5  # 4.75


def report(uri: str, *args: str) -> str:
    result = runner.invoke(app, ["report", "--tracking-uri", uri, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def markdown(ledger: str) -> str:
    return report(ledger, "--format", "md")


@pytest.fixture(scope="module")
def page(ledger: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    report(ledger, "--out", str(out))
    return out


@pytest.fixture(scope="module")
def html(page: Path) -> str:
    return page.read_text()


def _table(section: str, first_header: str) -> list[list[str]]:
    lines = section[section.index(f"| {first_header} |") :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_markdown_section_totals_equal_the_hand_computed_sums(markdown: str) -> None:
    section = markdown[markdown.index("## Project footprint") :]
    rows = {(row[0], row[1]): row for row in _table(section, "kind")}
    assert list(rows) == [("train", "FINISHED"), ("train", "KILLED"), ("sweep", "FINISHED"), ("serve", "FINISHED"),
                          ("total", "all")]  # fmt: skip
    # runs, kWh, operational, embodied, cost, storage
    assert rows[("total", "all")][2:] == ["4", "0.0490", "19.0", "4.75", "—", "393 MiB"]
    assert rows[("sweep", "FINISHED")][2:6] == ["1", "0.0300", "12.0", "3.00"]  # the trial is not added again


def test_markdown_timeline_is_cumulative_and_ends_at_the_total(markdown: str) -> None:
    timeline = _table(markdown[markdown.index("### Cumulative timeline") :], "job end (UTC)")
    assert [row[:3] for row in timeline] == [
        ["2026-11-01T10:10:00Z", "baseline", "train"],
        ["2026-11-02T10:10:00Z", "killed", "train"],
        ["2026-11-03T10:10:00Z", "sweep", "sweep"],
        ["2026-11-05T10:10:00Z", "serve", "serve"],
    ]
    # kWh so far, operational, embodied, total: 0.01/4/1/5 → 0.014/5.5/1.25/6.75 → 0.044/17.5/4.25/21.75 → the total
    assert [row[3:] for row in timeline] == [
        ["0.0100", "4.00", "1.00", "5.00"],
        ["0.0140", "5.50", "1.25", "6.75"],
        ["0.0440", "17.5", "4.25", "21.8"],
        ["0.0490", "19.0", "4.75", "23.8"],
    ]


def test_json_footprint_last_point_is_the_total(ledger: str) -> None:
    data = json.loads(report(ledger, "--format", "json"))
    assert {row["run_name"]: row["storage_bytes"] for row in data["runs"]} == {
        "baseline": STORAGE_BYTES,
        "killed": None,
        "trial-0": None,
    }
    footprint = data["footprint"]
    total, last = footprint["total"], footprint["timeline"][-1]
    assert (total["runs"], total["energy_kwh"], total["emissions_gco2eq"], total["embodied_gco2eq"]) == (
        4,
        pytest.approx(TOTAL_KWH),
        pytest.approx(OPERATIONAL_G),
        pytest.approx(EMBODIED_G),
    )
    assert (last["energy_kwh"], last["operational_gco2eq"], last["embodied_gco2eq"]) == (
        total["energy_kwh"],
        total["emissions_gco2eq"],
        total["embodied_gco2eq"],
    )
    assert last["total_gco2eq"] == total["emissions_gco2eq"] + total["embodied_gco2eq"]


def _plot_traces(html: str, div_id: str) -> list[dict]:
    """The data array a plotly <div> is drawn with, read back from the page's Plotly.newPlot call."""
    call = html.index(f'"{div_id}",', html.index("Plotly.newPlot(", html.index(f'id="{div_id}"')))
    start = html.index("[", call)
    traces, _ = json.JSONDecoder().raw_decode(html[start:])
    return traces


def test_html_page_draws_the_cumulative_timeline(html: str) -> None:
    assert html.index("id='footprint-section'") < html.index("<footer>")
    traces = {trace["name"]: trace for trace in _plot_traces(html, "plot-footprint-timeline")}
    assert list(traces) == ["energy", "operational", "embodied", "total"]
    assert traces["energy"]["x"] == [
        "2026-11-01T10:10:00+00:00",
        "2026-11-02T10:10:00+00:00",
        "2026-11-03T10:10:00+00:00",
        "2026-11-05T10:10:00+00:00",
    ]
    assert traces["energy"]["y"] == pytest.approx([0.010, 0.014, 0.044, TOTAL_KWH])
    assert traces["operational"]["y"] == pytest.approx([4.0, 5.5, 17.5, OPERATIONAL_G])
    assert traces["embodied"]["y"] == pytest.approx([1.0, 1.25, 4.25, EMBODIED_G])
    assert traces["total"]["y"][-1] == pytest.approx(OPERATIONAL_G + EMBODIED_G)
    assert traces["operational"]["stackgroup"] == traces["embodied"]["stackgroup"]  # embodied drawn on top


def test_runs_table_shows_storage_in_human_units(markdown: str, html: str) -> None:
    header = next(line for line in markdown.splitlines() if line.startswith("| run |"))
    column = [cell.strip() for cell in header.strip("|").split("|")].index("storage")
    runs = {row[0]: row[column] for row in _table(markdown[markdown.index("## Runs") :], "run")}
    # the sweep and the serving session have sections of their own, not rows here
    assert runs == {"baseline": "393 MiB", "killed": "—", "trial-0": "—"}
    runs_table = html[html.index('<table id="runs">') : html.index("</table>", html.index('<table id="runs">'))]
    assert "<th>storage</th>" in runs_table
    assert runs_table.count('<td title="checkpoints and final model on disk">393 MiB</td>') == 1


@pytest.mark.slow
@pytest.mark.skipif(
    not chromium_available(), reason="/usr/bin/chromium absent: `make test` installs chromium + chromium-driver as root"
)
def test_footprint_section_renders_in_headless_chromium(page: Path) -> None:
    view = open_page(page, table_ids=("footprint",))
    assert view.console_errors == []
    assert view.table_rows["footprint"] == 5  # four kind/status lines and the total
    (plot,) = [p for p in view.plots if p["name"] == "footprint-timeline"]
    # 4 traces (energy, operational, embodied, total) + 4 energy markers + 4 total markers
    assert plot["traces"] == 12 and plot["height"] == 480
