"""Run a Python script as the ranks of a torch.distributed job on this machine (gloo, one thread each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ports import free_port


def run_ranks(script: str, world_size: int, local_ranks: list[int]) -> list[Any]:
    """The JSON each rank printed last; rank ``r`` gets ``LOCAL_RANK=local_ranks[r]``; tests/ is on the path."""
    nodes = local_ranks.count(0)
    port = free_port()
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env={
                **os.environ,
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "WORLD_SIZE": str(world_size),
                "RANK": str(rank),
                "LOCAL_RANK": str(local_ranks[rank]),
                "LOCAL_WORLD_SIZE": str(world_size // nodes),
                "OMP_NUM_THREADS": "1",
                "ACCELERATE_USE_CPU": "true",
                "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(world_size)
    ]
    printed = []
    for process in ranks:
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        printed.append(json.loads(stdout.strip().splitlines()[-1]))
    return printed
