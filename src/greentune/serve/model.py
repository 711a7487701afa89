"""What `greentune serve MODEL` serves: a ledger run's saved model, a local folder, a Hub name or the built-in.

The name is resolved as every command resolves one (`greentune.models`); a
ledger run's saved model (``<artifact_dir>/model/``) is served with the run's
generation settings as defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from greentune.models import resolve_model


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
    """The model `greentune.models.resolve_model` finds; a ledger run's generation settings are the defaults."""
    resolved = resolve_model(name, tracking_uri)
    if resolved.run is None:
        return ServedModel(source=resolved.location, label=name)
    run = resolved.run
    generate = run.spec.get("generate", {})
    return ServedModel(
        source=resolved.location,
        label=run.run_name,
        run_name=run.run_name,
        num_beams=generate.get("num_beams"),
        max_new_tokens=generate.get("max_new_tokens"),
    )
