"""greentune.models: what a model name given to a command points at (built-in, folder, ledger run, Hub)."""

from greentune.models.resolve import SAVED_MODEL_DIR, ModelSourceKind, ResolvedModel, resolve_model

__all__ = ["SAVED_MODEL_DIR", "ModelSourceKind", "ResolvedModel", "resolve_model"]
