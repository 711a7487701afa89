"""User-given names never become paths outside the ledger's home, and greentune deletes only its own folders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from greentune.cli.app import app
from greentune.errors import GreentuneError
from greentune.finetune.runner import _prepare_places
from greentune.finetune.spec import validate_spec
from greentune.paths import OWNED_MARKER, home_for, make_owned_dir, remove_owned_dir, slug
from tiny_models import tiny_spec_dict

STARTED = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../../../../victim", "victim"),
        ("a/b", "a-b"),
        ("..", "run"),
        ("", "run"),
        ("two\nlines", "two-lines"),
        ("C:\\Windows\\x", "C-Windows-x"),
        (".hidden", "hidden"),
        ("bart-large+lora-r8", "bart-large+lora-r8"),
        ("x" * 100, "x" * 80),
    ],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


def _tree(root: Path, skip: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and skip not in p.parents}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_traversal_run_name_changes_nothing_outside_the_ledger_folder(tmp_path: Path, monkeypatch) -> None:
    working = tmp_path / "a" / "b" / "cwd"
    working.mkdir(parents=True)
    for sentinel in (tmp_path / "a" / "victim", tmp_path / "a" / "b" / "victim", tmp_path / "victim"):
        sentinel.mkdir(parents=True, exist_ok=True)
        (sentinel / "user-file.txt").write_text("the user's data")
    spec = working / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(working, experiment="../../escape")))
    ledger = working / "ledger"
    before = _tree(tmp_path, ledger)
    monkeypatch.chdir(working)

    result = CliRunner().invoke(app, ["run", str(spec), "--set", "ledger.run_name=../../../../../victim"])

    assert result.exit_code == 0, result.output
    assert _tree(tmp_path, ledger) == before  # every sentinel file intact, nothing new outside the ledger folder
    (folder,) = (ledger / "runs").iterdir()
    assert folder.name.startswith("20") and folder.name[:-7].endswith("-victim")
    assert (ledger / "checkpoints" / "escape" / "victim" / OWNED_MARKER).is_file()


def test_a_separator_in_a_name_makes_no_nested_folders(tmp_path: Path) -> None:
    spec = validate_spec({**tiny_spec_dict(tmp_path), "ledger": {"experiment": "x/y", "run_name": "a/b"}})
    home = home_for(f"sqlite:///{tmp_path / 'ledger' / 'mlflow.db'}")
    places = _prepare_places(spec, home, "a/b", STARTED, resume=False)
    assert places.checkpoint_dir == home / "checkpoints" / "x-y" / "a-b"
    assert places.folder.parent == home / "runs" and places.folder.name.startswith("20261201T220000-a-b-")


def test_a_folder_greentune_did_not_make_is_never_deleted(tmp_path: Path) -> None:
    spec = validate_spec({**tiny_spec_dict(tmp_path), "ledger": {"experiment": "e", "run_name": "r"}})
    home = tmp_path / "ledger"
    theirs = home / "checkpoints" / "e" / "r"
    theirs.mkdir(parents=True)
    (theirs / "precious.bin").write_text("not greentune's")
    with pytest.raises(GreentuneError, match="greentune did not create it"):
        _prepare_places(spec, home, "r", STARTED, resume=False)
    assert (theirs / "precious.bin").read_text() == "not greentune's"


def test_remove_owned_dir_refuses_paths_outside_the_home_and_symlinks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outside = make_owned_dir(tmp_path / "outside")  # marked, but not under the home
    with pytest.raises(GreentuneError, match="it is not inside"):
        remove_owned_dir(outside, home)
    link = home / "link"
    home.mkdir()
    link.symlink_to(outside)
    with pytest.raises(GreentuneError, match="it is not inside"):  # the link resolves outside
        remove_owned_dir(link, home)
    assert outside.is_dir()
    mine = make_owned_dir(home / "checkpoints" / "mine")
    remove_owned_dir(mine, home)
    assert not mine.exists()
