"""Number formatting shared by the HTML and Markdown outputs ('—' for a missing value)."""

from __future__ import annotations

MISSING = "—"


def sig(value: float | None, digits: int = 3) -> str:
    """`value` to `digits` significant figures, without scientific notation for everyday sizes."""
    if value is None:
        return MISSING
    if value == 0:
        return "0"
    if 10**digits <= abs(value) < 1e9:
        return f"{value:,.0f}"
    if 1e-4 <= abs(value) < 10**digits:
        return f"{value:#.{digits}g}".rstrip(".")
    return f"{value:.{digits - 1}e}"


def fixed(value: float | None, decimals: int = 1) -> str:
    """`value` with a fixed number of decimals."""
    return MISSING if value is None else f"{value:.{decimals}f}"


def signed(value: float | None, decimals: int = 1, unit: str = "") -> str:
    """`value` with an explicit sign, e.g. '+12.3%' or '−0.4'."""
    if value is None:
        return MISSING
    text = f"{value:+.{decimals}f}{unit}"
    return text.replace("-", "−")


def money(value: float | None) -> str:
    """US$ with enough precision for sub-cent runs."""
    if value is None:
        return MISSING
    return f"${value:.2f}" if abs(value) >= 1 else f"${sig(value)}"


def duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '2 h 07 min'."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def memory(size_bytes: int | None) -> str:
    """Bytes as MiB or GiB."""
    if size_bytes is None:
        return MISSING
    mib = size_bytes / 2**20
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def short_source(source: str, max_chars: int = 70) -> str:
    """A citation cut before its first parenthesis or semicolon, for a table cell (the full text goes in a tooltip)."""
    cut = min((i for i in (source.find("("), source.find(";")) if i > 0), default=len(source))
    text = source[:cut].strip().rstrip(",")
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"
