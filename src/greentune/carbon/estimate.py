"""Energy before a run: power × time, or FLOPs ÷ (peak × utilisation), or 6·N·D FLOPs.

Three ways to estimate the IT energy of a job that has not run (all labelled
`estimated`; each assumption is listed with its source):

- time: devices × power (TDP) × hours;
- FLOPs: time = FLOPs ÷ (devices × peak FLOP/s × MFU), then as above — with
  MFU 1 by default, the convention of carbontracker's GPT-3 estimate;
- model and data: FLOPs = 6 × parameters × tokens × epochs (Kaplan et al.
  2020), at an assumed model-FLOPs utilisation (data/estimate_assumptions.csv).

A `HostLoad` adds the host as the Green Algorithms method counts it
(Lannelongue et al. 2021): CPU cores × per-core TDP (package TDP ÷ cores of a
cpu_tdp.csv row) × core usage, plus memory GB × the published W/GB of
ram_power.csv (the figure the meter uses for RAM). On a CPU device the cores
replace the whole package.
"""

from __future__ import annotations

from dataclasses import dataclass

from greentune.carbon.accounting import Input
from greentune.carbon.hardware import PRECISIONS, Hardware, lookup_hardware
from greentune.carbon.tables import DataRow, data_row, require_positive
from greentune.data import read_table
from greentune.errors import GreentuneError


@dataclass(frozen=True)
class HostLoad:
    """The host's share of a job: `cpu_cores` of `cpu` (a cpu_tdp.csv row; default: the device when it is a CPU)
    at `cpu_usage` (fraction of their TDP), and `memory_gb` of RAM."""

    cpu_cores: int | None = None
    cpu: str | None = None
    cpu_usage: float = 1.0
    memory_gb: float | None = None


@dataclass(frozen=True)
class EnergyEstimate:
    """Estimated IT energy (kWh) and duration (s) of a job, with the inputs and assumptions used."""

    energy_kwh: float
    duration_s: float
    method: str
    hardware: Hardware
    count: int
    flops: float | None
    inputs: tuple[Input, ...]
    rows: tuple[DataRow, ...]
    assumptions: tuple[str, ...]


def _assumption(name: str) -> tuple[float, Input, DataRow]:
    for row in read_table("estimate_assumptions"):
        if row["name"] == name:
            value = float(row["value"])
            return (
                value,
                Input(name, value, row["unit"], row["source"], row["year"], "estimated"),
                data_row("estimate_assumptions", name, row),
            )
    raise GreentuneError(f"estimate_assumptions.csv lacks {name!r}; reinstall greentune")


def estimate_energy(
    hardware: str,
    *,
    count: int = 1,
    hours: float | None = None,
    flops: float | None = None,
    params: float | None = None,
    tokens: float | None = None,
    epochs: float = 1.0,
    mfu: float | None = None,
    precision: str = "fp16",
    host: HostLoad | None = None,
) -> EnergyEstimate:
    """Estimate a job's IT energy from exactly one of: `hours`, `flops`, or `params` with `tokens`.

    `host` adds CPU cores and memory (Green Algorithms) to the devices' power."""
    device = lookup_hardware(hardware)
    if not isinstance(count, int) or count < 1:
        raise GreentuneError(f"count must be a whole number ≥ 1, got {count!r}")
    modes = [
        name
        for name, given in (
            ("--hours", hours is not None),
            ("--flops", flops is not None),
            ("--params/--tokens", params is not None or tokens is not None),
        )
        if given
    ]
    if len(modes) != 1:
        raise GreentuneError(
            "give exactly one of --hours, --flops, or --params with --tokens"
            + (f" (got {' and '.join(modes)})" if modes else "")
        )
    if device.power_w is None:
        raise GreentuneError(
            f"{device.name} has no published power figure; pick a device (GPU, TPU or CPU), not a chassis"
        )
    inputs = [
        Input(f"power of {device.name}", device.power_w, "W", device.source, device.year, "estimated"),
        Input("devices", count, "devices", "given by the user", "", "estimated"),
    ]
    rows = [device.data_row()]
    assumptions = [f"each {device.name} draws {device.power_w:g} W (its TDP or published power) for the whole job"]

    if hours is not None:
        duration_s = require_positive("hours", hours, "h") * 3600.0
        method, total_flops = "hours", None
        inputs.append(Input("hours", hours, "h", "given by the user", "", "estimated"))
    else:
        if flops is not None:
            total_flops = require_positive("FLOPs", flops, "FLOPs")
            method, mfu_name = "flops", "mfu_flops"
            inputs.append(Input("FLOPs", total_flops, "FLOPs", "given by the user", "", "estimated"))
        else:
            if params is None or tokens is None:
                raise GreentuneError("give both --params and --tokens (and optionally --epochs)")
            n = require_positive("parameters", params, "")
            d = require_positive("tokens", tokens, "")
            e = require_positive("epochs", epochs, "")
            per_token, per_token_input, per_token_row = _assumption("training_flops_per_param_token")
            total_flops = per_token * n * d * e
            method, mfu_name = "params_tokens", "mfu_params_tokens"
            inputs += [
                Input("parameters N", n, "", "given by the user", "", "estimated"),
                Input("tokens D per epoch", d, "", "given by the user", "", "estimated"),
                Input("epochs", e, "", "given by the user", "", "estimated"),
                per_token_input,
            ]
            rows.append(per_token_row)
            assumptions.append(f"training FLOPs = {per_token:g} × N × D × epochs = {total_flops:.4g}")
        if precision not in PRECISIONS:
            raise GreentuneError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        peak = device.peak(precision)
        if peak is None:
            listed = ", ".join(device.peak_tflops) or "none"
            raise GreentuneError(
                f"{device.name} has no published {precision} peak (listed: {listed}); pass --precision"
            )
        used_precision, peak_tflops = peak
        inputs.append(
            Input(
                f"peak {used_precision} throughput of {device.name}",
                peak_tflops,
                "TFLOPS",
                device.source,
                device.year,
                "estimated",
            )
        )
        if mfu is None:
            utilisation, mfu_input, mfu_row = _assumption(mfu_name)
            inputs.append(mfu_input)
            rows.append(mfu_row)
            assumptions.append(f"model-FLOPs utilisation {utilisation:g} (default; pass --mfu): {mfu_input.source}")
        else:
            utilisation = require_positive("MFU", mfu, "")
            if utilisation > 1:
                raise GreentuneError(f"MFU is a fraction of peak throughput, at most 1; got {utilisation:g}")
            inputs.append(
                Input("model-FLOPs utilisation", utilisation, "fraction of peak", "given by the user", "", "estimated")
            )
        duration_s = total_flops / (peak_tflops * 1e12 * count * utilisation)

    power_w = device.power_w * count
    if host is not None:
        power_w = _host_power_w(host, device, power_w, inputs, rows, assumptions)
    energy_kwh = power_w * duration_s / 3.6e6
    return EnergyEstimate(
        energy_kwh=energy_kwh,
        duration_s=duration_s,
        method=method,
        hardware=device,
        count=count,
        flops=total_flops,
        inputs=tuple(inputs),
        rows=tuple(rows),
        assumptions=tuple(assumptions),
    )


