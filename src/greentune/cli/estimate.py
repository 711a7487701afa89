"""`greentune estimate` — a job's energy, carbon and cost before it runs.

Three modes (exactly one): `--hours` (devices × power × time), `--flops`
(FLOPs ÷ peak throughput), or `--params` with `--tokens` (6·N·D FLOPs at an
assumed utilisation). `--cpu-cores` and `--memory-gb` add the host as Green
Algorithms counts it; `--embodied` adds the SCI M term with the host server's
share and the lifetime use of the published tables (overrides: `--server-kg`,
`--accelerators-per-server`, `--lifetime-use`). Prices can be overridden with `--prices FILE` or
$GREENTUNE_PRICES (format: greentune.carbon.prices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from greentune.carbon.prices import Pricing
from greentune.cli.json_output import echo_json
from greentune.errors import GreentuneError

if TYPE_CHECKING:
    from greentune.carbon.accounting import EmbodiedOverrides
    from greentune.carbon.estimate import HostLoad


def _result(
    hardware: str,
    count: int,
    hours: float | None,
    flops: float | None,
    params: float | None,
    tokens: float | None,
    epochs: float,
    mfu: float | None,
    precision: str,
    region: str | None,
    intensity: float | None,
    pue: float | None,
    sku: str | None,
    pricing: str,
    embodied: EmbodiedOverrides | None,
    host: HostLoad,
    prices: str | None,
) -> dict[str, Any]:
    from greentune.carbon import account, equivalents, estimate_energy, resolve_site

    energy = estimate_energy(
        hardware,
        count=count,
        hours=hours,
        flops=flops,
        params=params,
        tokens=tokens,
        epochs=epochs,
        mfu=mfu,
        precision=precision,
        host=host,
    )
    site = resolve_site(region, pue=pue, sku=sku, intensity_gco2eq_per_kwh=intensity, prices=prices)
    acct = account(
        energy.energy_kwh,
        energy.duration_s,
        site,
        energy_source="estimated",
        count=count,
        pricing=pricing,
        embodied_hardware=energy.hardware.name if embodied is not None else None,
        embodied_overrides=embodied,
    )
    inputs = [vars(i) for i in energy.inputs] + [vars(i) for i in acct.inputs if i.name not in ("energy", "duration")]
    return {
        "method": energy.method,
        "hardware": energy.hardware.name,
        "count": count,
        "duration_s": energy.duration_s,
        "it_energy_kwh": acct.energy_kwh,
        "energy_kwh": acct.grid_energy_kwh,
        "emissions_gco2eq": acct.emissions_gco2eq,
        "emissions_kg": acct.emissions_gco2eq / 1000.0,
        "embodied_gco2eq": acct.embodied_gco2eq,
        "total_gco2eq": acct.total_gco2eq,
        "cost_usd": acct.cost_usd,
        "location": acct.location,
        "location_name": acct.location_name,
        "default_location": acct.is_default_location,
        "intensity_gco2eq_per_kwh": acct.intensity_gco2eq_per_kwh,
        "pue": acct.pue,
        "source": "estimated",
        "assumptions": list(energy.assumptions),
        "notes": list(acct.notes),
        "inputs": inputs,
        "data_rows": [vars(r) for r in energy.rows + acct.rows],
        "equivalents": [vars(e) for e in equivalents(acct.total_gco2eq)],
    }


def _short(source: str, width: int = 48) -> str:
    """The citation's leading words (before its URL), cut to `width`; --json has the full text."""
    head = source.split("http")[0].rstrip(" ,;(")
    return head if len(head) <= width else head[: width - 1] + "…"


