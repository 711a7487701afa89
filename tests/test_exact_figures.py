"""Hand-computed figures users are told: embodied emissions across servers, modelled CPU power, a
Pause & Resume minimum segment that is not a whole number of slots, and Pareto ties.

Each test pins one case that the module's other tests left open (found by
mutation testing, benchmarks/mutation_test.py): the expected numbers are
worked out in the comments, not read back from the code.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from greentune.carbon import IntensitySeries, account, resolve_site
from greentune.errors import GreentuneError
from greentune.ledger import RunRecord
from greentune.meter import ComponentEnergy, Measurement, host
from greentune.report.compare import cost_usd, emissions_gco2eq, pareto_front, percent_change, point_change, rouge1
from greentune.schedule import DEFAULT_POWER_W, Job, PauseRules, choose_slots, flexibility_s, pause_resume

SIX_YEARS_S = 6 * 365.25 * 24 * 3600  # 189,345,600 s


# --- embodied emissions (carbon/accounting.py) -----------------------------------------------------


def test_sixteen_gpus_reserve_two_eight_gpu_servers() -> None:
    # BLOOM's server: 2,500 kgCO2eq without GPUs, 8 A100 per server, 6 years at an 85 % use rate.
    # 1 h of 16 GPUs = 2 whole servers: 2 × 2,500,000 g × 3,600 s ÷ (189,345,600 s × 0.85) = 111.840 g
    acct = account(1.0, 3600.0, resolve_site("FR"), count=16, embodied_hardware="HPE Apollo 6500 Gen10 Plus")
    assert acct.embodied_gco2eq == pytest.approx(111.8403, abs=1e-4)
    assert acct.embodied_gco2eq == pytest.approx(2 * 2_500_000.0 * 3600.0 / (SIX_YEARS_S * 0.85))


def test_part_of_one_server_and_exactly_one_server() -> None:
    # 2 of 8 GPUs for 2 h: 2,500,000 g × 7,200 s ÷ (189,345,600 s × 0.85) × 2/8 = 27.960 g; 8 of 8 for 1 h: 55.920 g
    site = resolve_site("FR")
    quarter = account(1.0, 7200.0, site, count=2, embodied_hardware="HPE Apollo 6500 Gen10 Plus")
    whole = account(1.0, 3600.0, site, count=8, embodied_hardware="HPE Apollo 6500 Gen10 Plus")
    assert quarter.embodied_gco2eq == pytest.approx(27.9601, abs=1e-4)
    assert whole.embodied_gco2eq == pytest.approx(55.9201, abs=1e-4)


def test_embodied_is_added_to_the_operational_total() -> None:
    # 1 kWh × PUE 1.5 × 100 g/kWh = 150 g operational; + 111.840 g embodied for 16 GPUs on 8-GPU servers
    site = resolve_site("FR", pue=1.5, intensity_gco2eq_per_kwh=100.0)
    acct = account(1.0, 3600.0, site, count=16, embodied_hardware="HPE Apollo 6500 Gen10 Plus")
    assert acct.emissions_gco2eq == pytest.approx(150.0)
    assert acct.total_gco2eq == pytest.approx(150.0 + 111.8403, abs=1e-4)


def test_without_embodied_the_total_is_the_operational_figure() -> None:
    acct = account(2.0, 3600.0, resolve_site("DE", pue=1.0, intensity_gco2eq_per_kwh=300.0))
    assert (acct.emissions_gco2eq, acct.embodied_gco2eq, acct.total_gco2eq) == (600.0, None, 600.0)


def test_the_inputs_say_where_energy_and_duration_came_from() -> None:
    site = resolve_site("DE", pue=1.0, intensity_gco2eq_per_kwh=300.0)
    for origin, source in (("measured", "meter"), ("estimated", "estimate")):
        inputs = {i.name: i for i in account(1.0, 60.0, site, energy_source=origin).inputs}
        assert (inputs["energy"].source, inputs["energy"].origin) == (source, origin)
        assert (inputs["duration"].source, inputs["duration"].origin, inputs["duration"].value) == (
            source,
            origin,
            60.0,
        )


@pytest.mark.parametrize("count", [0, -2, 1.5])
def test_a_device_count_below_one_or_fractional_is_refused(count: float) -> None:
    with pytest.raises(GreentuneError, match="count must be a whole number ≥ 1"):
        account(1.0, 60.0, resolve_site("DE"), count=count)  # type: ignore[arg-type]


def test_the_result_as_a_dict_carries_every_figure() -> None:
    site = resolve_site("DE", pue=1.5, intensity_gco2eq_per_kwh=200.0)
    data = account(2.0, 7200.0, site).to_dict()
    assert {key: data[key] for key in ("energy_kwh", "grid_energy_kwh", "duration_s", "emissions_gco2eq", "pue")} == {
        "energy_kwh": 2.0,
        "grid_energy_kwh": 3.0,
        "duration_s": 7200.0,
        "emissions_gco2eq": 600.0,
        "pue": 1.5,
    }
    assert data["inputs"][0] == {
        "name": "energy",
        "value": 2.0,
        "unit": "kWh",
        "source": "meter",
        "year": "",
        "origin": "measured",
    }


def test_user_given_embodied_figures_are_cited_as_the_users() -> None:
    given = account(1.0, 3600.0, resolve_site("FR"), embodied_hardware="A100", embodied_kgco2e=200.0)
    inputs = {i.name: i for i in given.inputs}
    assert (inputs["embodied emissions TE"].source, inputs["embodied emissions TE"].year) == ("given by the user", "")
    assert inputs["expected lifetime EL"].source.startswith("Luccioni, Viguier, Ligozat 2023")
    assert inputs["expected lifetime EL"].year == "2021"
    # 1 h of one A100 at 200 kg plus its eighth of the 2,500 kg server, over 6 years at an 85 % use rate
    assert given.embodied_gco2eq == pytest.approx((200_000.0 + 2_500_000.0 / 8) * 3600.0 / (SIX_YEARS_S * 0.85))


def test_a_missing_regional_price_names_the_regions_that_have_one(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n"
        "  - {provider: aws, sku: x9.test, region: eu-west-1, pricing: on_demand, usd_per_hour: 2.0,"
        " accelerator_count: 1, date: 2026-01-01, source: my quote}\n"
        "  - {provider: aws, sku: x9.test, region: eu-central-1, pricing: on_demand, usd_per_hour: 2.5,"
        " accelerator_count: 1, date: 2026-01-01, source: my quote}\n"
    )
    acct = account(1.0, 3600.0, resolve_site("aws:us-east-1", sku="x9.test", prices=str(prices)))
    assert acct.cost_usd is None
    assert acct.notes == (
        "no on_demand price for x9.test in us-east-1 (prices exist for: eu-central-1, eu-west-1); "
        "add one with --prices FILE",
    )


# --- a window's figures (meter/measurement.py) ---------------------------------------------------------


def test_a_windows_average_power_and_per_kind_energy() -> None:
    # 10 s with 500 J on the GPU and 300 J + 100 J on the CPU: 900 J, 90 W, 0.00025 kWh
    window = Measurement(
        "train",
        1_700_000_000.0,
        10.0,
        [
            ComponentEnergy("gpu:0", "gpu", 500.0, "measured"),
            ComponentEnergy("cpu:package-0", "cpu", 300.0, "measured"),
            ComponentEnergy("cpu:package-1", "cpu", 100.0, "measured"),
        ],
    )
    assert (window.energy_j, window.avg_power_w, window.energy_kwh) == (900.0, 90.0, pytest.approx(0.00025))
    assert (window.energy_j_of("gpu"), window.energy_j_of("cpu"), window.energy_j_of("ram")) == (500.0, 400.0, 0)
    assert Measurement("empty", 0.0, 0.0, []).avg_power_w == 0.0
    assert window.to_dict()["avg_power_w"] == 90.0 and window.to_dict()["energy_kwh"] == pytest.approx(0.00025)


# --- modelled CPU power (meter/host.py) --------------------------------------------------------------


@pytest.fixture
def epyc_slice(monkeypatch: pytest.MonkeyPatch) -> host.HostSensor:
    """A host sensor on a 2-core slice of an AMD EPYC 7763 (280 W, 64 cores in data/cpu_tdp.csv) at 50 % load.

    The CPU model string and psutil's counts are the fakes: nothing depends on this machine's CPU.
    """
    monkeypatch.setattr(host, "cpu_model_name", lambda: "AMD EPYC 7763 64-Core Processor")
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 4 if logical else 2)
    monkeypatch.setattr(psutil, "cpu_times", half_busy_cpu_times())
    return host.HostSensor(estimate_cpu=True, estimate_ram=False)


def half_busy_cpu_times() -> Callable[..., Any]:
    """A psutil.cpu_times whose every call shows one more busy and one more idle CPU second: 50 % use."""
    seconds = itertools.count()
    times = collections.namedtuple("times", ["user", "idle"])

    def cpu_times(percpu: bool = False) -> Any:
        elapsed_s = float(next(seconds))
        return times(user=elapsed_s, idle=elapsed_s)

    return cpu_times


def test_cpu_power_is_the_tdp_share_of_the_visible_cores(epyc_slice: host.HostSensor) -> None:
    # 280 W ÷ 64 cores × 2 visible cores = 8.75 W at full load; linear in utilisation
    assert epyc_slice.cpu.tdp_row is not None and epyc_slice.cpu.tdp_row.name == "AMD EPYC 7763"
    assert epyc_slice.cpu.visible_cores == 2
    assert epyc_slice.cpu_power_w(100.0) == pytest.approx(8.75)
    assert epyc_slice.cpu_power_w(50.0) == pytest.approx(4.375)
    assert epyc_slice.cpu_power_w(0.0) == 0.0


def test_cpu_energy_integrates_the_modelled_power_over_each_interval(epyc_slice: host.HostSensor) -> None:
    # 50 % of 8.75 W = 4.375 W; over 10 s = 43.75 J, then 4 s more = 61.25 J (the first read is the baseline)
    assert epyc_slice.read(100.0).energy_j == {"cpu": 0.0}
    assert epyc_slice.read(110.0).energy_j["cpu"] == pytest.approx(43.75)
    reading = epyc_slice.read(114.0)
    assert reading.energy_j["cpu"] == pytest.approx(61.25)
    assert reading.power_w["cpu"] == pytest.approx(4.375)
    assert reading.util_pct == {"cpu": 50.0}


def test_ram_power_is_watts_per_gigabyte_of_memory_in_use(epyc_slice: host.HostSensor) -> None:
    # data/ram_power.csv: 0.3725 W per GB (Green Algorithms); 8 GB (10^9 bytes each) in use: 2.98 W
    assert epyc_slice.ram_w_per_gb == 0.3725
    assert epyc_slice.ram_power_w(8_000_000_000) == pytest.approx(2.98, rel=1e-12)
    assert epyc_slice.ram_power_w(0) == 0.0


def test_the_cpu_model_comes_from_cpuinfo_or_else_the_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n")
    assert host.cpu_model_name(cpuinfo) == "AMD EPYC 7B13 64-Core Processor"
    cpuinfo.write_text("model name\t: QEMU Virtual CPU version 2.5+: host-passthrough\n")
    assert host.cpu_model_name(cpuinfo) == "QEMU Virtual CPU version 2.5+: host-passthrough"  # all after the 1st colon
    cpuinfo.write_text("processor\t: 0\nCPU implementer\t: 0x41\n")  # an Arm board lists no model name
    monkeypatch.setattr(platform, "processor", lambda: "aarch64")
    assert host.cpu_model_name(cpuinfo) == "aarch64"
    monkeypatch.setattr(platform, "processor", lambda: "")
    assert host.cpu_model_name(cpuinfo) == "unknown"
    assert host.cpu_model_name(tmp_path / "missing") == "unknown"


def test_detection_says_which_row_and_how_many_cores_it_charges(epyc_slice: host.HostSensor) -> None:
    # the fixture's fakes stay in place: an EPYC 7763 model string, 2 physical cores
    detection = host.detect(estimate_cpu=True, estimate_ram=True, scope="process")
    assert detection.sensor is not None and detection.advice == ""
    assert detection.detail == (
        "CPU 'AMD EPYC 7763 64-Core Processor': TDP row 'AMD EPYC 7763' (280 W, 64 cores); 2 core(s) visible; "
        "charges the process tree's CPU time and RSS"
    )
    assert [component.name for component in detection.sensor.components] == ["cpu", "ram"]


def test_no_core_count_from_psutil_counts_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "cpu_model_name", lambda: "AMD EPYC 7763 64-Core Processor")
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: None)
    sensor = host.HostSensor(estimate_cpu=True, estimate_ram=False)
    assert sensor.cpu.visible_cores == 1
    assert sensor.cpu_power_w(100.0) == pytest.approx(280.0 / 64)


def test_without_psutil_the_host_sensor_is_missing_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psutil", None)  # `import psutil` raises ImportError
    detection = host.detect(estimate_cpu=True, estimate_ram=True)
    assert (detection.sensor_name, detection.sensor) == ("host", None)
    assert (detection.detail, detection.advice) == (
        "psutil is not installed: no CPU/RAM figures",
        "pip install psutil",
    )


# --- Pause & Resume minimum segment (schedule/pr.py) ---------------------------------------

T0 = datetime(2020, 6, 1, tzinfo=UTC)


def hourly(values: list[float]) -> IntensitySeries:
    return IntensitySeries(T0, 3600, np.array(values, dtype=float), "average", "hand-made", "XX", UTC)


def test_a_minimum_segment_of_one_and_a_half_hours_on_hourly_data_needs_two_slots() -> None:
    # A 2 h job at 1 kW, 5 h of slack: slots 0-6 usable.
    values = [100, 900, 100, 900, 150, 150, 900]
    free = pause_resume(hourly(values), Job(start=T0, duration_s=7200, window_s=5 * 3600, power_w=1000.0))
    # no rule: the two 100 g slots, one pause; 1 kWh × (100 + 100) = 200 g
    assert [(s.start.hour, s.end.hour) for s in free.segments] == [(0, 1), (2, 3)]
    assert free.emissions_gco2eq == pytest.approx(200.0)
    rules = PauseRules(min_segment_s=1.5 * 3600)
    ruled = pause_resume(hourly(values), Job(start=T0, duration_s=7200, window_s=5 * 3600, power_w=1000.0), rules=rules)
    # 1.5 h rounds up to 2 whole slots, so no 1 h segment: the cleanest 2 adjacent hours, 150 + 150 = 300 g
    assert [(s.start.hour, s.end.hour) for s in ruled.segments] == [(4, 6)]
    assert (ruled.pauses, ruled.emissions_gco2eq) == (0, pytest.approx(300.0))


def test_a_minimum_segment_still_allows_pauses_between_long_enough_runs() -> None:
    # A 4 h job, min 1.5 h (2 slots): two 2 h runs at 100 g beat any 4 h run and any 1 h sliver at 50 g.
    values = [100, 100, 900, 50, 900, 100, 100, 900, 900]
    job = Job(start=T0, duration_s=4 * 3600, window_s=5 * 3600, power_w=1000.0)
    plan = pause_resume(hourly(values), job, rules=PauseRules(min_segment_s=1.5 * 3600))
    assert [(s.start.hour, s.end.hour) for s in plan.segments] == [(0, 2), (5, 7)]
    assert (plan.pauses, plan.emissions_gco2eq) == (1, pytest.approx(400.0))


def test_flexibility_from_a_window_a_percentage_or_a_maximum_duration() -> None:
    six_hours_s = 6 * 3600.0
    assert flexibility_s("24h", None, six_hours_s) == 86400.0
    assert flexibility_s(" 50% ", None, six_hours_s) == 3 * 3600.0
    assert flexibility_s("24h", "10h", six_hours_s) == 4 * 3600.0  # --max-duration wins: 10 h total − 6 h of job
    assert flexibility_s("0%", "6h", six_hours_s) == 0.0
    with pytest.raises(GreentuneError, match=r"--max-duration 5h is shorter than the job \(6 h\)"):
        flexibility_s("24h", "5h", six_hours_s)
    with pytest.raises(GreentuneError, match="cannot read --window 'half%'; write 24h or 50%"):
        flexibility_s("half%", None, six_hours_s)


def test_a_plan_without_a_measured_power_assumes_one_kilowatt() -> None:
    # the documented default: 1,000 W, so a 2.5 h job is 1 kWh per hour slot and 0.5 kWh in its last half hour
    job = Job(start=T0, duration_s=2.5 * 3600, window_s=0.0, power_w=DEFAULT_POWER_W)
    assert job.energy_per_slot_kwh(3600).tolist() == pytest.approx([1.0, 1.0, 0.5])


def test_a_measured_power_ramp_is_integrated_slot_by_slot() -> None:
    # power rises linearly from 1 kW to 4 kW over 3 h: the hourly slots average 1.5, 2.5 and 3.5 kW
    job = Job(
        start=T0,
        duration_s=3 * 3600,
        window_s=0.0,
        timeline_elapsed_s=(0.0, 10800.0),
        timeline_power_w=(1000.0, 4000.0),
    )
    assert job.energy_per_slot_kwh(3600).tolist() == pytest.approx([1.5, 2.5, 3.5])


def test_pause_rules_are_a_frozen_value() -> None:
    import dataclasses

    rules = PauseRules(min_segment_s=5400.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.min_segment_s = 0.0  # type: ignore[misc]
    assert rules == PauseRules(min_segment_s=5400.0) and hash(rules) == hash(PauseRules(min_segment_s=5400.0))


def test_the_exact_planner_refuses_a_table_over_its_cell_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module = importlib.import_module("greentune.schedule.pr")

    # 10 slots × 1 pause state × (2 + 1) segment states × (5 + 1) job slots = 180 cells
    intensity, energies = np.arange(10, dtype=float), np.ones(5)
    monkeypatch.setattr(module, "MAX_DP_CELLS", 180)
    assert choose_slots(intensity, energies, min_segment_slots=2) == [0, 1, 2, 3, 4]
    monkeypatch.setattr(module, "MAX_DP_CELLS", 179)
    with pytest.raises(GreentuneError, match="too large to solve exactly"):
        choose_slots(intensity, energies, min_segment_slots=2)


# --- Pareto fronts (report/compare.py) ----------------------------------------------------------------


def run(name: str, rouge_1: float, emissions: float, cost: float | None = None) -> RunRecord:
    return RunRecord(
        run_id=f"id-{name}",
        run_name=name,
        experiment="pareto",
        status="FINISHED",
        start_time="2026-01-01T00:00:00+00:00",
        model_name="tiny",
        dataset_name="aclsum",
        hardware="cpu: test x1",
        duration_s=60.0,
        energy_kwh=emissions / 100.0,
        location="XX",
        intensity_gco2eq_per_kwh=100.0,
        pue=1.0,
        emissions_gco2eq=emissions,
        cost_usd=cost,
        rouge={"rouge1": rouge_1},
    )


def test_of_two_runs_at_the_same_cost_only_the_better_one_is_on_the_front() -> None:
    runs = [run("better", 20.0, 5.0, cost=1.0), run("worse", 18.0, 5.0, cost=1.0)]
    assert pareto_front(runs, rouge1, emissions_gco2eq) == {"id-better"}
    assert pareto_front(runs, rouge1, cost_usd) == {"id-better"}


def test_of_two_runs_of_the_same_quality_only_the_cheaper_one_is_on_the_front() -> None:
    runs = [run("cheap", 20.0, 4.0), run("dear", 20.0, 5.0)]
    assert pareto_front(runs, rouge1, emissions_gco2eq) == {"id-cheap"}


def test_identical_runs_are_both_on_the_front() -> None:
    runs = [run("a", 20.0, 5.0), run("b", 20.0, 5.0), run("c", 19.0, 6.0)]
    assert pareto_front(runs, rouge1, emissions_gco2eq) == {"id-a", "id-b"}


def test_changes_against_the_baseline_in_percent_and_points() -> None:
    assert percent_change(3.0, 1.0) == 200.0  # a reference of exactly 1 is a number like any other
    assert percent_change(0.75, 1.5) == -50.0
    assert percent_change(1.0, 0.0) is None and percent_change(None, 2.0) is None and percent_change(2.0, None) is None
    assert point_change(21.5, 20.0) == 1.5
    assert point_change(None, 20.0) is None and point_change(20.0, None) is None
