"""Whose CPU and RAM use a meter charges (see `greentune.meter.host`); a module of its own so that
`greentune measure` can check a ``--scope`` before it imports the meter."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """Whose CPU and RAM use a meter charges: the whole machine, or only the metered process tree."""

    MACHINE = "machine"
    PROCESS = "process"


SCOPES: tuple[Scope, ...] = tuple(Scope)
