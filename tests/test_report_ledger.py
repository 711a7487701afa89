"""`greentune report` and `greentune card` on a ledger filled by the real runner with tiny models.

One SQLite ledger for the session: a baseline, a freeze-embeddings run and a
run that fails while loading its data (FAILED, no ROUGE). The HTML page is
opened in Debian's headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from browser import chromium_available, open_page
from greentune.cli.app import app
from greentune.ledger import RunRecord, read_runs
from greentune.report import write_report
from tiny_models import run_tiny, tiny_tracking_uri

GREENTUNE = str(Path(sys.executable).parent / "greentune")
MAX_PAGE_BYTES = 6_000_000  # plotly.js inline is ~4.8 MB; the rest must stay small
runner = CliRunner()


@pytest.fixture(scope="session")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[RunRecord]]:
    """The tracking URI and the runs read back from it."""
    root = tmp_path_factory.mktemp("report-ledger")
    run_tiny(root, **{"ledger.run_name": "baseline"})
    run_tiny(root, **{"ledger.run_name": "freeze-embeddings", "strategies.freeze": "embeddings"})
    with pytest.raises(Exception, match="not found"):
        run_tiny(root, **{"ledger.run_name": "broken", "data.name": str(root / "missing.jsonl")})
    uri = tiny_tracking_uri(root)
    return uri, read_runs(uri)


def report(uri: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["report", "--tracking-uri", uri, *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_ledger_holds_the_three_real_runs(ledger) -> None:
    _, records = ledger
    assert [(r.run_name, r.status) for r in records] == [
        ("baseline", "FINISHED"),
        ("freeze-embeddings", "FINISHED"),
        ("broken", "FAILED"),
    ]
    assert records[0].rouge and not records[2].rouge


@pytest.mark.slow
@pytest.mark.skipif(
    not chromium_available(), reason="/usr/bin/chromium absent: `make test` installs chromium + chromium-driver as root"
)
def test_html_report_renders_in_headless_chromium(ledger, tmp_path: Path) -> None:
    uri, records = ledger
    out = tmp_path / "report.html"
    code, stdout, _ = report(uri, "--out", str(out))
    assert code == 0 and "report written to" in stdout
    html = out.read_text()
    assert len(html.encode()) < MAX_PAGE_BYTES
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), "the page must not load anything"

    page = open_page(out, table_ids=("runs", "deltas", "regions"))
    assert page.console_errors == []
    assert page.table_rows["runs"] == len(records) == 3
    assert page.table_rows["deltas"] == 1  # freeze-embeddings; the failed run has no ROUGE to compare
    assert page.table_rows["regions"] >= 2
    names = [plot["name"] for plot in page.plots]
    for expected in ("pareto-emissions", "phase-energy", "learning-curves", "regions"):
        assert expected in names
    assert names.count("timeline") >= 2  # the failed run may stop before its second meter sample
    for plot in page.plots:
        assert plot["width"] > 0 and plot["height"] > 0 and plot["traces"] > 0, plot
        assert plot["width"] <= plot["figure_width"], plot  # drawn inside its frame, not cut off


@pytest.mark.slow
def test_markdown_and_json_reports(ledger) -> None:
    uri, records = ledger
    code, markdown, notes = report(uri, "--format", "md")
    assert code == 0
    assert "## Recommendation" in markdown
    # the verdict the recommendation rule gives these two measured runs (ROUGE tolerance 1 point)
    base, frozen = (next(r for r in records if r.run_name == name) for name in ("baseline", "freeze-embeddings"))
    saves = frozen.emissions_gco2eq < base.emissions_gco2eq
    rouge1_change = frozen.rouge["rouge1"] - base.rouge["rouge1"]
    if saves and rouge1_change >= -1.0:
        assert "Keep freeze-embeddings" in markdown
    elif saves:
        assert f"but loses {-rouge1_change:.1f} ROUGE-1 points" in markdown
    elif rouge1_change > 1.0:
        assert "worth it where quality matters more than footprint" in markdown
    else:
        assert "Drop freeze-embeddings" in markdown
    runs_section = markdown[markdown.index("## Runs") : markdown.index("## Against the baseline")]
    rows = [line for line in runs_section.splitlines() if line.startswith("| ")]
    table = [line for line in rows if "FINISHED" in line or "FAILED" in line]
    assert len(table) == 3
    assert "'broken' (FAILED) has no ROUGE" in notes

    code, text, _ = report(uri, "--format", "json")
    data = json.loads(text)
    assert data["baseline_run_name"] == "baseline"
    assert [row["run_name"] for row in data["runs"]] == ["baseline", "freeze-embeddings", "broken"]
    freeze = next(d for d in data["deltas"] if d["run_name"] == "freeze-embeddings")
    baseline, frozen = records[0], records[1]
    assert freeze["energy_pct"] == pytest.approx((frozen.energy_kwh - baseline.energy_kwh) / baseline.energy_kwh * 100)
    assert data["whatif"]["cleanest"][0]["emissions_gco2eq"] < data["whatif"]["dirtiest"][0]["emissions_gco2eq"]
    assert data["equivalents"] and all(e["source"] and e["year"] for e in data["equivalents"])


@pytest.mark.slow
def test_bad_input_is_explained_and_what_exists_still_renders(ledger, tmp_path: Path) -> None:
    uri, _ = ledger
    code, _, notes = report(uri, "--baseline", "nope", "--out", str(tmp_path / "a.html"))
    assert code == 0 and "Baseline 'nope' is not among the reported runs" in notes
    assert (tmp_path / "a.html").stat().st_size > 0

    code, text, notes = report(uri, "--runs", "lora-*", "--format", "json")
    assert code == 0 and json.loads(text)["runs"] == []
    assert "No run matches --runs 'lora-*'; runs in the ledger: baseline, broken, freeze-embeddings." in notes

    empty = f"sqlite:///{tmp_path / 'empty' / 'mlflow.db'}"
    code, text, notes = report(empty, "--format", "md")
    assert code == 0 and "No runs in the ledger" in notes and "# greentune report" in text
    code, text, _ = report(empty, "--format", "MD")  # as `--out report.MD` is: the case does not matter
    assert code == 0 and text.startswith("# greentune report\n\nGenerated ")


@pytest.mark.parametrize("tolerance", ["nan", "-1"])
def test_a_negative_or_nan_rouge_tolerance_is_refused_before_the_ledger_is_read(tmp_path: Path, tolerance: str) -> None:
    # NaN made every saving strategy a "trade-off that loses more than the nan-point tolerance"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = subprocess.run(
        [GREENTUNE, "report", "--tracking-uri", uri, "--rouge-tolerance", tolerance, "--format", "md"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: Invalid value for '--rouge-tolerance': Input should be greater than or equal to 0 "
        "(see 'greentune report --help')\n"
    )


@pytest.mark.slow
def test_write_report_api_as_the_demo_calls_it(ledger, tmp_path: Path) -> None:
    _, records = ledger
    path = write_report(records, tmp_path / "out" / "report.html")
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text().count("data-run-id=") == len(records)
    markdown = write_report(records[:2], tmp_path / "report.md", baseline="freeze-embeddings", fmt="md").read_text()
    assert "## Against the baseline: freeze-embeddings" in markdown


@pytest.mark.slow
def test_unwritable_out_is_one_line_and_exit_2(ledger) -> None:
    uri, _ = ledger
    result = subprocess.run(
        [GREENTUNE, "report", "--tracking-uri", uri, "--runs", "baseline", "--out", "/proc/no-such-dir/report.html"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: cannot write /proc/no-such-dir/report.html: No such file or directory; choose another --out"
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_report_to_a_pipe_writes_through_it(ledger, tmp_path: Path) -> None:
    uri, _ = ledger
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = subprocess.Popen(["cat", str(pipe)], stdout=subprocess.PIPE, text=True)
    try:
        code, _, _ = report(uri, "--format", "md", "--out", str(pipe))
        text = reader.communicate(timeout=60)[0]
    finally:
        reader.kill()
    assert code == 0 and "# greentune report" in text
    assert stat.S_ISFIFO(
        pipe.stat().st_mode
    )  # written through, not replaced by a file (as root: /dev/stdout, /dev/null)


@pytest.mark.slow
def test_card_round_trips_through_model_card_with_grams(ledger, tmp_path: Path) -> None:
    uri, records = ledger
    baseline = records[0]
    out = tmp_path / "README.md"
    result = runner.invoke(app, ["card", "baseline", "--tracking-uri", uri, "--out", str(out)])
    assert result.exit_code == 0, result.output

    card = ModelCard.load(out)
    emissions = card.data.co2_eq_emissions
    assert emissions["emissions"] == pytest.approx(baseline.emissions_gco2eq, rel=1e-5)
    grams = baseline.energy_kwh * baseline.pue * baseline.intensity_gco2eq_per_kwh
    assert emissions["emissions"] == pytest.approx(grams, rel=0.01)  # grams, not kg
    assert emissions["hardware_used"] == baseline.hardware
    assert emissions["geographical_location"] == "DE"
    assert emissions["training_type"] == "fine-tuning"
    assert f"{baseline.energy_source} energy × PUE" in emissions["source"]  # measured or estimated: the host decides
    assert "## Training footprint" in card.text and baseline.run_id in card.text
    assert ModelCard(str(card)).data.to_dict() == card.data.to_dict()


@pytest.mark.slow
def test_card_into_a_readme_without_metadata_adds_it_without_a_warning(ledger, tmp_path: Path) -> None:
    uri, _ = ledger
    out = tmp_path / "README.md"
    out.write_text("# My summarizer\n\nNo metadata block yet.\n")
    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", "card", "baseline"]
    result = subprocess.run([*command, "--tracking-uri", uri, "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""  # huggingface_hub warned "metadata block was not found"
    card = ModelCard.load(out)
    assert card.text.startswith("# My summarizer") and card.data.co2_eq_emissions is not None


def test_card_merges_into_an_existing_card(ledger, tmp_path: Path) -> None:
    uri, records = ledger
    out = tmp_path / "README.md"
    out.write_text("---\nlicense: mit\nlanguage: en\n---\n\n# My summarizer\n\nTrained with care.\n")
    for run in ("baseline", records[1].run_id):
        result = runner.invoke(app, ["card", run, "--tracking-uri", uri, "--out", str(out)])
        assert result.exit_code == 0, result.output
    card = ModelCard.load(out)
    assert card.data.license == "mit" and card.data.language == "en"
    assert card.text.startswith("\n# My summarizer\n\nTrained with care.")
    assert card.text.count("## Training footprint") == 1
    assert records[1].run_id in card.text and records[0].run_id not in card.text
    assert card.data.co2_eq_emissions["emissions"] == pytest.approx(records[1].emissions_gco2eq, rel=1e-5)


@pytest.mark.slow
def test_card_for_an_unknown_run_names_the_closest(ledger) -> None:
    uri, _ = ledger
    result = runner.invoke(app, ["card", "basline", "--tracking-uri", uri])
    assert result.exit_code != 0
    assert "no run with id or name 'basline'; closest: baseline" in str(result.exception)


@pytest.mark.slow
def test_card_into_an_unreadable_card_or_an_empty_experiment_is_one_line(ledger, tmp_path: Path) -> None:
    uri, _ = ledger
    broken = tmp_path / "README.md"
    broken.write_text("---\n- metadata that is a list\n---\n# My summarizer\n")
    for args, message in [
        (["--out", str(broken)], f"error: cannot update the model card {broken}"),
        (["--experiment", "nope", "--out", str(tmp_path / "new.md")], "error: no runs in experiment 'nope'"),
    ]:
        result = subprocess.run(
            [GREENTUNE, "card", "baseline", "--tracking-uri", uri, *args], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2
        assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert broken.read_text().startswith("---\n- metadata that is a list") and not (tmp_path / "new.md").exists()
