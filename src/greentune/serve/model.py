"""What `greentune serve MODEL` serves: a ledger run's saved model, a local folder, a Hub name or the built-in.

A run name found in the ledger serves the model saved in that run's artifact
folder (``<artifact_dir>/model/``, a transformers folder with config.json) with
the run's generation settings as defaults. The fine-tuning runner does not
save the weights there today, so such a run is refused with a one-line error
that says what to serve instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.finetune.spec import BUILTIN_MODEL

SAVED_MODEL_DIR = "model"


@dataclass(frozen=True)
class ServedModel:
    """The model to load, its label for records, and generation defaults from its run (None: none known).

    Attributes:
        source: a name or folder `greentune.infer.load_summarizer` loads.
        label: the model's name in records (the run name for a ledger run).
        run_name: the fine-tuning run it came from, when any.
        num_beams: the run's beam count.
        max_new_tokens: the run's generation length.
    """

    source: str
    label: str
    run_name: str | None = None
    num_beams: int | None = None
    max_new_tokens: int | None = None


def resolve_served_model(name: str, tracking_uri: str | None) -> ServedModel:
    """The built-in or a folder as given; else a run of that name in the ledger; else a Hub name."""
    if not name.strip():
        raise GreentuneError("MODEL is empty; give a run name, a folder, a Hub name or minilm-bert2bert")
    if name == BUILTIN_MODEL or Path(name).is_dir():
        return ServedModel(source=name, label=name)
    from greentune.ledger import read_runs

    runs = [record for record in read_runs(tracking_uri=tracking_uri) if name in (record.run_name, record.run_id)]
    if not runs:
        return ServedModel(source=name, label=name)  # a Hub name: transformers says clearly if it is not one
    record = runs[-1]
    folder = Path(record.artifact_dir or "") / SAVED_MODEL_DIR
    if not record.artifact_dir or not (folder / "config.json").is_file():
        raise GreentuneError(
            f"run '{record.run_name}' has no saved model (no {folder}/config.json; fine-tuning runs do not save "
            f"weights yet); serve a model folder, a Hub name or {BUILTIN_MODEL}"
        )
    generate = record.spec.get("generate", {})
    return ServedModel(
        source=str(folder),
        label=record.run_name,
        run_name=record.run_name,
        num_beams=generate.get("num_beams"),
        max_new_tokens=generate.get("max_new_tokens"),
    )
