"""`greentune schedule` as a user runs it: the acceptance commands and one-line errors."""

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

GREENTUNE = str(Path(sys.executable).with_name("greentune"))
ACCEPTANCE = [
    "schedule",
    "--region",
    "DE",
    "--start",
    "2020-06-01T00:00",
    "--duration",
    "6h",
    "--window",
    "24h",
    "--json",
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GREENTUNE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def fs_and_pr():
    fs, pr = run(*ACCEPTANCE, "--mode", "fs"), run(*ACCEPTANCE, "--mode", "pr")
    assert fs.returncode == 0, fs.stderr
    assert pr.returncode == 0, pr.stderr
    return json.loads(fs.stdout), json.loads(pr.stdout)


@pytest.fixture(scope="module")
def de_slots():
    """DE's 15-min ENTSO-E intensity from the acceptance start to its deadline (start + 24 h + 6 h): 120 slots."""
    from greentune.carbon import load_entsoe

    t0 = datetime.fromisoformat("2020-06-01T00:00+02:00")
    series = load_entsoe("DE", t0, t0 + timedelta(hours=30))
    assert series.step_s == 900
    return t0, series.values_between(t0, t0 + timedelta(hours=30))


def test_flexible_start_acceptance(fs_and_pr, de_slots):
    fs, _ = fs_and_pr
    # brute force: every start on the 15-min grid in [t0, t0 + 24 h], 24 slots each, at constant power
    t0, slots = de_slots
    sums = [slots[first : first + 24].sum() for first in range(24 * 4 + 1)]
    best = min(range(len(sums)), key=sums.__getitem__)
    assert datetime.fromisoformat(fs["start"]) == t0 + timedelta(minutes=15 * best)
    assert fs["savings_pct"] == pytest.approx(100 * (sums[0] - sums[best]) / sums[0])
    assert fs["mode"] == "fs" and len(fs["segments"]) == 1
    assert "ENTSO-E" in fs["source"] and fs["kind"] == "average"
    assert fs["emissions_plan_gco2eq"] <= fs["emissions_now_gco2eq"]


def test_pause_and_resume_saves_at_least_as_much(fs_and_pr, de_slots):
    fs, pr = fs_and_pr
    assert pr["savings_pct"] >= fs["savings_pct"] - 1e-9
    # no pause rules: the 24 cleanest of the 120 slots up to the deadline
    _, slots = de_slots
    now, cleanest = slots[:24].sum(), np.sort(slots)[:24].sum()
    assert pr["savings_pct"] == pytest.approx(100 * (now - cleanest) / now)
    assert datetime.fromisoformat(pr["end"]) <= datetime.fromisoformat(pr["deadline"])
    assert (
        sum(
            datetime.fromisoformat(s["end"]).timestamp() - datetime.fromisoformat(s["start"]).timestamp()
            for s in pr["segments"]
        )
        == 6 * 3600
    )


def test_regions_are_compared_and_a_region_without_a_series_is_labelled():
    result = run(
        "schedule",
        "--regions",
        "DE,FR,PL,SE",
        "--start",
        "2020-06-01T00:00",
        "--duration",
        "6h",
        "--window",
        "24h",
        "--mode",
        "pr",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["regions"]
    assert [row["region"] for row in rows if not row["series_backed"]] == ["SE"]
    assert [row["emissions_gco2eq"] for row in rows] == sorted(row["emissions_gco2eq"] for row in rows)


def test_human_output_names_mode_source_and_savings():
    result = run(
        *ACCEPTANCE[:-1],
        "--mode",
        "pr",
        "--min-segment",
        "1h",
        "--max-pauses",
        "2",
        "--checkpoint",
        "90s",
        "--checkpoint-kwh",
        "0.01",
    )
    assert result.returncode == 0, result.stderr
    assert "Pause & Resume" in result.stdout and "ENTSO-E" in result.stdout and "saves" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "6 hours"], "cannot read duration"),
        (["--region", "XX"], "no ENTSO-E data for region 'XX'"),
        (["--source", "nowhere"], "unknown source 'nowhere'"),
        (["--max-duration", "4h"], "shorter than the job"),
        (["--start", "2016-06-01T00:00"], "no ENTSO-E data for DE in 2016"),
        (["--start", "2020-12-31T12:00"], "no ENTSO-E data for DE in 2021"),
        (["--source", "electricitymaps"], "deadline .* has passed"),
        (["--mode", "later"], "'later' is not one of 'fs', 'pr'"),
        (["--start", "June"], "cannot read --start"),
        (["--tz", "../../etc/passwd"], "unknown time zone"),
        (["--start", "9999-12-31T23:00"], "past the year 9999"),
        (["--duration", "99999999999d"], "past the year 9999"),
        (["--power-w", "1e308"], "the job's energy .1e\\+308 W for 21600 s. is too large to compute"),
        (["--kind", "hourly"], "unknown kind 'hourly'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    import re

    base = {"--region": "DE", "--start": "2020-06-01T00:00", "--duration": "6h", "--window": "24h"}
    for flag, value in zip(args[::2], args[1::2], strict=False):
        base[flag] = value
    result = run("schedule", *[part for pair in base.items() for part in pair])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), result.stderr


