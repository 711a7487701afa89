"""`--json` output that is always valid JSON: a figure that is not finite is one error line, not `Infinity`."""

from __future__ import annotations

import json
from typing import Any

import typer

from greentune.errors import GreentuneError


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON; a NaN or infinite number (e.g. inputs so large that a product overflowed)
    is one `GreentuneError` line instead of the non-standard ``Infinity``/``NaN`` most JSON readers reject."""
    try:
        text = json.dumps(value, indent=2, allow_nan=False)
    except ValueError:
        raise GreentuneError(
            "a result is not a finite number (an input so large that it overflowed to infinity, or NaN); "
            "nothing printed: check the sizes given"
        ) from None
    typer.echo(text)
