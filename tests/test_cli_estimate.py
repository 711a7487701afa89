"""`greentune estimate` as a user runs it: the acceptance numbers, the table, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greentune.cli.app import app

GREENTUNE = str(Path(sys.executable).parent / "greentune")
runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["estimate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_carbontracker_gpt3_acceptance() -> None:
    out = run_json("--flops", "3.14e23", "--hardware", "V100S", "--pue", "1.125", "--intensity", "449.06")
    assert out["energy_kwh"] == pytest.approx(188_701.92, rel=1e-4)
    assert out["emissions_kg"] == pytest.approx(84_738.49, rel=1e-4)
    assert out["emissions_gco2eq"] == pytest.approx(84_738_490, rel=1e-4)
    car = next(e for e in out["equivalents"] if e["unit"] == "km")
    assert car["value"] == pytest.approx(703_808, abs=1)
    assert all(i["source"] for i in out["inputs"])
    assert out["source"] == "estimated"


def test_ml_co2_impact_acceptance() -> None:
    out = run_json("--hardware", "TPUv2", "--hours", "100", "--intensity", "300", "--pue", "1")
    assert out["energy_kwh"] == pytest.approx(22.1)
    assert out["emissions_kg"] == pytest.approx(6.63)


def test_seed_job_with_region_and_sku() -> None:
    out = run_json(
        "--hardware", "V100", "--count", "8", "--hours", "0.158", "--region", "azure:westus2", "--sku", "ND40rs_v2"
    )
    assert out["cost_usd"] == pytest.approx(0.158 * 22.03)
    assert out["location"] == "azure:westus2" and out["pue"] == pytest.approx(1.18)
    assert out["it_energy_kwh"] == pytest.approx(8 * 300 * 0.158 / 1000)


def test_params_tokens_labels_the_mfu_assumption() -> None:
    out = run_json("--params", "406e6", "--tokens", "2.5e6", "--epochs", "3", "--hardware", "H100")
    assert out["method"] == "params_tokens"
    assert any("utilisation" in a and "--mfu" in a for a in out["assumptions"])


def test_default_location_is_said() -> None:
    out = run_json("--hardware", "T4", "--hours", "1")
    assert out["default_location"] is True
    assert any("no location given" in note for note in out["notes"])
    table = runner.invoke(app, ["estimate", "--hardware", "T4", "--hours", "1"])
    assert table.exit_code == 0
    assert "no location given" in table.output and "km driven by car" in table.output


def test_embodied_adds_the_m_term() -> None:
    out = run_json("--hardware", "A100", "--count", "8", "--hours", "10", "--region", "FR", "--embodied")
    assert out["embodied_gco2eq"] > 0
    assert out["total_gco2eq"] == pytest.approx(out["emissions_gco2eq"] + out["embodied_gco2eq"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hardware", "NOPE", "--hours", "1"], "unknown hardware"),
        (["--hardware", "V10", "--hours", "1"], "closest: V100"),
        (["--hardware", "V100", "--hours", "1", "--region", "azure:westus9"], "closest"),
        (["--hardware", "V100", "--hours", "1", "--sku", "ND40rs_v3"], "ND40rs_v2"),
        (["--hardware", "V100", "--hours", "0"], "hours"),
        (["--hardware", "V100", "--hours", "-2"], "hours"),
        (["--hardware", "V100", "--hours", "nan"], "hours"),
        (["--hardware", "V100"], "exactly one"),
        (["--hardware", "A100", "--hours", "1", "--accelerators-per-server", "0"], "'--accelerators-per-server'"),
        (["--hardware", "A100", "--hours", "1", "--accelerators-per-server", "-1"], "'--accelerators-per-server'"),
        (["--hardware", "A100", "--hours", "1", "--prices", "p.yaml"], "--prices prices a cloud SKU: pass --sku too"),
        (["--hardware", "A100", "--hours", "1", "--pricing", "spot"], "--pricing spot prices a cloud SKU"),
        (["--hardware", "A100", "--hours", "1", "--pricing", "bogus"], "'bogus' is not one of 'on_demand', 'spot'"),
    ],
)
def test_bad_input_is_one_error_line(args: list[str], message: str) -> None:
    done = subprocess.run([GREENTUNE, "estimate", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error:")
    assert message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_acceptance_command_without_arguments_fails() -> None:
    done = subprocess.run([GREENTUNE, "estimate", "--hardware", "NOPE"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "unknown hardware 'NOPE'" in " ".join(done.stderr.split())


def test_a_bad_prices_file_is_one_error_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("prices: [\n  - {provider: azure\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    rows = tmp_path / "rows.yaml"
    rows.write_text("prices:\n  - 7\n")
    job = ["estimate", "--hardware", "V100", "--hours", "1", "--region", "azure:westus2", "--sku", "ND40rs_v2"]
    for env, args, message in [
        ({}, ["--prices", str(broken)], "cannot read prices file"),
        ({}, ["--prices", str(binary)], "cannot read prices file"),
        ({}, ["--prices", str(rows)], "must hold a 'prices:' list of rows"),
        ({}, ["--prices", str(tmp_path)], "no prices file at"),
        ({"GREENTUNE_PRICES": str(broken)}, [], "broken.yaml (from $GREENTUNE_PRICES)"),
    ]:
        done = subprocess.run(
            [GREENTUNE, *job, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert message in done.stderr
