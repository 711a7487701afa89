"""estimate_energy(): by time, by FLOPs, by 6·N·D; the published examples reproduce."""

import math

import pytest

from greentune.carbon import account, estimate_energy, lookup_hardware, resolve_site
from greentune.errors import GreentuneError


def test_carbontracker_gpt3() -> None:
    energy = estimate_energy("V100S", flops=3.14e23)
    assert energy.duration_s == pytest.approx(2_415_384_615.38, rel=1e-9)
    acct = account(
        energy.energy_kwh,
        energy.duration_s,
        resolve_site(None, pue=1.125, intensity_gco2eq_per_kwh=449.06),
        energy_source="estimated",
    )
    assert acct.grid_energy_kwh == pytest.approx(188_701.92, rel=1e-4)
    assert acct.emissions_gco2eq / 1000 == pytest.approx(84_738.49, rel=1e-4)


def test_ml_co2_impact_tpuv2() -> None:
    energy = estimate_energy("TPUv2", hours=100)
    acct = account(energy.energy_kwh, energy.duration_s, resolve_site(None, pue=1, intensity_gco2eq_per_kwh=300))
    assert acct.grid_energy_kwh == pytest.approx(22.1)
    assert acct.emissions_gco2eq / 1000 == pytest.approx(6.63)


def test_params_tokens_uses_six_nd_at_the_assumed_mfu() -> None:
    energy = estimate_energy("H100", params=406e6, tokens=2.5e6, epochs=3)
    assert energy.flops == pytest.approx(6 * 406e6 * 2.5e6 * 3)
    mfu = next(i for i in energy.inputs if i.name == "mfu_params_tokens")
    assert mfu.origin == "estimated" and "PaLM" in mfu.source
    expected_s = energy.flops / (989.5e12 * mfu.value)
    assert energy.duration_s == pytest.approx(expected_s)
    assert any("utilisation" in line for line in energy.assumptions)
    faster = estimate_energy("H100", params=406e6, tokens=2.5e6, epochs=3, mfu=0.6)
    assert faster.duration_s == pytest.approx(energy.duration_s / 2)


def test_count_splits_time_not_energy() -> None:
    one = estimate_energy("A100", flops=1e18)
    eight = estimate_energy("A100", flops=1e18, count=8)
    assert eight.duration_s == pytest.approx(one.duration_s / 8)
    assert eight.energy_kwh == pytest.approx(one.energy_kwh)


def test_tpu_16_bit_falls_back_to_bf16() -> None:
    energy = estimate_energy("TPUv3", flops=1e18)
    assert any("bf16" in i.name for i in energy.inputs)


def test_cpu_from_cpu_table() -> None:
    cpu = lookup_hardware("AMD EPYC 7763")
    assert cpu.kind == "cpu"
    energy = estimate_energy("AMD EPYC 7763", hours=2)
    assert energy.energy_kwh == pytest.approx(cpu.power_w * 2 / 1000)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one"),
        ({"hours": 1, "flops": 1e18}, "exactly one"),
        ({"params": 1e6}, "both --params and --tokens"),
        ({"hours": 0}, "hours"),
        ({"hours": -1}, "hours"),
        ({"hours": math.nan}, "hours"),
        ({"flops": 1e18, "mfu": 1.5}, "MFU"),
        ({"flops": 1e18, "precision": "fp4"}, "precision"),
        ({"hours": 1, "count": 0}, "count"),
    ],
)
def test_bad_estimates(kwargs: dict, message: str) -> None:
    with pytest.raises(GreentuneError, match=message):
        estimate_energy("V100", **kwargs)


def test_no_published_peak() -> None:
    with pytest.raises(GreentuneError, match="no published fp16 peak"):
        estimate_energy("K80", flops=1e18)


def test_unknown_hardware_names_the_closest() -> None:
    with pytest.raises(GreentuneError, match="closest: V100"):
        estimate_energy("V10", hours=1)
