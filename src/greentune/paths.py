"""Where greentune writes, and the only way it deletes: the one home of "greentune-runs".

Every folder a job writes (a run's folder, its checkpoints, `measure`'s output)
sits under the *home* of its ledger: beside the SQLite file for a
``sqlite:///…/mlflow.db`` ledger, ``./greentune-runs`` for any other (an MLflow
server). User-given names become folder names only through `slug`, which
cannot climb out of its parent or nest. greentune deletes only a folder that
holds its marker file (written by `make_owned_dir`) and lies under the home:
never a path computed from user input without that check.

Standard library only: `greentune measure` imports this on its fast path.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from greentune.errors import GreentuneError

DEFAULT_HOME = Path("greentune-runs")
OWNED_MARKER = ".greentune-owned"
_SLUG_MAX_CHARS = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def home_for(tracking_uri: str | None) -> Path:
    """The folder beside the ledger where runs write: the SQLite file's folder, else ./greentune-runs."""
    if tracking_uri and tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent
    return DEFAULT_HOME.resolve()


def slug(name: str) -> str:
    """A folder name made from ``name``: letters, digits and ``._+=-`` only, no leading dot, at most 80 chars.

    ``../../victim`` becomes ``victim``, ``a/b`` becomes ``a-b``, a newline a dash; an empty result is ``run``.
    """
    cleaned = _UNSAFE.sub("-", name).strip(".-")[:_SLUG_MAX_CHARS].strip(".-")
    return cleaned or "run"


def checkpoint_dir(home: Path, experiment: str, run_name: str) -> Path:
    """Where a run's Trainer checkpoints go (and `--resume` finds them): `home/checkpoints/<experiment>/<run>`."""
    return home / "checkpoints" / slug(experiment) / slug(run_name)


def make_owned_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and mark it as greentune's, so that greentune may delete it later."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / OWNED_MARKER).write_text("created by greentune; it may delete this folder\n")
    except OSError as error:
        raise GreentuneError(
            f"cannot create the folder {path}: {error.strerror}; free space or choose a writable ledger location"
        ) from None
    return path


def remove_owned_dir(path: Path, home: Path) -> None:
    """Delete ``path`` only if it is greentune's: under ``home``, not a symlink, with the marker inside."""
    resolved = path.resolve()
    if not resolved.is_relative_to(home.resolve()) or resolved == home.resolve():
        raise GreentuneError(f"refusing to delete {path}: it is not inside {home}")
    if path.is_symlink() or not (path / OWNED_MARKER).is_file():
        raise GreentuneError(
            f"refusing to delete {path}: greentune did not create it (no {OWNED_MARKER} inside); move it away yourself"
        )
    shutil.rmtree(resolved)
