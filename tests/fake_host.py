"""A fake host for the host model: a /proc/cpuinfo naming a chosen CPU, and a psutil that shows a chosen core count.

Tests that check watts, notes or doctor lines use it, so that they hold on any machine (the CPU model and the
core count of the machine running the tests never matter).
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from greentune.meter import host


def fake_cpu(monkeypatch: pytest.MonkeyPatch, folder: Path, model: str, cores: int) -> None:
    """Make `greentune.meter.host` read `model` from a cpuinfo file in `folder` and see `cores` cores."""
    cpuinfo = folder / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\nflags\t\t: fpu\n")
    monkeypatch.setattr(host, "CPUINFO_PATH", cpuinfo)
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: cores)
