"""`BudgetGate`: a sweep's running energy/carbon/money total against its limits (pure; the scheduler asks it).

Two questions, asked on the driver: after a trial reports, has the measured
total reached a limit (then running trials are stopped)? Before a trial starts,
would its projected cost pass a limit (then it is not launched)? The projection
of a whole trial is the mean, over trials that reported, of energy per epoch ×
the epochs they were given; a trial is always launched while nothing has
reported yet. The live total is the trials' reported energy; the sweep's idle
energy is only known, and added to the record, at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from greentune.ledger import SweepBudget


@dataclass(frozen=True)
class Cost:
    """Energy in kWh turned into grams and dollars (cost None without a price)."""

    energy_kwh: float
    emissions_gco2eq: float
    cost_usd: float | None


@dataclass(frozen=True)
class Limits:
    """Budget limits of a sweep; None: no limit on that quantity."""

    kwh: float | None = None
    gco2: float | None = None
    usd: float | None = None

    def any(self) -> bool:
        """True when at least one limit is set."""
        return any(value is not None for value in (self.kwh, self.gco2, self.usd))


@dataclass
class _TrialSpend:
    energy_kwh: float = 0.0  # over all the trial's segments
    duration_s: float = 0.0
    epoch: float = 0.0
    epochs_budget: float = 0.0
    done: bool = False
    segment: int = 1
    earlier_kwh: float = 0.0  # what its earlier segments (PBT) reported last
    earlier_s: float = 0.0


@dataclass
class BudgetGate:
    """Running totals; `account(kwh, duration_s)` prices energy as the trials' records do."""

    limits: Limits
    account: Callable[[float, float], Cost]
    trials: dict[str, _TrialSpend] = field(default_factory=dict)
    stopped: int = 0
    not_launched: int = 0

    def update(
        self, trial_id: str, energy_kwh: float, duration_s: float, epoch: float, epochs_budget: float, segment: int = 1
    ) -> None:
        """A trial's energy and time since its `segment` began, after an evaluation at `epoch` of `epochs_budget`.

        A PBT trial runs in segments (after each pause or exploit); each counts from zero, and a new segment's
        figures add to what the earlier ones reported last.
        """
        spend = self.trials.setdefault(trial_id, _TrialSpend())
        if segment != spend.segment:
            spend.segment, spend.earlier_kwh, spend.earlier_s = segment, spend.energy_kwh, spend.duration_s
        spend.energy_kwh, spend.duration_s, spend.epoch, spend.epochs_budget = (
            spend.earlier_kwh + energy_kwh,
            spend.earlier_s + duration_s,
            epoch,
            epochs_budget,
        )

    def finish(self, trial_id: str) -> None:
        """The trial ended (any way): it spends no more."""
        self.trials.setdefault(trial_id, _TrialSpend()).done = True

    def spent(self) -> Cost:
        """Everything the trials reported so far."""
        return self._cost(
            sum(t.energy_kwh for t in self.trials.values()), sum(t.duration_s for t in self.trials.values())
        )

    def reached(self) -> str | None:
        """The first limit the measured total has reached, as 'kWh'/'gCO2eq'/'USD'; None when within all."""
        return _first_passed(self.spent(), self.limits, inclusive=True)

    def may_launch(self) -> bool:
        """False when the spent total plus the running trials' projected rest plus one more trial passes a limit."""
        if not self.limits.any():
            return True
        if self.reached() is not None:
            return False
        per_epoch = [(t.energy_kwh / t.epoch, t.duration_s / t.epoch) for t in self.trials.values() if t.epoch > 0]
        budgets = [t.epochs_budget for t in self.trials.values() if t.epoch > 0]
        if not per_epoch:
            return True
        kwh_per_epoch = sum(p[0] for p in per_epoch) / len(per_epoch)
        s_per_epoch = sum(p[1] for p in per_epoch) / len(per_epoch)
        epochs = sum(budgets) / len(budgets)
        rest_epochs = sum(max(0.0, t.epochs_budget - t.epoch) for t in self.trials.values() if not t.done)
        spent = self.spent()
        projected = self._cost(
            spent.energy_kwh + (rest_epochs + epochs) * kwh_per_epoch,
            sum(t.duration_s for t in self.trials.values()) + (rest_epochs + epochs) * s_per_epoch,
        )
        return _first_passed(projected, self.limits, inclusive=False) is None

    def outcome(self) -> list[SweepBudget]:
        """One entry per limit set, for the sweep's record."""
        spent = self.spent()
        entries = []
        for unit, limit, value in (
            ("kWh", self.limits.kwh, spent.energy_kwh),
            ("gCO2eq", self.limits.gco2, spent.emissions_gco2eq),
            ("USD", self.limits.usd, spent.cost_usd),
        ):
            if limit is None:
                continue
            entries.append(
                SweepBudget(
                    limit=limit,
                    unit=unit,
                    spent=value or 0.0,
                    reached=value is not None and value >= limit,
                    trials_stopped=self.stopped,
                    trials_not_launched=self.not_launched,
                )
            )
        return entries

    def _cost(self, energy_kwh: float, duration_s: float) -> Cost:
        return self.account(energy_kwh, duration_s)


def _first_passed(cost: Cost, limits: Limits, inclusive: bool) -> str | None:
    for unit, limit, value in (
        ("kWh", limits.kwh, cost.energy_kwh),
        ("gCO2eq", limits.gco2, cost.emissions_gco2eq),
        ("USD", limits.usd, cost.cost_usd),
    ):
        if limit is None or value is None:
            continue
        if value > limit or (inclusive and value >= limit):
            return unit
    return None
