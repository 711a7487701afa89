"""docs/guide.ipynb runs top to bottom: `make test` fails when any cell fails (nbclient, no Jupyter server)."""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide.ipynb"


def test_guide_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(GUIDE, as_version=4)
    src = str(Path(__file__).resolve().parent.parent / "src")
    # the kernel imports this checkout's greentune, and finds the same Python's `greentune` tools
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("PATH", os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))))
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the failing cell's traceback, when a cell fails
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "runs, " in outputs and "gCO2eq per fine-tuned model" in outputs
    assert "![greentune: " in outputs
