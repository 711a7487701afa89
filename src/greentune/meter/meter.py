"""`Meter`: a background sampler and named measurement windows that nest and overlap.

Every sensor keeps a cumulative energy counter per component; the meter reads
them all on each tick of its sampler thread and at every window boundary, so
a window's energy is just the counters at its end minus the counters at its
begin — any number of windows can be open at once, in any order. Between
boundaries the sampler (every ``interval_ms``) keeps RAPL wrap-arounds and
power integration exact and feeds each open window's utilisation averages
and peaks, and a bounded in-memory timeline.

Starting from a snapshot (``Meter(since=snapshot)``, see
`greentune.meter.snapshot`): the first sample is the snapshot's instant with
every counter at zero, the sensors found are seeded with it, and a window
opened by ``start(window=...)`` begins there — so a command started between
the snapshot and the meter is measured from its start.

Crash safety: the JSONL log gets a ``sample`` record at least every
``log_sample_interval_s`` and is written and fsynced every
``flush_interval_s`` (≤ 10 s), at every window boundary, at `stop`, at
SIGTERM and at interpreter exit.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from greentune.meter.host import HostSensor, cpu_model_name
from greentune.meter.log import JsonlLog
from greentune.meter.measurement import ComponentEnergy, Measurement, Sample
from greentune.meter.scope import Scope
from greentune.meter.sensor import Component
from greentune.meter.shutdown import ShutdownHooks
from greentune.meter.snapshot import Snapshot

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

    from greentune.meter.sensor import Sensor

LOG_SCHEMA_VERSION = 1


@dataclass
class Window:
    """Handle of a window opened with `Meter.window`; ``measurement`` is set when the block exits."""

    name: str
    measurement: Measurement | None = None


@dataclass
class _OpenWindow:
    """Running state of one window between its begin and end samples."""

    name: str
    start_mono_s: float
    start_unix_s: float
    start_energy_j: dict[str, float]
    last_mono_s: float
    peak_power_w: float = 0.0
    peak_ram_bytes: int | None = None
    peak_vram_bytes: int | None = None
    cpu_util_pct_s: float = 0.0
    cpu_util_time_s: float = 0.0
    gpu_util_pct_s: float = 0.0
    gpu_util_time_s: float = 0.0

    def add(self, sample: Sample, now_s: float) -> None:
        """Fold one sample in: peaks of memory; time-weighted utilisation and peak power over its interval.

        The begin sample has no interval inside the window, so it only counts for memory.
        """
        interval_s = now_s - self.last_mono_s
        self.last_mono_s = now_s
        if sample.ram_bytes is not None:
            self.peak_ram_bytes = max(self.peak_ram_bytes or 0, sample.ram_bytes)
        if sample.vram_bytes:
            self.peak_vram_bytes = max(self.peak_vram_bytes or 0, sum(sample.vram_bytes.values()))
        if interval_s <= 0:
            return
        self.peak_power_w = max(self.peak_power_w, sample.total_power_w)
        if sample.cpu_util_pct is not None:
            self.cpu_util_pct_s += sample.cpu_util_pct * interval_s
            self.cpu_util_time_s += interval_s
        if sample.gpu_util_pct:
            self.gpu_util_pct_s += sum(sample.gpu_util_pct.values()) / len(sample.gpu_util_pct) * interval_s
            self.gpu_util_time_s += interval_s


class Meter:
    """Measure time and energy of named windows on this machine (see `greentune.meter`)."""

    def __init__(
        self,
        interval_ms: int = 100,
        log_path: Path | str | None = None,
        sensors: list[Sensor] | None = None,
        *,
        scope: Scope = Scope.MACHINE,
        timeline_max_samples: int = 6_000,
        flush_interval_s: float = 10.0,
        log_sample_interval_s: float = 1.0,
        keep_measurements: int | None = None,
        since: Snapshot | None = None,
    ) -> None:
        """Prepare a meter; ``sensors=None`` finds this machine's (NVML, RAPL, host model).

        ``interval_ms`` is the sampler period; ``log_path`` the JSONL log (none
        when None); ``scope`` says whose CPU and RAM use the found sensors charge
        (``machine`` or ``process``: this process and its children, see
        `greentune.meter.host`); the timeline keeps the last ``timeline_max_samples`` samples;
        ``measurements`` keeps the last ``keep_measurements`` closed windows (None: all; a
        long-lived server opening a window per batch keeps a bounded number); ``since``: a snapshot
        the meter starts from (the sensors' counters must count from it, as the found ones then do).
        """
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, got {interval_ms}")
        if not 0 < flush_interval_s <= 10:
            raise ValueError(f"flush_interval_s must be in (0, 10], got {flush_interval_s}")
        if sensors is None:
            from greentune.meter.detect import autodetect

            sensors = autodetect(scope=scope, since=since)
        self.interval_ms = interval_ms
        self.log_path = None if log_path is None else Path(log_path)
        self.sensors = list(sensors)
        self.components: list[Component] = [c for sensor in self.sensors for c in sensor.components]
        names = [component.name for component in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"two sensors meter the same component: {names}")
        self.hardware = self._describe_hardware()
        self.notes = [note for sensor in self.sensors if isinstance(sensor, HostSensor) for note in sensor.notes]
        self._flush_interval_s = flush_interval_s
        self._log_sample_interval_s = log_sample_interval_s
        self._timeline: deque[Sample] = deque(maxlen=timeline_max_samples)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._log: JsonlLog | None = None
        self._hooks = ShutdownHooks(self._on_shutdown)
        self._state = "new"
        self._windows: dict[str, _OpenWindow] = {}
        self._measurements: deque[Measurement] = deque(maxlen=keep_measurements)
        self._baseline_j: dict[str, float] = {}
        self._energy_j: dict[str, float] = {name: 0.0 for name in names}
        self._last_mono_s = 0.0
        self._last_logged_mono_s = float("-inf")
        self._last_flush_mono_s = 0.0
        self._failed_sensors: set[str] = set()
        self._since = since

    # -- lifecycle ---------------------------------------------------------

    def start(self, window: str | None = None) -> Meter:
        """Take the first sample (the snapshot's, with ``since``), open the log, start the sampler thread.

        ``window``: a window to open at that first sample, e.g. one that covers a command started since.
        """
        if self._state != "new":
            raise RuntimeError("a Meter starts once; create a new Meter to measure again")
        if self.log_path is not None:
            self._log = JsonlLog(self.log_path)
        with self._lock:
            self._state = "running"
            self._log_record(
                {
                    "type": "meter_start",
                    "schema": LOG_SCHEMA_VERSION,
                    "t_unix_s": time.time() if self._since is None else self._since.unix_s,
                    "pid": os.getpid(),
                    "interval_ms": self.interval_ms,
                    "components": [asdict(component) for component in self.components],
                    "hardware": self.hardware,
                }
            )
            first, first_mono_s = self._sample(log=True) if self._since is None else self._origin(self._since)
            if window is not None:
                self._open_window(window, first, first_mono_s)
            if self._since is not None:
                self._sample(log=True)
            self._last_flush_mono_s = self._last_mono_s
        self._flush(sync=True)
        self._hooks.install()
        self._thread = threading.Thread(target=self._run_sampler, name="greentune-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling; still-open windows are ended (marked partial); the log is closed."""
        self._stop("stop")

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- windows -----------------------------------------------------------

    def begin_window(self, name: str) -> None:
        """Open window ``name`` (names of open windows are unique)."""
        with self._lock:
            self._require_running()
            if name in self._windows:
                raise ValueError(f"window '{name}' is already open")
            self._open_window(name, *self._sample())
        self._flush()

    def end_window(self, name: str) -> Measurement:
        """Close window ``name`` and return its `Measurement`."""
        with self._lock:
            self._require_running()
            if name not in self._windows:
                raise ValueError(f"no open window named '{name}'")
            self._sample()
            measurement = self._measure(self._windows.pop(name), partial=False)
            self._measurements.append(measurement)
        self._flush()
        return measurement

    @contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """``with meter.window("train") as w:`` — ``w.measurement`` is set on exit, even after an exception."""
        handle = Window(name)
        self.begin_window(name)
        try:
            yield handle
        finally:
            handle.measurement = self.end_window(name)

    @property
    def measurements(self) -> list[Measurement]:
        """Every window closed so far, in closing order."""
        with self._lock:
            return list(self._measurements)

    @property
    def log_error(self) -> OSError | None:
        """The first failed write of the JSONL log (a full disk, a read-only folder), else None."""
        return self._log.error if self._log is not None else None

    def timeline(self) -> list[Sample]:
        """The most recent samples (at most ``timeline_max_samples``), oldest first."""
        with self._lock:
            return list(self._timeline)

    # -- internals ---------------------------------------------------------

    def _require_running(self) -> None:
        if self._state != "running":
            raise RuntimeError(f"the meter is {self._state}; call start() first (or use `with Meter() as meter:`)")

    def _open_window(self, name: str, sample: Sample, now_s: float) -> None:
        """Open window ``name`` at ``sample``, taken at monotonic ``now_s`` (caller holds the lock)."""
        window = _OpenWindow(name, now_s, sample.t_unix_s, dict(sample.energy_j), now_s)
        window.add(sample, now_s)
        self._windows[name] = window
        self._log_record(
            {"type": "window_begin", "name": name, "t_unix_s": sample.t_unix_s, "energy_j": sample.energy_j}
        )

    def _origin(self, since: Snapshot) -> tuple[Sample, float]:
        """The first sample at the snapshot's instant: every counter at zero, nothing else known yet."""
        self._baseline_j = {component.name: 0.0 for component in self.components}  # the sensors count from it
        zeros = {component.name: 0.0 for component in self.components}
        sample = Sample(since.unix_s, zeros, dict(zeros), None, {}, None, {})
        self._last_mono_s = since.mono_s
        self._timeline.append(sample)
        self._log_record({"type": "sample", **sample.to_dict()})
        return sample, since.mono_s

    def _run_sampler(self) -> None:
        """Sampler thread: a sample every interval, the log flushed every flush interval."""
        interval_s = self.interval_ms / 1000.0
        while not self._stop_event.wait(interval_s):
            with self._lock:
                if self._state != "running":
                    return
                self._sample()
                flush_due = self._last_mono_s - self._last_flush_mono_s >= self._flush_interval_s
                if flush_due:
                    self._last_flush_mono_s = self._last_mono_s
            if flush_due:
                self._flush(sync=True)

    def _sample(self, log: bool = False) -> tuple[Sample, float]:
        """Read every sensor (caller holds the lock); update counters, windows, timeline, log."""
        now_s = time.monotonic()
        t_unix_s = time.time()
        interval_s = now_s - self._last_mono_s
        previous_j = dict(self._energy_j)
        power_w: dict[str, float] = {}
        util_pct: dict[str, float] = {}
        memory_bytes: dict[str, int] = {}
        for sensor in self.sensors:
            try:
                reading = sensor.read(now_s)
            except Exception as error:  # one failing sensor must not stop the others or the host program
                self._report_sensor_failure(sensor, error)
                continue
            for name, counter_j in reading.energy_j.items():
                baseline_j = self._baseline_j.setdefault(name, counter_j)
                self._energy_j[name] = counter_j - baseline_j
            power_w.update(reading.power_w)
            util_pct.update(reading.util_pct)
            memory_bytes.update(reading.memory_bytes)
        has_previous = bool(self._timeline)
        for component in self.components:
            if component.name not in power_w:  # no instantaneous figure: average since the previous sample
                delta_j = self._energy_j[component.name] - previous_j[component.name]
                power_w[component.name] = delta_j / interval_s if has_previous and interval_s > 0 else 0.0
        sample = Sample(
            t_unix_s=t_unix_s,
            energy_j=dict(self._energy_j),
            power_w={component.name: power_w[component.name] for component in self.components},
            cpu_util_pct=util_pct.get("cpu"),
            gpu_util_pct={k: v for k, v in util_pct.items() if k.startswith("gpu:")},
            ram_bytes=memory_bytes.get("ram"),
            vram_bytes={k: v for k, v in memory_bytes.items() if k.startswith("gpu:")},
        )
        self._last_mono_s = now_s
        self._timeline.append(sample)
        for window in self._windows.values():
            window.add(sample, now_s)
        if log or now_s - self._last_logged_mono_s >= self._log_sample_interval_s:
            self._last_logged_mono_s = now_s
            self._log_record({"type": "sample", **sample.to_dict()})
        return sample, now_s

    def _measure(self, window: _OpenWindow, partial: bool) -> Measurement:
        """The measurement of ``window`` up to the latest sample (caller holds the lock); logged."""
        components = [
            ComponentEnergy(c.name, c.kind, self._energy_j[c.name] - window.start_energy_j.get(c.name, 0.0), c.source)
            for c in self.components
        ]
        measurement = Measurement(
            name=window.name,
            start_unix_s=window.start_unix_s,
            duration_s=self._last_mono_s - window.start_mono_s,
            components=components,
            peak_power_w=window.peak_power_w,
            avg_cpu_util_pct=window.cpu_util_pct_s / window.cpu_util_time_s if window.cpu_util_time_s else None,
            avg_gpu_util_pct=window.gpu_util_pct_s / window.gpu_util_time_s if window.gpu_util_time_s else None,
            peak_ram_bytes=window.peak_ram_bytes,
            peak_vram_bytes=window.peak_vram_bytes,
            partial=partial,
        )
        self._log_record({"type": "window", **measurement.to_dict()})
        return measurement

    def _stop(self, reason: str) -> None:
        """Shared by stop() and the atexit hook."""
        if self._state != "running":
            return
        self._stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._sample(log=True)
            for window in list(self._windows.values()):
                self._measurements.append(self._measure(window, partial=True))
            self._windows.clear()
            self._state = "stopped"
            self._log_record({"type": "meter_stop", "t_unix_s": time.time(), "reason": reason})
        self._hooks.remove()
        if self._log is not None:
            self._log.close()
        for sensor in self.sensors:
            sensor.close()

    def _on_shutdown(self, reason: str) -> None:
        """atexit: stop. SIGTERM: record open windows as partial and sync the log; keep running."""
        if reason == "atexit":
            self._stop(reason)
            return
        # The handler runs on the main thread, which may hold the lock: never wait for it long.
        if self._lock.acquire(timeout=0.5):
            try:
                if self._state == "running":
                    self._sample(log=True)
                    for window in self._windows.values():
                        self._measure(window, partial=True)
                    self._log_record({"type": "signal", "t_unix_s": time.time(), "signal": "SIGTERM"})
            finally:
                self._lock.release()
        self._flush(sync=True)

    def _log_record(self, record: dict[str, Any]) -> None:
        if self._log is not None:
            self._log.append(record)

    def _flush(self, sync: bool = False) -> None:
        if self._log is not None:
            self._log.flush(sync=sync)

    def _report_sensor_failure(self, sensor: Sensor, error: Exception) -> None:
        """Warn once per sensor; its counters keep their last value."""
        if sensor.name not in self._failed_sensors:
            self._failed_sensors.add(sensor.name)
            import logging  # here, not at import: logging is not on `greentune measure`'s start-up path

            logging.getLogger("greentune.meter").warning(
                "greentune: sensor %s failed to read (%s); its components stop counting", sensor.name, error
            )
            self._log_record({"type": "warning", "t_unix_s": time.time(), "message": f"sensor {sensor.name}: {error}"})

    def _describe_hardware(self) -> dict[str, Any]:
        """Machine facts for the log header and the CodeCarbon CSV."""
        descriptions = {sensor.name: sensor.describe() for sensor in self.sensors}
        gpu_models = [gpu["model"] for description in descriptions.values() for gpu in description.get("gpus", [])]
        return {
            "cpu_model": cpu_model_name(),
            "cpu_count": os.cpu_count(),
            "ram_total_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "gpu_models": gpu_models,
            "sensors": descriptions,
        }
