"""`greentune badge`: the SVG parses as XML and says the run's (or experiment's) kWh, gCO2eq and source."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greentune.cli.app import app
from greentune.ledger import ComponentEnergy, RunRecord, write_run

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"


def _record(name: str, energy_kwh: float, grams: float, source: str, embodied: float | None = None) -> RunRecord:
    return RunRecord(
        run_id="",
        run_name=name,
        experiment="papers",
        status="FINISHED",
        start_time="2026-11-01T10:00:00+00:00",
        model_name="minilm-bert2bert",
        dataset_name="aclsum",
        hardware="cpu: test x1",
        duration_s=60.0,
        energy_kwh=energy_kwh,
        components=[ComponentEnergy(name="cpu:package-0", energy_kwh=energy_kwh, source=source)],
        location="DE",
        intensity_gco2eq_per_kwh=400.0,
        pue=1.0,
        emissions_gco2eq=grams,
        embodied_gco2eq=embodied,
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'mlflow.db'}"
    write_run(_record("baseline", 0.0125, 5.0, "measured", embodied=0.5), tracking_uri=uri)
    write_run(_record("lora", 0.0025, 1.0, "estimated"), tracking_uri=uri)
    return uri


def _texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_run_badge(ledger: str, tmp_path: Path) -> None:
    out = tmp_path / "badge.svg"
    result = runner.invoke(app, ["badge", "baseline", "--tracking-uri", ledger, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _texts(out) == ["greentune", "0.0125 kWh · 5.50 gCO2eq · measured"]
    assert ET.parse(out).getroot().find(f"{SVG}rect[2]").get("fill") == "#2ea043"  # type: ignore[union-attr]
    assert result.output.strip() == f"![greentune: 0.0125 kWh · 5.50 gCO2eq · measured]({out.as_posix()})"


def test_a_path_with_spaces_and_parentheses_stays_one_markdown_link(ledger: str, tmp_path: Path) -> None:
    out = tmp_path / "docs (draft)" / "my badge.svg"
    result = runner.invoke(app, ["badge", "baseline", "--tracking-uri", ledger, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    link = f"{tmp_path.as_posix()}/docs%20%28draft%29/my%20badge.svg"  # unencoded, the link ended at "docs"
    assert result.output.strip() == f"![greentune: 0.0125 kWh · 5.50 gCO2eq · measured]({link})"


def test_experiment_badge_sums_its_runs_and_is_estimated_if_any_is(ledger: str, tmp_path: Path) -> None:
    out = tmp_path / "exp.svg"
    result = runner.invoke(app, ["badge", "--experiment", "papers", "--tracking-uri", ledger, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _texts(out)[1] == "0.0150 kWh · 6.50 gCO2eq · estimated"


def test_bad_input_is_one_line(ledger: str, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["badge", "--tracking-uri", ledger])
    assert "give a run (id or name) or --experiment NAME" in str(missing.exception)
    unknown = runner.invoke(app, ["badge", "baselin", "--tracking-uri", ledger, "--out", str(tmp_path / "b.svg")])
    assert "closest: baseline" in str(unknown.exception)
    suffix = runner.invoke(app, ["badge", "baseline", "--tracking-uri", ledger, "--out", str(tmp_path / "b.png")])
    assert "--out must end in .svg" in str(suffix.exception)
