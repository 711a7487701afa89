"""A local TCP port for a test: free now, so a server can bind it, and refused until one does."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port of 127.0.0.1 that the system just handed out and that is closed again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
