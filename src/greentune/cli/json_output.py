"""`--json` output that is always valid JSON: a figure that overflowed to infinity is a user error, not `Infinity`."""

from __future__ import annotations

import json
from typing import Any

import typer

from greentune.errors import GreentuneError


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON; a NaN or infinite number (inputs so large that a product overflowed) is
    one `GreentuneError` line instead of the non-standard ``Infinity`` most JSON readers reject."""
    try:
        text = json.dumps(value, indent=2, allow_nan=False)
    except ValueError:
        raise GreentuneError(
            "a result is too large to compute (it overflowed to infinity); check the sizes given (energy, hours, power)"
        ) from None
    typer.echo(text)
