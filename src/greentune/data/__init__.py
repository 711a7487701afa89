"""The published-number tables (CSV, each row with `source` and `year`) and their one reader.

Standard library only, so that every package may read them: `meter` (CPU TDP,
RAM power), `carbon` (intensity, hardware, prices, …) and `finetune` (fp16 risks).
"""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

from greentune.errors import GreentuneError

# The tables ship inside the package folder (not importlib.resources: its import costs ~10 ms of
# `greentune measure`'s start-up, and greentune is never imported from a zip).
_DATA_DIR = Path(__file__).parent


@functools.cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Rows of `greentune/data/<name>.csv` as dicts of strings (cached)."""
    path = _DATA_DIR / f"{name}.csv"
    if not path.is_file():
        raise GreentuneError(f"data table {name}.csv is missing from the greentune package; reinstall greentune")
    return tuple(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def has_table(name: str) -> bool:
    """Whether `greentune/data/<name>.csv` exists."""
    return (_DATA_DIR / f"{name}.csv").is_file()
