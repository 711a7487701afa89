"""Render a report in one format and write it to a file: the entry point for the CLI and the demo."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Literal

from greentune.errors import GreentuneError
from greentune.ledger import RunRecord
from greentune.report.build import Report, build_report
from greentune.report.recommend import DEFAULT_ROUGE_TOLERANCE_POINTS
from greentune.report.timeline import read_timeline

Format = Literal["html", "md", "json"]
FORMATS: tuple[Format, ...] = ("html", "md", "json")


def render(report: Report, records: list[RunRecord], fmt: Format) -> str:
    """`report` as an HTML page, Markdown or JSON; the HTML reads each run's meter log for its timeline."""
    if fmt == "json":
        return report.model_dump_json(indent=2) + "\n"
    from greentune.report.sweep import sweep_html, sweep_markdown

    if fmt == "md":
        from greentune.report.markdown import render_markdown

        return render_markdown(report) + sweep_markdown(records)
    from greentune.report.html import render_html

    timelines = {r.run_id: timeline for r in records if (timeline := read_timeline(r.artifact_dir)) is not None}
    page = render_html(report, timelines)
    end = page.rfind("</body>")
    return page[:end] + sweep_html(records) + page[end:] if end != -1 else page


def write_text(text: str, out_path: Path) -> Path:
    """Write `text` to `out_path` (creating its folder) through a temporary file renamed into place,
    so an interrupted write never leaves a half-written card or report; a device or pipe (/dev/stdout)
    is written to directly, never replaced. An unwritable path is a one-line GreentuneError."""
    partial = out_path.with_name(f".{out_path.name}.partial")
    try:
        if out_path.exists() and not out_path.is_file():
            out_path.write_text(text, encoding="utf-8")
            return out_path
        out_path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, out_path)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise GreentuneError(f"cannot write {out_path}: {error.strerror or error}; choose another --out") from None
    return out_path


def write_report(
    records: list[RunRecord],
    out_path: str | Path,
    baseline: str | None = None,
    fmt: Format = "html",
    notes: list[str] | None = None,
    rouge_tolerance_points: float = DEFAULT_ROUGE_TOLERANCE_POINTS,
) -> Path:
    """Compare `records` against `baseline` (run id or name; default: the run named 'baseline')
    and write the report to `out_path`. Returns the path written."""
    report = build_report(records, baseline, notes, rouge_tolerance_points)
    return write_text(render(report, records, fmt), Path(out_path))
