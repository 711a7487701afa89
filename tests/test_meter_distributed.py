"""Who measures in a distributed job, and how node totals add up (never averaged, never counted twice)."""

import json
import os
import subprocess
import sys

import pytest

from greentune.meter import ComponentEnergy, Measurement, detect_sensors
from greentune.meter.distributed import local_rank, measures_node, pack, unpack
from ports import free_port

RANK_VARS = ("LOCAL_RANK", "RANK", "LOCAL_WORLD_SIZE", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")


@pytest.mark.parametrize(
    ("environ", "expected_local_rank", "measures"),
    [
        ({}, None, True),
        ({"LOCAL_RANK": "0", "RANK": "8"}, 0, True),
        ({"LOCAL_RANK": "3", "RANK": "3"}, 3, False),
        ({"RANK": "5", "LOCAL_WORLD_SIZE": "4"}, 1, False),
        ({"RANK": "4", "LOCAL_WORLD_SIZE": "4"}, 0, True),
        ({"RANK": "0"}, 0, True),
        ({"SLURM_LOCALID": "2"}, 2, False),
        ({"OMPI_COMM_WORLD_LOCAL_RANK": "0"}, 0, True),
    ],
)
def test_local_rank_from_environment(environ: dict[str, str], expected_local_rank: int | None, measures: bool) -> None:
    assert local_rank(environ) == expected_local_rank
    assert measures_node(environ) is measures


def test_only_local_rank_zero_gets_sensors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RANK_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    detections = detect_sensors()
    assert all(d.sensor is None for d in detections)
    assert all("local rank 0 measures" in d.detail for d in detections)
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert any(d.sensor is not None for d in detect_sensors())


def node(gpu_j: float, cpu_j: float, cpu_source: str = "measured", util: float = 80.0) -> Measurement:
    return Measurement(
        name="train",
        start_unix_s=1.0,
        duration_s=10.0,
        components=[
            ComponentEnergy("gpu:0", "gpu", gpu_j / 2, "measured"),
            ComponentEnergy("gpu:1", "gpu", gpu_j / 2, "measured"),
            ComponentEnergy("cpu:package-0", "cpu", cpu_j, cpu_source),
        ],
        peak_power_w=gpu_j / 10,
        avg_cpu_util_pct=util,
        avg_gpu_util_pct=util,
        peak_ram_bytes=1000,
        peak_vram_bytes=2000,
    )


def idle_rank() -> Measurement:
    """What a rank other than local rank 0 measures: time, no components."""
    return Measurement(name="train", start_unix_s=1.0, duration_s=10.0)


def test_job_total_is_the_sum_of_node_totals() -> None:
    # 2 nodes × 2 ranks: what all_reduce(SUM) computes from every rank's vector
    ranks = [node(1000.0, 100.0, util=60.0), idle_rank(), node(3000.0, 50.0, "estimated", util=100.0), idle_rank()]
    summed = [sum(values) for values in zip(*(pack(m) for m in ranks), strict=True)]
    job = unpack(summed, ranks[0], duration_s=12.0)
    assert job.energy_j == pytest.approx(1000 + 100 + 3000 + 50)
    assert {(c.name, c.source): c.energy_j for c in job.components} == {
        ("gpu", "measured"): pytest.approx(4000.0),
        ("cpu", "measured"): pytest.approx(100.0),
        ("cpu:estimated", "estimated"): pytest.approx(50.0),
    }
    assert job.duration_s == 12.0
    assert job.avg_gpu_util_pct == pytest.approx(80.0)
    assert job.peak_vram_bytes == 4000 and job.peak_ram_bytes == 2000


def test_idle_ranks_add_nothing() -> None:
    assert all(value == 0 for value in pack(idle_rank()))


RANK_SCRIPT = """
import json, sys
import torch.distributed as dist
from greentune.meter import Meter, sum_across_nodes
dist.init_process_group("gloo")
with Meter(interval_ms=20) as meter:
    with meter.window("train") as window:
        sum(range(2 * 10**6))
own = window.measurement
job = sum_across_nodes(own)
print(json.dumps({"own": own.to_dict(), "job": job.to_dict(), "sensors": [s.name for s in meter.sensors]}))
dist.destroy_process_group()
"""


def test_sum_across_nodes_through_a_real_gloo_process_group() -> None:
    # 2 "nodes" × 2 ranks on this machine, as torchrun would start them; local rank 0 of each measures
    port = free_port()
    processes = []
    for rank in range(4):
        environ = {
            **{name: value for name, value in os.environ.items() if name not in RANK_VARS},
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": "4",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank % 2),
            "LOCAL_WORLD_SIZE": "2",
            "OMP_NUM_THREADS": "1",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", RANK_SCRIPT],
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert [bool(r["sensors"]) for r in results] == [True, False, True, False]
    assert all(not r["own"]["components"] for r in results[1::2])  # idle ranks hold no energy
    node_totals_j = [results[0]["own"]["energy_j"], results[2]["own"]["energy_j"]]
    assert min(node_totals_j) > 0
    for result in results:  # every rank gets the same job total: the sum of the two node totals
        assert result["job"]["energy_j"] == pytest.approx(sum(node_totals_j))
        assert result["job"]["duration_s"] == pytest.approx(max(r["own"]["duration_s"] for r in results))