def _print_table(result: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"Estimate: {result['count']} × {result['hardware']} ({result['method']}), all figures estimated"
    )
    table.add_column("quantity")
    table.add_column("value", justify="right")
    hours = result["duration_s"] / 3600.0
    table.add_row("duration", f"{hours:,.4g} h")
    table.add_row("energy (devices)", f"{result['it_energy_kwh']:,.4f} kWh")
    table.add_row(f"energy from the grid (× PUE {result['pue']:g})", f"{result['energy_kwh']:,.4f} kWh")
    table.add_row(f"intensity ({result['location_name']})", f"{result['intensity_gco2eq_per_kwh']:,.2f} gCO2eq/kWh")
    table.add_row("operational emissions", f"{result['emissions_kg']:,.4f} kgCO2eq")
    if result["embodied_gco2eq"] is not None:
        table.add_row("embodied emissions (SCI M)", f"{result['embodied_gco2eq'] / 1000:,.4f} kgCO2eq")
    if result["cost_usd"] is not None:
        table.add_row("cost", f"${result['cost_usd']:,.2f}")
    console.print(table)
    equivalents = Table(title="That is as much as")
    equivalents.add_column("value", justify="right")
    equivalents.add_column("of")
    equivalents.add_column("source")
    for item in result["equivalents"]:
        equivalents.add_row(f"{item['value']:,.4g}", item["name"], f"{_short(item['source'])} ({item['year']})")
    console.print(equivalents)
    inputs = Table(title="Inputs")
    for column in ("input", "value", "unit", "source", "year"):
        inputs.add_column(column)
    for item in result["inputs"]:
        value = item["value"]
        shown = f"{value:,.6g}" if isinstance(value, float) else str(value)
        inputs.add_row(item["name"], shown, item["unit"], _short(str(item["source"])), str(item["year"]))
    console.print(inputs)
    for line in result["assumptions"]:
        console.print(f"[dim]assumed:[/dim] {line}")
    for line in result["notes"]:
        console.print(f"[yellow]note:[/yellow] {line}")
    console.print("[dim]--json prints every input with its full source[/dim]")


def require_sku_for_prices(sku: str | None, prices: str | None, pricing: Pricing) -> None:
    """--prices and --pricing only price a --sku: without one they would be ignored in silence."""
    if sku is None and (prices is not None or pricing is not Pricing.ON_DEMAND):
        given = "--prices" if prices is not None else f"--pricing {pricing}"
        raise GreentuneError(f"{given} prices a cloud SKU: pass --sku too (e.g. --sku ND40rs_v2)")


