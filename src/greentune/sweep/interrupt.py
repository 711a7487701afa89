"""Ctrl-C during a sweep: Tune stops its trials as it does at the end, and the driver learns the user interrupted.

Tune's own SIGINT handler (Ray 2.x) stops the trials and then returns from
`Tuner.fit` as if the search had ended, so a sweep cut short was recorded
FINISHED and `greentune sweep` exited 0. While the Tuner runs, `UserInterrupt`
takes SIGINT instead (Tune's documented switch `TUNE_DISABLE_SIGINT_HANDLER`
keeps Tune's handler out): the first SIGINT asks Tune, through the stopper
interface, to stop every trial — each records itself as stopped, as for a
budget — and the driver then records the sweep KILLED; a second SIGINT raises
KeyboardInterrupt at once, as Tune's did.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ray import tune

TUNE_SWITCH = "TUNE_DISABLE_SIGINT_HANDLER"


class UserInterrupt(tune.Stopper):
    """A Tune stopper that stops every trial once SIGINT came (see the module docstring)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False  # single trials end as the search says

    def stop_all(self) -> bool:
        return self.requested

    @contextmanager
    def catching(self) -> Iterator[None]:
        """While the block runs, the first SIGINT sets `requested` and the next raises KeyboardInterrupt.

        Only the main thread can handle signals; elsewhere SIGINT stays as it was (and Tune's handler, too).
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        switch = os.environ.get(TUNE_SWITCH)
        os.environ[TUNE_SWITCH] = "1"
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            if switch is None:
                os.environ.pop(TUNE_SWITCH, None)
            else:
                os.environ[TUNE_SWITCH] = switch

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
