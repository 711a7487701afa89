"""greentune.sweep: many fine-tuning specs as Ray Tune trials, each metered and recorded under one parent sweep run.

The package imports nothing heavy: `greentune.sweep.spec` (`load_sweep`, `SweepSpec`), `greentune.sweep.tune`
(`run_sweep`, `SweepRequest`; Ray) and `greentune.sweep.footprint` are imported where they are used.
"""

from greentune.sweep.kinds import Metric, SchedulerKind, SearchAlgorithm

__all__ = ["Metric", "SchedulerKind", "SearchAlgorithm"]