def register(app: typer.Typer) -> None:
    """Add `greentune estimate` to the app."""

    @app.command("estimate")
    def estimate(
        hardware: str = typer.Option(
            ..., "--hardware", help="Device: V100, V100S, A100, H100, TPUv2, … or a CPU from cpu_tdp.csv."
        ),
        count: int = typer.Option(1, "--count", help="Number of devices."),
        hours: float | None = typer.Option(None, "--hours", help="Mode 1: wall-clock hours on the devices."),
        flops: float | None = typer.Option(None, "--flops", help="Mode 2: total FLOPs of the job."),
        params: float | None = typer.Option(None, "--params", help="Mode 3: model parameters N (with --tokens)."),
        tokens: float | None = typer.Option(None, "--tokens", help="Mode 3: training tokens D per epoch."),
        epochs: float = typer.Option(1.0, "--epochs", help="Mode 3: epochs over the tokens."),
        mfu: float | None = typer.Option(
            None,
            "--mfu",
            help="Model-FLOPs utilisation (fraction of peak); default from data/estimate_assumptions.csv: 1 for --flops, 0.3 for --params.",
        ),
        precision: str = typer.Option(
            "fp16", "--precision", help="Peak throughput to use: fp32, tf32, fp16, bf16, fp8, int8."
        ),
        region: str | None = typer.Option(
            None,
            "--region",
            "--location",
            help="Country (DE), zone (US-CA) or cloud region (azure:westus2). Default: world average (said in the output).",
        ),
        intensity: float | None = typer.Option(
            None, "--intensity", help="Grid intensity in gCO2eq/kWh (replaces the region's figure)."
        ),
        pue: float | None = typer.Option(
            None, "--pue", help="Power usage effectiveness (default: the provider's, 1.0 outside clouds)."
        ),
        sku: str | None = typer.Option(None, "--sku", help="Cloud SKU to price (e.g. ND40rs_v2, p4d.24xlarge)."),
        pricing: Pricing = typer.Option(Pricing.ON_DEMAND, "--pricing", help="How the SKU's hours are bought."),
        embodied: bool = typer.Option(False, "--embodied", help="Add the embodied emissions (SCI M) of the hardware."),
        embodied_kg: float | None = typer.Option(
            None, "--embodied-kg", help="Embodied kgCO2eq per device (replaces the table; implies --embodied)."
        ),
        lifetime_years: float | None = typer.Option(
            None, "--lifetime-years", help="Expected hardware lifetime for --embodied."
        ),
        lifetime_use: float | None = typer.Option(
            None,
            "--lifetime-use",
            help="Share of the lifetime the hardware is in use, for --embodied (default: the table's, else 1).",
        ),
        server_kg: float | None = typer.Option(
            None,
            "--server-kg",
            help="Embodied kgCO2eq of the host server, shared by its accelerators (replaces the table; 0 leaves it out).",
        ),
        per_server: int | None = typer.Option(
            None, "--accelerators-per-server", min=1, help="Accelerators sharing one host server, for --server-kg."
        ),
        cpu_cores: int | None = typer.Option(
            None, "--cpu-cores", help="Host CPU cores, each at its per-core TDP (Green Algorithms)."
        ),
        cpu: str | None = typer.Option(
            None, "--cpu", help="Host CPU model for --cpu-cores (a cpu_tdp.csv row; default: --hardware if a CPU)."
        ),
        cpu_usage: float = typer.Option(1.0, "--cpu-usage", help="Core usage, a fraction of their TDP."),
        memory_gb: float | None = typer.Option(
            None, "--memory-gb", help="Memory in GB, at the published W/GB of data/ram_power.csv."
        ),
        prices: str | None = typer.Option(
            None,
            "--prices",
            help="YAML file of price rows that override/add to the shipped table (or $GREENTUNE_PRICES).",
        ),
        memory: bool = typer.Option(
            False, "--memory", help="Instead: will the model train at --batch-size on --hardware? (memory by component)"
        ),
        model: str | None = typer.Option(
            None, "--model", help="--memory: built-in (minilm-bert2bert), Hub name or folder of the model."
        ),
        batch_size: int = typer.Option(8, "--batch-size", help="--memory: batch size per device."),
        source_tokens: int = typer.Option(512, "--source-tokens", help="--memory: source length in tokens."),
        target_tokens: int = typer.Option(128, "--target-tokens", help="--memory: target length in tokens."),
        optimizer: str = typer.Option("adamw", "--optimizer", help="--memory: adamw or sgd (with momentum)."),
        trainable: float = typer.Option(
            1.0, "--trainable-fraction", help="--memory: share of parameters trained (LoRA: e.g. 0.01)."
        ),
        checkpointing: bool = typer.Option(
            False, "--gradient-checkpointing", help="--memory: keep only layer inputs for the backward pass."
        ),
        zero_stage: int = typer.Option(0, "--zero-stage", help="--memory: DeepSpeed ZeRO stage 0-3 over --count GPUs."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Estimate energy (kWh), emissions (gCO2eq) and cost of a job before running it (or its memory: --memory)."""
        if memory:
            from greentune.carbon.hardware import lookup_hardware
            from greentune.carbon.memory import MemoryRequest, Optimizer
            from greentune.cli.estimate_memory import NO_CONFIG_NOTE, memory_result, model_shape, print_memory

            if optimizer not in tuple(Optimizer):
                raise GreentuneError(f"--optimizer must be adamw or sgd, got {optimizer!r}")
            request = MemoryRequest(
                shape=model_shape(model, params),
                batch_size=batch_size,
                source_tokens=source_tokens,
                target_tokens=target_tokens,
                precision=precision,
                optimizer=Optimizer(optimizer),
                trainable_fraction=trainable,
                gradient_checkpointing=checkpointing,
                zero_stage=zero_stage,
                gpus=count,
            )
            found = memory_result(request, lookup_hardware(hardware), [NO_CONFIG_NOTE] if model is None else [])
            if as_json:
                echo_json(found)
            else:
                print_memory(found, Console())
            return
        require_sku_for_prices(sku, prices, pricing)
        from greentune.carbon.accounting import EmbodiedOverrides
        from greentune.carbon.estimate import HostLoad

        overrides = (embodied_kg, lifetime_years, lifetime_use, server_kg, per_server)
        wants_embodied = embodied or any(value is not None for value in overrides)
        result = _result(
            hardware,
            count,
            hours,
            flops,
            params,
            tokens,
            epochs,
            mfu,
            precision,
            region,
            intensity,
            pue,
            sku,
            pricing,
            EmbodiedOverrides(embodied_kg, lifetime_years, server_kg, per_server, lifetime_use)
            if wants_embodied
            else None,
            HostLoad(cpu_cores=cpu_cores, cpu=cpu, cpu_usage=cpu_usage, memory_gb=memory_gb),
            prices,
        )
        if as_json:
            echo_json(result)
            return
        _print_table(result, Console())
