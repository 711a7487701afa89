"""`greentune regions` as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greentune.cli.app import app

GREENTUNE = str(Path(sys.executable).parent / "greentune")
runner = CliRunner()


def test_regions_json_acceptance() -> None:
    result = runner.invoke(app, ["regions", "--energy-kwh", "100", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    regions = out["regions"]
    assert len(regions) >= 50
    assert {r["provider"] for r in regions} == {"aws", "azure", "gcp"}
    assert all(r["source"] and r["year"] for r in regions)
    assert out["tradeoff"] is None


def test_regions_table_with_sku_shows_cost_and_tradeoff() -> None:
    result = runner.invoke(
        app,
        [
            "regions",
            "--energy-kwh",
            "100",
            "--sku",
            "p4d.24xlarge",
            "--hours",
            "10",
            "--offset-usd-per-t",
            "20",
            "--top",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "USD" in result.output
    assert "Trade-off:" in result.output and "buy offsets" in " ".join(result.output.split())


def test_regions_json_tradeoff_uses_the_offset_price() -> None:
    result = runner.invoke(
        app,
        [
            "regions",
            "--energy-kwh",
            "100",
            "--sku",
            "p4d.24xlarge",
            "--hours",
            "10",
            "--offset-usd-per-t",
            "5000",
            "--json",
        ],
    )
    out = json.loads(result.output)
    assert out["tradeoff"]["offset_usd_per_t"] == 5000
    assert "cleaner, dearer" in out["tradeoff"]["recommendation"]


def test_bad_regions_input() -> None:
    for args, message in [
        (["--energy-kwh", "0"], "energy"),
        (["--energy-kwh", "1", "--provider", "azur"], "closest: azure"),
        (["--energy-kwh", "1", "--sku", "p4d.24xlarge"], "--hours"),
        (["--energy-kwh", "1", "--top", "0"], "--top"),
        (["--energy-kwh", "1", "--count", "-1"], "--count"),
        (["--energy-kwh", "1e308", "--json"], "a result is not a finite number"),  # was `Infinity`: not JSON
        (["--energy-kwh", "1", "--pricing", "spot"], "--pricing spot prices a cloud SKU: pass --sku too"),
        (["--energy-kwh", "1", "--prices", "p.yaml"], "--prices prices a cloud SKU: pass --sku too"),
        (["--energy-kwh", "1", "--pricing", "bogus"], "'bogus' is not one of 'on_demand', 'spot', 'low_priority'"),
    ]:
        done = subprocess.run([GREENTUNE, "regions", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error:") and message in " ".join(done.stderr.split())


@pytest.mark.parametrize("value", [float("inf"), {"a": [float("-inf")]}, float("nan")])
def test_echo_json_refuses_what_json_cannot_hold(value: object) -> None:
    from greentune.cli.json_output import echo_json
    from greentune.errors import GreentuneError

    with pytest.raises(
        GreentuneError,
        match=r"^a result is not a finite number \(.*\); nothing printed",
    ):
        echo_json(value)
