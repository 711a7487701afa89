"""greentune.ledger: the only code that talks to MLflow (imported lazily)."""

from greentune.ledger.record import ComponentEnergy, PhaseFootprint, RunRecord

__all__ = ["ComponentEnergy", "PhaseFootprint", "RunRecord"]
