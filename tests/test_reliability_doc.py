"""docs/RELIABILITY.md and the tests agree: every test it names exists, every reliability test is named."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def _named() -> set[tuple[str, str]]:
    return set(re.findall(r"`(tests/test_\w+\.py)::(test_\w+)`", DOC.read_text(encoding="utf-8")))


def test_every_test_the_fault_matrix_names_exists() -> None:
    named = _named()
    assert len(named) >= 30
    missing = sorted(f"{file}::{name}" for file, name in named if name not in _tests_in(ROOT / file))
    assert missing == []


def test_every_reliability_test_is_in_the_fault_matrix() -> None:
    named = _named()
    unlisted = sorted(
        f"{path.relative_to(ROOT)}::{name}"
        for path in (ROOT / "tests").glob("test_reliability_*.py")
        if path.name != "test_reliability_doc.py"
        for name in _tests_in(path)
        if (str(path.relative_to(ROOT)), name) not in named
    )
    assert unlisted == []
