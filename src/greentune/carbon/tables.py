"""Read the published-number tables under `greentune/data/`, and name close matches.

The tables are small (a few hundred rows), so they are read with the standard
library's `csv` module rather than pandas: `import greentune.carbon` and
`greentune estimate` then start without loading pandas (hundreds of ms).
Every table has `source` and `year` columns; `DataRow` carries them along with
each figure that a result uses, so that results can cite their data.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from greentune.errors import GreentuneError

Row = dict[str, str]


@dataclass(frozen=True)
class DataRow:
    """One table row that a result used: which table, which key, and its citation."""

    table: str
    key: str
    source: str
    year: str


def data_row(table: str, key: str, row: Row) -> DataRow:
    """The citation of `row` from `table`."""
    return DataRow(table=table, key=key, source=row.get("source", ""), year=row.get("year", ""))


def optional_float(text: str) -> float | None:
    """A number from a table cell, or None for an empty cell (no published value)."""
    text = text.strip()
    return float(text) if text else None


def normalise(name: str) -> str:
    """A lookup key: lower case, without spaces, dashes, underscores or dots."""
    return re.sub(r"[\s\-_.]+", "", name.strip().lower())


def closest(name: str, choices: list[str], limit: int = 3) -> list[str]:
    """Up to `limit` of `choices` that look most like `name` (difflib, case-insensitive)."""
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(choice.lower(), choice)
    matches = difflib.get_close_matches(name.lower(), list(by_key), n=limit, cutoff=0.4)
    return [by_key[match] for match in matches]


def unknown(kind: str, name: str, choices: list[str], hint: str) -> GreentuneError:
    """The one-line error for a name that is not in a table, naming the closest matches."""
    matches = closest(name, choices)
    suggestion = f"closest: {', '.join(matches)}" if matches else "no close match"
    return GreentuneError(f"unknown {kind} {name!r} ({suggestion}); {hint}")


def require_positive(name: str, value: float, unit: str) -> float:
    """`value` if it is a finite number above zero, else a GreentuneError naming it."""
    if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value) or value <= 0:
        raise GreentuneError(f"{name} must be a finite number above zero, got {value!r} {unit}".rstrip())
    return float(value)
