"""What the report reads from one `RunRecord`: ROUGE points, energy by component and by phase.

The runner stores ROUGE under rouge-score's keys (`rouge1`, `rouge2`, `rougeL`,
`rougeLsum`) and components under names such as `gpu:0`, `cpu:package-0` or
`ram`; the report groups them by device kind.
"""

from __future__ import annotations

from greentune.ledger import RunRecord

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")
ROUGE_LABELS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
PER_EPOCH_PREFIX = "epoch"


def rouge_points(record: RunRecord, key: str) -> float | None:
    """Validation ROUGE `key` in points (0-100), or None when the run has none."""
    value = record.rouge.get(key)
    return None if value is None else float(value)


def has_rouge(record: RunRecord) -> bool:
    """True when the run produced a validation ROUGE-1."""
    return rouge_points(record, "rouge1") is not None


def component_kind(name: str) -> str:
    """'gpu:0' → 'gpu', 'cpu:package-0' → 'cpu', 'ram' → 'ram'."""
    return name.split(":", 1)[0].lower()


def energy_by_component_kwh(record: RunRecord) -> dict[str, float]:
    """Energy per device kind (gpu, cpu, ram, …), summed over devices."""
    totals: dict[str, float] = {}
    for component in record.components:
        kind = component_kind(component.name)
        totals[kind] = totals.get(kind, 0.0) + component.energy_kwh
    return totals


def component_sources(record: RunRecord) -> dict[str, str]:
    """'measured' or 'estimated' per device kind; 'estimated' when any device of that kind was."""
    sources: dict[str, str] = {}
    for component in record.components:
        kind = component_kind(component.name)
        if sources.get(kind) != "estimated":
            sources[kind] = component.source
    return sources


def energy_by_phase_kwh(record: RunRecord) -> dict[str, float]:
    """Energy per top-level phase (train, eval-loss, generate, test); per-epoch windows left out.

    Per-epoch windows overlap the train phase, so adding them would count energy twice.
    """
    totals: dict[str, float] = {}
    for phase in record.phases:
        if phase.name.startswith(PER_EPOCH_PREFIX):
            continue
        totals[phase.name] = totals.get(phase.name, 0.0) + phase.energy_kwh
    return totals


def strategy_summary(record: RunRecord, baseline: RunRecord | None) -> str:
    """The runner's strategy label (e.g. 'freeze-embeddings+early-stop') when it recorded one,
    else the switches where this run differs from the baseline, e.g. 'freeze=embeddings'."""
    label = record.strategies.get("label")
    if isinstance(label, str):
        return label
    if baseline is not None and record.run_id == baseline.run_id:
        return "baseline"
    reference = flatten(baseline.strategies) if baseline is not None else {}
    changed = [f"{key}={value}" for key, value in flatten(record.strategies).items() if reference.get(key) != value]
    return ", ".join(changed) if changed else "same as baseline"


def flatten(values: dict, prefix: str = "") -> dict[str, object]:
    """{'a': {'b': 1}} → {'a.b': 1}."""
    flat: dict[str, object] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
