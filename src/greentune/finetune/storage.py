"""Bytes a run leaves on disk: its checkpoints and its final model (the record's `storage_bytes`).

A plain walk with `os.scandir` (no library sizes a tree better); symbolic links are
not followed, so a checkpoint linked to another run's files is not counted twice.
"""

from __future__ import annotations

import os
from pathlib import Path


def storage_bytes(*paths: Path) -> int:
    """Total size in bytes of the regular files under `paths` (files or folders; missing ones count 0)."""
    total = 0
    pending = [str(path) for path in paths]
    while pending:
        path = pending.pop()
        if os.path.islink(path):
            continue
        if os.path.isfile(path):
            total += os.path.getsize(path)
            continue
        if not os.path.isdir(path):
            continue
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total