def test_csv_source_with_a_measured_power_timeline_and_a_percent_window(tmp_path):
    grid = tmp_path / "grid.csv"
    rows = [f"2024-01-01T{h:02d}:00:00Z,{900 if h < 4 else 100}" for h in range(12)]
    grid.write_text("timestamp,intensity_gco2eq_per_kwh\n" + "\n".join(rows) + "\n")
    power = tmp_path / "power.csv"
    power.write_text("elapsed_s,power_w\n0,2000\n3600,2000\n7200,2000\n")
    result = run(
        "schedule",
        "--region",
        "ZZ",
        "--source",
        f"csv:{grid}",
        "--kind",
        "marginal",
        "--start",
        "2024-01-01T00:00",
        "--timeline",
        str(power),
        "--window",
        "200%",
        "--mode",
        "fs",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["start"] == "2024-01-01T04:00:00+00:00" and plan["kind"] == "marginal"
    assert plan["energy_kwh"] == pytest.approx(4.0)
    assert plan["emissions_now_gco2eq"] == pytest.approx(4.0 * 900) and plan["emissions_plan_gco2eq"] == pytest.approx(
        400
    )
    assert any("read as UTC" in note for note in plan["notes"]) and "grid.csv" in plan["source"]


def test_unreadable_timelines_and_series_are_one_line(tmp_path):
    def write(name, content):
        (tmp_path / name).write_bytes(content)
        return str(tmp_path / name)

    start = ["--region", "DE", "--start", "2020-06-01T00:00"]
    grid = ["--region", "ZZ", "--kind", "average", "--start", "2024-01-01T00:00", "--duration", "1h"]
    short_grid = b"timestamp,intensity_gco2eq_per_kwh\n2024-01-01T00:00Z,100\n2024-01-01T01:00Z\n"
    for args, message in [
        ([*start, "--timeline", write("header.csv", b"elapsed_s,power_w\n")], "has no rows"),
        ([*start, "--timeline", write("short.csv", b"elapsed_s,power_w\n0,100\n3600\n")], "cannot read power timeline"),
        (
            [*start, "--timeline", write("nan.csv", b"elapsed_s,power_w\n0,nan\n3600,100\n")],
            "finite, non-negative power",
        ),
        ([*grid, "--source", "csv:" + write("grid.csv", b"\xff\xfe\x00")], "cannot read"),
        ([*grid, "--source", "csv:" + write("short-grid.csv", short_grid)], "missing slots"),
    ]:
        result = run("schedule", *args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def test_csv_source_without_region_plans_on_the_files_own_region(tmp_path):
    grid = tmp_path / "my-grid.csv"
    rows = [f"2024-01-01T{h:02d}:00:00Z,{900 if h < 4 else 100},average" for h in range(12)]
    grid.write_text("timestamp,intensity_gco2eq_per_kwh,kind\n" + "\n".join(rows) + "\n")
    result = run(
        "schedule",
        "--source",
        f"csv:{grid}",
        "--start",
        "2024-01-01T00:00Z",
        "--duration",
        "2h",
        "--window",
        "6h",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["region"] == "MY-GRID" and plan["start"] == "2024-01-01T04:00:00+00:00"
    assert plan["emissions_plan_gco2eq"] == pytest.approx(2 * 1000 * 100 / 1000)  # 2 h × 1000 W (default) at 100
