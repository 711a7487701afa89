"""The choices of a sweep spec, as enums (stdlib only: the CLI imports them at start-up)."""

from __future__ import annotations

from enum import StrEnum


class SearchAlgorithm(StrEnum):
    """How trial configurations are chosen."""

    RANDOM = "random"
    GRID = "grid"
    OPTUNA = "optuna"  # Optuna's TPE


class SchedulerKind(StrEnum):
    """What stops or reshapes trials while they run."""

    NONE = "none"
    ASHA = "asha"
    PBT = "pbt"


class Metric(StrEnum):
    """The validation metric reported after every evaluation; ROUGE-1 is maximised, eval loss minimised."""

    ROUGE1 = "rouge1"
    EVAL_LOSS = "eval_loss"

    @property
    def mode(self) -> str:
        """Ray Tune's mode for this metric."""
        return "max" if self is Metric.ROUGE1 else "min"
