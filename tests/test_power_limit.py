"""The power-limit optimiser against a fake NVML: profile, choice per objective, permission, restore on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from greentune.power_limit import (
    LimitProfile,
    NvmlPowerControl,
    Objective,
    PowerLimitOptimizer,
    candidate_limits_w,
    choose_limit,
)

# One training step at each limit: (seconds, watts drawn). Joules per step = seconds × watts.
STEP_AT_LIMIT = {375: (1.0, 375.0), 400: (1.0, 400.0), 350: (1.05, 350.0), 300: (1.2, 300.0)}


class FakeNvmlError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


class FakeNvml:
    """The pynvml names NvmlPowerControl uses, over one simulated GPU (mW, mJ like NVML)."""

    NVMLError = FakeNvmlError
    NVML_ERROR_NO_PERMISSION = 4

    def __init__(self, limit_w: int = 375, settable: bool = True) -> None:
        self.limit_mw = limit_w * 1000
        self.energy_mj = 0
        self.now_s = 0.0
        self.settable = settable
        self.set_calls: list[int] = []

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: object) -> tuple[int, int]:
        return 300_000, 400_000

    def nvmlDeviceGetPowerManagementLimit(self, handle: object) -> int:
        return self.limit_mw

    def nvmlDeviceSetPowerManagementLimit(self, handle: object, limit_mw: int) -> None:
        if not self.settable:
            raise FakeNvmlError(self.NVML_ERROR_NO_PERMISSION)
        self.set_calls.append(limit_mw)
        self.limit_mw = limit_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: object) -> int:
        return self.energy_mj

    def run_step(self) -> None:
        seconds, watts = STEP_AT_LIMIT[self.limit_mw // 1000]
        self.now_s += seconds
        self.energy_mj += round(seconds * watts * 1000)


def _optimize(nvml: FakeNvml, objective: Objective, max_slowdown_pct: float = 10.0) -> PowerLimitOptimizer:
    optimizer = PowerLimitOptimizer(
        [NvmlPowerControl(nvml, handle=0)],
        objective=objective,
        max_slowdown_pct=max_slowdown_pct,
        warmup_steps=2,
        profile_steps=2,
        step_w=50,
        clock=lambda: nvml.now_s,
    )
    for _ in range(10):
        nvml.run_step()
        optimizer.on_step_end()
    return optimizer


def test_candidates_run_from_the_highest_limit_down_and_include_the_lowest() -> None:
    assert candidate_limits_w(300, 400, 50) == [400, 350, 300]
    assert candidate_limits_w(300, 420, 50) == [420, 370, 320, 300]
    assert candidate_limits_w(300, 300, 50) == [300]


def test_the_profile_measures_each_limit_over_the_same_steps() -> None:
    nvml = FakeNvml()
    result = _optimize(nvml, Objective.ENERGY).result()
    # 2 warm-up steps at 375 W, then 2 steps per limit: 400 W (2 × 1.0 s × 400 W), 350 W, 300 W
    assert [(p.limit_w, p.steps, round(p.duration_s, 6), round(p.energy_j, 6)) for p in result.profiles] == [
        (400, 2, 2.0, 800.0),
        (350, 2, 2.1, 735.0),
        (300, 2, 2.4, 720.0),
    ]
    assert result.original_limits_w == (375,)


@pytest.mark.parametrize(
    ("objective", "max_slowdown_pct", "expected_w"),
    [
        (Objective.ENERGY, 10.0, 300),  # 720 J is the least
        (Objective.TIME, 10.0, 400),  # 2.0 s is the fastest
        (Objective.ENERGY_WITHIN_SLOWDOWN, 10.0, 350),  # 2.1 s ≤ 2.2 s, and 735 J < 800 J; 300 W is 20 % slower
        (Objective.ENERGY_WITHIN_SLOWDOWN, 2.0, 400),  # only the fastest is within 2 %
    ],
)
def test_each_objective_picks_its_limit_and_keeps_it_applied(
    objective: Objective, max_slowdown_pct: float, expected_w: int
) -> None:
    nvml = FakeNvml()
    optimizer = _optimize(nvml, objective, max_slowdown_pct)
    result = optimizer.result()
    assert (result.chosen_w, result.applied) == (expected_w, True)
    assert nvml.limit_mw == expected_w * 1000  # applied for the rest of the job
    optimizer.restore()
    assert nvml.limit_mw == 375_000  # the original limit, not the range's maximum


def test_ties_go_to_the_higher_limit() -> None:
    profiles = [LimitProfile(300, 2, 2.0, 700.0), LimitProfile(400, 2, 2.0, 700.0)]
    assert choose_limit(profiles, Objective.ENERGY, 10.0).limit_w == 400
    assert choose_limit(profiles, Objective.TIME, 10.0).limit_w == 400


def test_without_permission_the_run_goes_on_at_the_default() -> None:
    nvml = FakeNvml(settable=False)
    optimizer = _optimize(nvml, Objective.ENERGY)
    result = optimizer.result()
    assert (result.chosen_w, result.applied, result.profiles) == (None, False, ())
    assert "no permission to set GPU power limits" in result.note
    assert "goes on at the default power limit" in result.note
    assert nvml.limit_mw == 375_000
    optimizer.restore()  # nothing was changed, nothing to put back
    assert nvml.set_calls == []


def test_a_fixed_limit_is_applied_at_the_first_step_without_profiling() -> None:
    nvml = FakeNvml()
    optimizer = PowerLimitOptimizer([NvmlPowerControl(nvml, handle=0)], fixed_limit_w=300, clock=lambda: nvml.now_s)
    optimizer.on_step_end()
    assert nvml.limit_mw == 300_000
    assert optimizer.result().chosen_w == 300
    for _ in range(40):
        optimizer.on_step_end()
    assert nvml.set_calls == [300_000]


_CHILD = """
import json, sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_power_limit import FakeNvml
from greentune.power_limit import NvmlPowerControl, PowerLimitOptimizer

state = Path({state!r})

class FileNvml(FakeNvml):
    def nvmlDeviceSetPowerManagementLimit(self, handle, limit_mw):
        super().nvmlDeviceSetPowerManagementLimit(handle, limit_mw)
        state.write_text(json.dumps(limit_mw))

nvml = FileNvml()
optimizer = PowerLimitOptimizer([NvmlPowerControl(nvml, 0)], fixed_limit_w=300)
optimizer.on_step_end()
print("applied", flush=True)
time.sleep(60)
"""


def test_sigterm_restores_the_original_limit(tmp_path: Path) -> None:
    state = tmp_path / "limit_mw.json"
    script = textwrap.dedent(_CHILD.format(tests=str(Path(__file__).parent), state=str(state)))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "applied"
    assert json.loads(state.read_text()) == 300_000
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM  # the default action still ends the process
    assert json.loads(state.read_text()) == 375_000
