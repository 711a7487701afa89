"""Find the sensors of this machine, and say why each missing one is missing.

Measured sources win; the host model estimates only what they leave open:
the CPU when no RAPL package zone is readable, the RAM when no RAPL dram zone
is. A RAPL tree that exists but cannot be read is the one case worth a
warning (once per process): the numbers could be measured, but are estimated.

In ``process`` scope (see `greentune.meter.host`) RAPL is left out: it
measures whole CPU packages and all DRAM, so the host model estimates the
process tree's share instead. GPUs are metered whole in both scopes.
"""

from __future__ import annotations

from pathlib import Path

from greentune.meter import host, nvml, rapl
from greentune.meter.distributed import local_rank, measures_node
from greentune.meter.scope import Scope
from greentune.meter.sensor import Detection
from greentune.meter.snapshot import Snapshot

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from greentune.meter.sensor import Sensor

_warned_rapl_permission = False


def detect_sensors(
    powercap_root: Path = rapl.DEFAULT_POWERCAP_ROOT,
    pid: int | None = None,
    scope: Scope = Scope.MACHINE,
    since: Snapshot | None = None,
    children_only: bool = False,
) -> list[Detection]:
    """NVML, RAPL and host detections, in that order; ``pid`` roots the process tree, ``scope`` says whose use counts
    (``children_only``: not the root's own, see `greentune.meter.host`).

    With ``since`` (see `greentune.meter.snapshot`), RAPL and the host model count from that snapshot; NVML
    cannot, so a caller passes one only where `snapshot.nvidia_present` is false.

    In a distributed job, ranks other than local rank 0 get no sensors (see
    `greentune.meter.distributed`), and the detections say so.
    """
    if not measures_node():
        detail = f"local rank {local_rank()}: local rank 0 measures this node"
        return [Detection(name, None, detail) for name in ("nvml", "rapl", "host")]
    gpu = nvml.detect()
    if scope == "process":
        cpu = Detection("rapl", None, "not used in process scope: RAPL measures whole packages and all DRAM")
    else:
        cpu = rapl.detect(powercap_root, since)
    kinds = {component.kind for component in cpu.sensor.components} if cpu.sensor else set()
    if cpu.warn:
        _warn_rapl_permission(cpu)
    estimates = {"estimate_cpu": "cpu" not in kinds, "estimate_ram": "ram" not in kinds}
    return [gpu, cpu, host.detect(**estimates, pid=pid, scope=scope, since=since, children_only=children_only)]


def autodetect(
    powercap_root: Path = rapl.DEFAULT_POWERCAP_ROOT,
    pid: int | None = None,
    scope: Scope = Scope.MACHINE,
    since: Snapshot | None = None,
    children_only: bool = False,
) -> list[Sensor]:
    """The sensors found by `detect_sensors`."""
    detections = detect_sensors(powercap_root, pid, scope, since, children_only)
    return [detection.sensor for detection in detections if detection.sensor is not None]


def _warn_rapl_permission(detection: Detection) -> None:
    """One warning per process: RAPL is there but unreadable, so CPU/RAM are estimated."""
    global _warned_rapl_permission
    if not _warned_rapl_permission:
        _warned_rapl_permission = True
        import logging  # here, not at import: logging is not on `greentune measure`'s start-up path

        logging.getLogger("greentune.meter").warning(
            "greentune: %s — CPU and RAM energy will be ESTIMATED from TDP × utilisation. To measure: %s",
            detection.detail,
            detection.advice,
        )
