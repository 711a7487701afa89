"""greentune.meter — time and energy of named windows, measured where the hardware allows.

    from greentune.meter import Meter
    with Meter(log_path="run/meter.jsonl") as meter:
        with meter.window("train") as train:
            ...
        print(train.measurement.energy_kwh)

Sources (one module each, behind `sensor.Sensor`): ``nvml`` (GPU energy
counters), ``rapl`` (CPU package and DRAM counters), ``host`` (psutil;
estimated CPU and RAM power where nothing measures them). Every component
says whether its energy is ``measured`` or ``estimated``. Imports no torch,
pandas or greentune.carbon; pynvml is imported only when GPUs are looked for.

JSONL log (``Meter(log_path=...)``): one JSON object per line, appended,
flushed at least every 10 s; `read_log` reads it back. Times are Unix
seconds, energies joules, powers watts, memory bytes. Records by ``type``:

- ``meter_start``: ``schema`` (1), ``t_unix_s``, ``pid``, ``interval_ms``,
  ``components`` [{``name``, ``kind`` gpu|cpu|ram, ``source`` measured|estimated}],
  ``hardware`` {``cpu_model``, ``cpu_count``, ``ram_total_bytes``, ``gpu_models``,
  ``sensors`` {sensor name: its description}}.
- ``sample`` (at most one per second, and at start/stop): ``t_unix_s``,
  ``energy_j`` {component: cumulative J since meter_start}, ``power_w``
  {component: W}, ``cpu_util_pct`` (machine, %), ``gpu_util_pct`` {gpu:N: %},
  ``ram_bytes`` (RSS of the measured process tree), ``vram_bytes`` {gpu:N: bytes}.
- ``window_begin``: ``name``, ``t_unix_s``, ``energy_j`` (cumulative counters then).
- ``window``: a closed window — `Measurement.to_dict()`: ``name``,
  ``start_unix_s``, ``duration_s``, ``energy_j``, ``energy_kwh``,
  ``avg_power_w``, ``peak_power_w``, ``avg_cpu_util_pct``, ``avg_gpu_util_pct``,
  ``peak_ram_bytes``, ``peak_vram_bytes``, ``partial`` (true when written at
  SIGTERM or stop before the window was ended), ``components`` [{``name``,
  ``kind``, ``energy_j``, ``energy_kwh``, ``source``}].
- ``signal``: ``t_unix_s``, ``signal`` ("SIGTERM").
- ``warning``: ``t_unix_s``, ``message`` (a sensor stopped reading).
- ``meter_stop``: ``t_unix_s``, ``reason`` (stop|atexit).

After a crash, a window without a ``window`` record can be rebuilt from its
``window_begin`` counters and the last ``sample``.

The names below are imported on first use (PEP 562), not with the package:
`greentune measure` imports `greentune.meter.snapshot` and `greentune.meter.scope`
before it starts the command, and the meter only once the command runs.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing is not imported before `greentune measure` starts its command
if TYPE_CHECKING:
    from typing import Any

    from greentune.meter.codecarbon_csv import CODECARBON_COLUMNS, write_codecarbon_csv
    from greentune.meter.detect import detect_sensors
    from greentune.meter.distributed import measures_node, sum_across_nodes
    from greentune.meter.log import read_log
    from greentune.meter.measurement import ComponentEnergy, Measurement, Sample
    from greentune.meter.meter import Meter, Window
    from greentune.meter.scope import SCOPES, Scope

_HOME_MODULE = {
    "CODECARBON_COLUMNS": "codecarbon_csv",
    "SCOPES": "scope",
    "ComponentEnergy": "measurement",
    "Measurement": "measurement",
    "Meter": "meter",
    "Sample": "measurement",
    "Scope": "scope",
    "Window": "meter",
    "detect_sensors": "detect",
    "measures_node": "distributed",
    "read_log": "log",
    "sum_across_nodes": "distributed",
    "write_codecarbon_csv": "codecarbon_csv",
}
__all__ = [
    "CODECARBON_COLUMNS",
    "SCOPES",
    "ComponentEnergy",
    "Measurement",
    "Meter",
    "Sample",
    "Scope",
    "Window",
    "detect_sensors",
    "measures_node",
    "read_log",
    "sum_across_nodes",
    "write_codecarbon_csv",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME_MODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME_MODULE[name]}"), name)
    globals()[name] = value
    return value
