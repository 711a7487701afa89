"""The meter's append-only JSONL log: a buffered writer and `read_log`.

Records are buffered in memory and written by `flush` (the `Meter` calls it
at least every 10 s, at every closed window, and at stop, SIGTERM and exit),
so a process killed without warning loses at most the last flush interval.
The record schema is documented in `greentune.meter`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from greentune.errors import GreentuneError

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any


class JsonlLog:
    """Append JSON records to a file, one per line."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` for appending (parent folders are created)."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
        except OSError as error:
            message = f"cannot write the meter log {path}: {error.strerror}; choose a writable path"
            raise GreentuneError(message) from error
        self._pending: list[str] = []
        self.error: OSError | None = None  # the first write that failed (disk full, read-only); later ones are skipped
        # re-entrant: a SIGTERM handler may flush while the main thread is inside `append`
        self._lock = threading.RLock()

    def append(self, record: dict[str, Any]) -> None:
        """Queue one record; it reaches the file at the next `flush`."""
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        with self._lock:
            self._pending.append(line)

    def flush(self, sync: bool = False) -> None:
        """Write queued records; with ``sync``, also fsync so they survive a machine crash.

        A write that fails (a full disk, a folder gone read-only) is kept in
        ``error`` instead of raised: the measurement goes on in memory, and
        the records of the failed and later flushes are dropped.
        """
        with self._lock:
            if self._file.closed:
                return
            lines, self._pending = self._pending, []
            if self.error is not None:
                return
            try:
                if lines:
                    self._file.write("".join(lines))
                self._file.flush()
                if sync:
                    os.fsync(self._file.fileno())
            except OSError as error:
                self.error = error

    def close(self) -> None:
        """Flush, fsync and close."""
        with self._lock:
            self.flush(sync=True)
            try:
                self._file.close()
            except OSError as error:  # the buffered rest could not be written
                self.error = self.error or error


def read_log(path: Path | str) -> list[dict[str, Any]]:
    """All records of a meter log, in order.

    A last line cut short by a crash is dropped; a broken line anywhere else
    is an error, since that is not what a crash leaves behind.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise GreentuneError(f"cannot read the meter log {path}: {error.strerror}") from error
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):
                break
            raise GreentuneError(f"{path}:{number} is not a JSON record ({error.msg}); the log is damaged") from error
    return records
