"""The report's power/utilisation timeline, read back from a meter log written by the real `Meter`
and from a hand-written log with a restart (the schema documented in `greentune.meter`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from greentune.meter import Meter
from greentune.report.timeline import Timeline, read_timeline, timeline_from_log


def test_timeline_of_a_real_meter_log_integrates_to_the_measured_energy(tmp_path: Path) -> None:
    with Meter(interval_ms=100, log_path=tmp_path / "meter.jsonl") as meter, meter.window("train") as train:
        deadline = time.monotonic() + 1.3
        while time.monotonic() < deadline:
            sum(range(10_000))
    timeline = read_timeline(str(tmp_path))
    assert timeline is not None
    assert [name for name, _, _ in timeline.windows] == ["train"]
    steps = list(zip(timeline.t_s[::2], timeline.t_s[1::2], strict=True))
    for name, watts in timeline.power_w.items():
        joules = sum((end - start) * w for (start, end), w in zip(steps, watts[::2], strict=True) if w is not None)
        measured_j = sum(c.energy_j for c in train.measurement.components if c.name == name)
        assert joules >= measured_j * 0.99, name  # the samples span at least the window
    assert all(0 <= u <= 100 for values in timeline.utilisation_pct.values() for u in values if u is not None)


def sample(t: float, cpu_j: float, util: float) -> dict:
    return {"type": "sample", "t_unix_s": t, "energy_j": {"cpu": cpu_j}, "cpu_util_pct": util, "gpu_util_pct": {}}


def test_power_is_the_counter_slope_and_a_restart_does_not_count_negative_energy(tmp_path: Path) -> None:
    records = [
        {"type": "meter_start", "t_unix_s": 100.0},
        sample(100.0, 0.0, 0.0),
        sample(101.0, 30.0, 50.0),
        sample(103.0, 130.0, 100.0),
        {"type": "window", "name": "run", "start_unix_s": 100.0, "duration_s": 3.0},
        {"type": "window", "name": "epoch-1", "start_unix_s": 100.0, "duration_s": 3.0},
        {"type": "window", "name": "generate", "start_unix_s": 101.0, "duration_s": 2.0},
        {"type": "meter_start", "t_unix_s": 110.0},  # resumed: counters start again at 0
        sample(110.0, 0.0, 0.0),
        sample(111.0, 20.0, 25.0),
    ]
    timeline = timeline_from_log(records)
    assert timeline is not None
    assert timeline.t_s == [0.0, 1.0, 1.0, 3.0, 10.0, 11.0]
    assert timeline.power_w == {"cpu": [30.0, 30.0, 50.0, 50.0, 20.0, 20.0]}
    assert timeline.utilisation_pct == {"cpu": [50.0, 50.0, 100.0, 100.0, 25.0, 25.0]}
    assert timeline.windows == [("generate", 1.0, 3.0)]

    log = tmp_path / "meter.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    assert read_timeline(str(tmp_path)) is None  # one sample: nothing to draw
    assert read_timeline(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("artifact_dir", [None, "/nonexistent/greentune-run"])
def test_a_run_without_artifacts_has_no_timeline(artifact_dir: str | None) -> None:
    assert read_timeline(artifact_dir) is None


def test_every_window_is_shaded_behind_both_rows_of_the_timeline_figure() -> None:
    from greentune.report.plots import timeline_figure

    windows = [("train" if i % 2 else "eval-loss", float(i), i + 0.5) for i in range(400)]  # a long, killed run
    timeline = Timeline(
        t_s=[0.0, 200.0, 400.0],
        power_w={"cpu": [10.0, 20.0, 15.0]},
        utilisation_pct={"cpu": [50.0, 90.0, 70.0]},
        windows=windows,
    )
    shapes = timeline_figure(timeline).layout.shapes
    assert len(shapes) == 2 * len(windows)
    assert {(shape.xref, shape.yref) for shape in shapes} == {("x", "y domain"), ("x2", "y2 domain")}
    assert [(shape.x0, shape.x1) for shape in shapes[::2]] == [(start, end) for _, start, end in windows]
    assert len({shape.fillcolor for shape in shapes}) == 2  # one colour per window name
