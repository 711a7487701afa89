"""Resolve a model name: the built-in `minilm-bert2bert`, a local folder, a ledger run's saved model, or a Hub name.

A ledger run (its id or its name; the newest run of that name) points at its
saved model through the record's `artifact_dir`: the folder `<artifact_dir>/model`
(a `save_pretrained` folder with the tokenizer). Names that are none of these
are passed on as Hub names. Loading itself stays in `greentune.finetune.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from greentune.errors import GreentuneError
from greentune.finetune.spec import BUILTIN_MODEL, missing_model_folder

if TYPE_CHECKING:
    from greentune.ledger import RunRecord

SAVED_MODEL_DIR = "model"


class ModelSourceKind(StrEnum):
    """Where a resolved model comes from."""

    BUILTIN = "builtin"
    FOLDER = "folder"
    LEDGER_RUN = "ledger-run"
    HUB = "hub"


@dataclass(frozen=True)
class ResolvedModel:
    """A model name and what to load: `location` is the built-in name, a folder path or a Hub name; `run`, the
    ledger run whose saved model it is."""

    name: str
    location: str
    kind: ModelSourceKind
    run: RunRecord | None = None


def resolve_model(name: str, tracking_uri: str | None = None) -> ResolvedModel:
    """Resolve `name`; a ledger run without a saved model is an error that says what to pass instead."""
    if not name.strip():
        raise GreentuneError("the model name is empty; give minilm-bert2bert, a folder, a ledger run or a Hub name")
    if name == BUILTIN_MODEL:
        return ResolvedModel(name, name, ModelSourceKind.BUILTIN)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise GreentuneError(f"folder '{name}' holds no config.json; give a folder written by save_pretrained")
        return ResolvedModel(name, str(path.resolve()), ModelSourceKind.FOLDER)
    if path.exists():
        raise GreentuneError(f"'{name}' is a file; give a model folder, a ledger run, a Hub name or minilm-bert2bert")
    from_run = _ledger_run(name, tracking_uri)
    if from_run is not None:
        return from_run
    problem = missing_model_folder(name)
    if problem is not None:
        raise GreentuneError(problem)
    return ResolvedModel(name, name, ModelSourceKind.HUB)


def _ledger_run(name: str, tracking_uri: str | None) -> ResolvedModel | None:
    from greentune.ledger import read_runs

    try:
        records = read_runs(tracking_uri)
    except GreentuneError:
        return None  # an unreachable ledger does not stop a Hub name; a run name then fails to load as one
    matches = [record for record in records if name in (record.run_id, record.run_name)]
    if not matches:
        return None
    record = matches[-1]  # read_runs is oldest first
    if record.artifact_dir is None:
        raise GreentuneError(f"ledger run '{name}' has no artifact folder; pass a model folder instead")
    saved = Path(record.artifact_dir) / SAVED_MODEL_DIR
    if not (saved / "config.json").is_file():
        raise GreentuneError(
            f"ledger run '{name}' has no saved model in {saved} (fine-tuning runs do not save weights there yet); "
            "pass a model folder, a Hub name or minilm-bert2bert"
        )
    return ResolvedModel(name, str(saved), ModelSourceKind.LEDGER_RUN, run=record)
