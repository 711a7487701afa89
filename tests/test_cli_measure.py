"""`greentune measure`, run as a user runs it: JSON output, exit codes, Ctrl-C, bad input."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greentune.cli.measure_core import parse_fast
from greentune.meter import CODECARBON_COLUMNS, read_log

GREENTUNE = str(Path(sys.executable).parent / "greentune")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GREENTUNE, "measure", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_json_mode_prints_one_object_with_labelled_components(tmp_path: Path) -> None:
    result = run("--json", "--", sys.executable, "-c", "print('child output'); sum(range(10**6))", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert "child output" in result.stderr  # the child's stdout is moved out of the way
    assert summary["duration_s"] > 0
    assert summary["energy_kwh"] == pytest.approx(sum(c["energy_kwh"] for c in summary["components"]))
    assert summary["components"]
    for component in summary["components"]:
        assert component["source"] in ("measured", "estimated") and component["name"]
    assert summary["exit_code"] == 0
    # default output folder, under the working directory
    log_path = tmp_path / summary["log_path"]
    assert log_path.parent.parent == tmp_path / "greentune-runs"
    assert [r["name"] for r in read_log(log_path) if r["type"] == "window"] == ["command"]
    with (tmp_path / summary["csv_path"]).open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(CODECARBON_COLUMNS) and len(rows) == 1


@pytest.mark.parametrize("option", ["--output", "--out", "-o", "--out="])
def test_the_output_folder_option_has_the_spellings_of_the_other_commands(tmp_path: Path, option: str) -> None:
    # report, card, footprint and badge take --out/-o; measure took only --output (fast path and Typer alike)
    folder = tmp_path / "here"
    given = [option + str(folder)] if option.endswith("=") else [option, str(folder)]
    fast = parse_fast([*given, "--json", "--", "true"])
    assert fast is not None and (fast.output, fast.json_output, fast.command) == (folder, True, ("true",))
    assert parse_fast([*given, "true"]) is None  # no `--`: the Typer command parses it
    typer_path = run(*given, "true", cwd=tmp_path)
    assert typer_path.returncode == 0, typer_path.stderr
    assert sorted(path.name for path in folder.iterdir()) == ["emissions.csv", "meter.jsonl"]


def test_process_scope_charges_the_commands_cpu_time(tmp_path: Path) -> None:
    result = run("--scope", "process", "--json", "--", sys.executable, "-c", "sum(range(3 * 10**7))", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["scope"] == "process"
    cpu = next(component for component in summary["components"] if component["name"] == "cpu")
    assert cpu["source"] == "estimated" and cpu["energy_j"] > 0  # the child's CPU time, reaped or listed
    hardware = next(r for r in read_log(tmp_path / summary["log_path"]) if r["type"] == "meter_start")["hardware"]
    assert hardware["sensors"]["host"]["scope"] == "process"
    assert hardware["sensors"]["host"]["charges_root_process"] is False  # measure's own imports are not the command


def test_exit_code_of_the_command_is_ours(tmp_path: Path) -> None:
    result = run("--output", str(tmp_path / "out"), "--", "false", cwd=tmp_path)
    assert result.returncode == 1
    # the table labels each component with the source the meter log recorded for it
    log = read_log(tmp_path / "out" / "meter.jsonl")
    components = next(record for record in log if record["type"] == "meter_start")["components"]
    lines = result.stdout.splitlines()
    header = next(index for index, line in enumerate(lines) if line.split()[:2] == ["component", "source"])
    rows = {line.split()[0]: line.split()[1] for line in lines[header + 2 : header + 2 + len(components)]}
    assert rows == {component["name"]: component["source"] for component in components}
    assert (tmp_path / "out" / "meter.jsonl").exists() and (tmp_path / "out" / "emissions.csv").exists()
    assert run("--output", str(tmp_path / "out2"), "--", "sh", "-c", "exit 7", cwd=tmp_path).returncode == 7


def test_ctrl_c_is_forwarded_and_the_partial_measurement_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [GREENTUNE, "measure", "--interval-ms", "50", "--output", str(out), "--", "sleep", "30"],
        start_new_session=True,  # no terminal: a SIGINT to measure alone is forwarded (see test_reliability_signals)
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log_path = out / "meter.jsonl"
    deadline = time.monotonic() + 30
    while not (log_path.exists() and any(r["type"] == "window_begin" for r in read_log(log_path))):
        assert time.monotonic() < deadline and process.poll() is None, "measure did not start"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGINT, stderr
    records = read_log(log_path)
    window = next(r for r in records if r["type"] == "window")
    assert window["name"] == "command" and window["duration_s"] > 0
    assert records[-1]["type"] == "meter_stop"
    with (out / "emissions.csv").open(newline="") as file:
        assert len(list(csv.DictReader(file))) == 1
    assert "exited 130" in stdout
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-such-flag", "--", "true"], "No such option"),
        (["--"], "no command given"),
        ([], "no command given"),
        (["--", "no-such-command-xyz"], "command not found"),
        (["--interval-ms", "0", "--", "true"], "interval-ms"),
        (["--interval-ms", "99999999999999999999", "--", "true"], "Input should be less than or equal to 10000"),
        (["--scope", "node", "--", "true"], "unknown scope 'node'"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # refused before an output folder was made


def test_unwritable_output_folder_is_refused_before_the_command_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    marker = tmp_path / "ran"
    result = run("--output", str(blocker / "out"), "--", "touch", str(marker), cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot write to output folder" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_folder(tmp_path: Path) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o500)
    result = run("--output", str(read_only), "--", "true", cwd=tmp_path)
    assert result.returncode == 2 and "cannot write to output folder" in result.stderr


def test_a_signal_before_the_command_starts_is_sent_to_it_once_it_does() -> None:
    # the window between starting the meter and Popen returning: Ctrl-C there must not orphan the child
    from greentune.cli.measure_core import _SignalForwarder

    forwarder = _SignalForwarder()
    forwarder.install()
    try:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # handled at once, with no child yet: kept, not raised
        except KeyboardInterrupt:
            pytest.fail("a Ctrl-C before the command started stopped measure, which would orphan a forked child")
        child = subprocess.Popen(["sleep", "30"])
        forwarder.attach(child)
        assert child.wait(timeout=10) == -signal.SIGINT
    finally:
        forwarder.remove()


def _stamped_command(stamp: Path) -> tuple[str, ...]:
    """A command that writes the wall-clock time it started at into ``stamp``, then runs for 0.3 s."""
    code = f"import time, pathlib; pathlib.Path({str(stamp)!r}).write_text(repr(time.time())); time.sleep(0.3)"
    return (sys.executable, "-c", code)


def test_the_command_starts_before_the_meter_is_imported_and_is_measured_from_its_start(tmp_path: Path) -> None:
    # Popen is watched, not replaced: at the launch, which of the meter's modules were already imported?
    code = (
        "import subprocess, sys\n"
        "from pathlib import Path\n"
        "launch = subprocess.Popen.__init__\n"
        "def watched(self, *args, **kwargs):\n"
        "    print('psutil' in sys.modules, 'greentune.meter.meter' in sys.modules, file=sys.stderr)\n"
        "    launch(self, *args, **kwargs)\n"
        "subprocess.Popen.__init__ = watched\n"
        "from greentune.cli.measure_core import MeasureRequest, measure_command\n"
        f"sys.exit(measure_command(MeasureRequest(tuple(sys.argv[1:]), output=Path({str(tmp_path / 'out')!r}))))\n"
    )
    stamp = tmp_path / "started"
    result = subprocess.run(
        [sys.executable, "-c", code, *_stamped_command(stamp)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    from greentune.meter.snapshot import nvidia_present

    early = not nvidia_present()  # with an NVIDIA driver the meter (NVML) starts first
    assert result.stderr.splitlines()[0] == f"{not early} {not early}"
    records = read_log(tmp_path / "out" / "meter.jsonl")
    window = next(record for record in records if record["type"] == "window")
    first_sample = next(record for record in records if record["type"] == "sample")
    assert window["start_unix_s"] == first_sample["t_unix_s"] < float(stamp.read_text())
    assert window["duration_s"] >= 0.3


def test_a_whole_measurement_never_imports_typing(tmp_path: Path) -> None:
    # it costs milliseconds that a short measured command waits for (benchmarks/measure_startup.py): the meter
    # keeps its type-only names under TYPE_CHECKING. Our modules are under test, not pynvml: no NVIDIA driver here
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from pathlib import Path\n"
        "from greentune.cli import measure_core\n"
        "from greentune.cli.measure_core import MeasureRequest, measure_command\n"
        "from greentune.meter import nvml\n"
        "measure_core.nvidia_present = lambda: False\n"
        "nvml._DRIVER_PATHS = ()\n"
        f"request = MeasureRequest((sys.executable, '-c', 'pass'), output=Path({str(tmp_path / 'out')!r}))\n"
        "assert measure_command(request) == 0\n"
        "print('typing' in set(sys.modules) - before, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "False"
    assert (tmp_path / "out" / "emissions.csv").is_file()


def test_with_an_nvidia_driver_the_meter_starts_before_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greentune.cli import measure_core

    monkeypatch.setattr(measure_core, "nvidia_present", lambda: True)
    stamp = tmp_path / "started"
    request = measure_core.MeasureRequest(_stamped_command(stamp), output=tmp_path / "out", json_output=True)
    assert measure_core.measure_command(request) == 0
    records = read_log(tmp_path / "out" / "meter.jsonl")
    first_sample = next(record for record in records if record["type"] == "sample")
    window = next(record for record in records if record["type"] == "window")
    assert first_sample["cpu_util_pct"] is not None  # a real reading, not a snapshot's zero sample
    assert window["start_unix_s"] == first_sample["t_unix_s"] < float(stamp.read_text())


@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_a_reader_that_went_away_loses_the_summary_not_the_exit_code(tmp_path: Path, json_flag: list[str]) -> None:
    # `greentune measure … | head -c 0`: stdout is a pipe nobody reads any more; every write to it fails (EPIPE)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [GREENTUNE, "measure", *json_flag, "--output", str(tmp_path / "out"), "--", "sh", "-c", "exit 3"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert [r["type"] for r in read_log(tmp_path / "out" / "meter.jsonl")][-1] == "meter_stop"  # the files are kept
    assert (tmp_path / "out" / "emissions.csv").is_file()