def _host_power_w(
    host: HostLoad, device: Hardware, devices_w: float, inputs: list[Input], rows: list[DataRow], assumptions: list[str]
) -> float:
    """The devices' power plus the host's cores and memory; the cores replace the package of a CPU device."""
    power_w = devices_w
    if host.cpu_cores is not None:
        if not isinstance(host.cpu_cores, int) or host.cpu_cores < 1:
            raise GreentuneError(f"CPU cores must be a whole number ≥ 1, got {host.cpu_cores!r}")
        if host.cpu is None and device.kind != "cpu":
            raise GreentuneError(f"{device.name} is not a CPU; name the host CPU for --cpu-cores with --cpu MODEL")
        cpu = lookup_hardware(host.cpu) if host.cpu is not None else device
        if cpu.kind != "cpu" or cpu.power_w is None or cpu.cores is None:
            raise GreentuneError(f"{cpu.name} has no published TDP and core count; pick a CPU row of cpu_tdp.csv")
        usage = require_positive("CPU usage", host.cpu_usage, "")
        if usage > 1:
            raise GreentuneError(f"CPU usage is a fraction of the cores' TDP, at most 1; got {usage:g}")
        per_core_w = cpu.power_w / cpu.cores
        cores_w = host.cpu_cores * per_core_w * usage
        if cpu is device:
            power_w = cores_w
            assumptions[0] = (
                f"{host.cpu_cores} of the {cpu.cores} cores of {cpu.name} draw {per_core_w:g} W each × usage {usage:g}"
            )
        else:
            power_w += cores_w
            assumptions.append(f"{host.cpu_cores} cores of {cpu.name} draw {per_core_w:g} W each × usage {usage:g}")
            rows.append(cpu.data_row())
        inputs += [
            Input(
                f"TDP per core of {cpu.name}",
                per_core_w,
                "W",
                f"{cpu.power_w:g} W ÷ {cpu.cores} cores: {cpu.source}",
                cpu.year,
                "estimated",
            ),
            Input("CPU cores", host.cpu_cores, "cores", "given by the user", "", "estimated"),
            Input(
                "CPU usage",
                usage,
                "fraction of TDP",
                "given by the user" if usage != 1.0 else "default: fully used",
                "",
                "estimated",
            ),
        ]
    if host.memory_gb is not None:
        memory_gb = require_positive("memory", host.memory_gb, "GB")
        row = read_table("ram_power")[0]
        per_gb_w = float(row["power_w_per_gb"])
        power_w += memory_gb * per_gb_w
        inputs += [
            Input("memory", memory_gb, "GB", "given by the user", "", "estimated"),
            Input("memory power", per_gb_w, "W/GB", row["source"], row["year"], "estimated"),
        ]
        rows.append(data_row("ram_power", row["name"], row))
        assumptions.append(f"{memory_gb:g} GB of memory draw {per_gb_w:g} W/GB")
    return power_w
