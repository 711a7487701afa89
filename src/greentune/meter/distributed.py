"""Who measures in a multi-process job, and how node totals become a job total.

NVML, RAPL and the host model all see the whole node, so one process per
node measures it: local rank 0. Every other rank's `Meter` runs with no
sensors (its windows still time, but hold no energy). The job total is then
the SUM over all ranks — which, since only one rank per node holds energy,
is the sum of the node totals: never an average, never counted twice.

The local rank is found from ``LOCAL_RANK`` (torchrun, accelerate,
DeepSpeed), ``SLURM_LOCALID``, ``OMPI_COMM_WORLD_LOCAL_RANK`` or
``MPI_LOCALRANKID``; failing those, from ``RANK`` modulo
``LOCAL_WORLD_SIZE`` (``RANK`` alone is taken as a single-node job), or from
``torch.distributed``'s rank modulo the node's GPU count when a process group
is initialised. torch is never imported
here: it is looked up in ``sys.modules`` only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from greentune.meter.measurement import ComponentEnergy, Measurement

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

    from greentune.meter.sensor import Kind, Source

_LOCAL_RANK_VARS = ("LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")
_KINDS: tuple[Kind, ...] = ("gpu", "cpu", "ram")
_SOURCES: tuple[Source, ...] = ("measured", "estimated")


def process_group() -> Any | None:
    """``torch.distributed`` when torch is already imported and a process group is up, else None."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def local_rank(environ: Mapping[str, str] | None = None) -> int | None:
    """This process's rank within its node, or None when the job is not distributed."""
    environ = os.environ if environ is None else environ
    for name in _LOCAL_RANK_VARS:
        if environ.get(name, "").strip().isdigit():
            return int(environ[name])
    rank_text = environ.get("RANK", "").strip()
    if rank_text.isdigit():
        local_world = environ.get("LOCAL_WORLD_SIZE", "").strip()
        return int(rank_text) % int(local_world) if local_world.isdigit() and int(local_world) > 0 else int(rank_text)
    dist = process_group()
    if dist is not None:
        torch = sys.modules["torch"]
        gpus_per_node = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return dist.get_rank() % gpus_per_node if gpus_per_node else dist.get_rank()
    return None


def measures_node(environ: Mapping[str, str] | None = None) -> bool:
    """True when this process should measure its node: not distributed, or local rank 0."""
    rank = local_rank(environ)
    return rank is None or rank == 0


def pack(measurement: Measurement) -> list[float]:
    """A node's totals as a flat vector whose element-wise sum over nodes is the job's.

    Layout: per (kind, source) energy in joules and a 1 when the node has such
    a component; then peak power, peak RAM, peak VRAM, the sum of the
    utilisation averages and how many nodes reported each.
    """
    vector: list[float] = []
    for kind in _KINDS:
        for source in _SOURCES:
            parts = [c for c in measurement.components if c.kind == kind and c.source == source]
            vector += [sum(c.energy_j for c in parts), 1.0 if parts else 0.0]
    vector += [
        measurement.peak_power_w,
        float(measurement.peak_ram_bytes or 0),
        float(measurement.peak_vram_bytes or 0),
        measurement.avg_cpu_util_pct or 0.0,
        1.0 if measurement.avg_cpu_util_pct is not None else 0.0,
        measurement.avg_gpu_util_pct or 0.0,
        1.0 if measurement.avg_gpu_util_pct is not None else 0.0,
    ]
    return vector


def unpack(summed: list[float], template: Measurement, duration_s: float) -> Measurement:
    """The job-wide measurement from the element-wise sum of every rank's `pack` vector.

    Components become one per kind and source, named ``<kind>`` (measured) or
    ``<kind>:estimated``. Peaks are sums of the node peaks (an upper bound of
    the simultaneous peak); utilisations are means over the nodes that reported.
    """
    components: list[ComponentEnergy] = []
    position = 0
    for kind in _KINDS:
        for source in _SOURCES:
            energy_j, present = summed[position], summed[position + 1]
            position += 2
            if present > 0:
                name = kind if source == "measured" else f"{kind}:estimated"
                components.append(ComponentEnergy(name, kind, energy_j, source))
    peak_power_w, peak_ram, peak_vram, cpu_util_sum, cpu_nodes, gpu_util_sum, gpu_nodes = summed[position:]
    return Measurement(
        name=template.name,
        start_unix_s=template.start_unix_s,
        duration_s=duration_s,
        components=components,
        peak_power_w=peak_power_w,
        avg_cpu_util_pct=cpu_util_sum / cpu_nodes if cpu_nodes else None,
        avg_gpu_util_pct=gpu_util_sum / gpu_nodes if gpu_nodes else None,
        peak_ram_bytes=int(peak_ram) if cpu_nodes else None,
        peak_vram_bytes=int(peak_vram) if gpu_nodes else None,
        partial=template.partial,
    )


def sum_across_nodes(measurement: Measurement) -> Measurement:
    """The job total of a window measured on every rank (call it on every rank, like any collective).

    With an initialised ``torch.distributed`` process group, every rank's
    `pack` vector is all-reduced with SUM (ranks that do not measure their
    node contribute zeros, since their meters hold no components) and the
    duration with MAX. Without a process group the node's own measurement is
    returned unchanged: sum the per-node logs yourself.
    """
    dist = process_group()
    if dist is None:
        return measurement
    torch = sys.modules["torch"]
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    sums = torch.tensor(pack(measurement), dtype=torch.float64, device=device)
    dist.all_reduce(sums, op=dist.ReduceOp.SUM)
    duration = torch.tensor([measurement.duration_s], dtype=torch.float64, device=device)
    dist.all_reduce(duration, op=dist.ReduceOp.MAX)
    return unpack(sums.tolist(), measurement, float(duration.item()))
