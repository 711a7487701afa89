"""Run a callback at SIGTERM and at interpreter exit, without taking over the host program.

The SIGTERM handler calls the callback, then hands the signal on to whatever
was installed before: a Python handler is called; the default action is
restored and the signal re-raised, so the process still terminates with the
usual status; an ignored signal stays ignored. Handlers can only be installed
from the main thread; elsewhere only the atexit hook is used.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any


class ShutdownHooks:
    """Install and remove the SIGTERM handler and atexit hook for one callback."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        """``callback(reason)`` receives "sigterm" or "atexit"."""
        self._callback = callback
        self._previous: Any = None
        self._installed_signal = False

    def install(self) -> None:
        """Register the atexit hook and, from the main thread, the SIGTERM handler."""
        atexit.register(self._at_exit)
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._installed_signal = True

    def remove(self) -> None:
        """Undo `install`; the previous SIGTERM handler comes back if ours is still the active one."""
        atexit.unregister(self._at_exit)
        if self._installed_signal and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous)
            self._installed_signal = False

    def _at_exit(self) -> None:
        self._callback("atexit")

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._callback("sigterm")
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL (or None: set outside Python) — terminate as if we were never here
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
