"""Edges for the serving tests: a sensor of known power, and a summarizer that counts words as tokens.

The summarizer is the model edge (the code under test is the batcher, the app
and the metrics around it): input tokens = words, output tokens = the first
two words echoed back, and each batch adds `joules_per_batch` to the sensor,
so that every batch window has an energy the test knows exactly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from greentune.infer import Backend, GenerationSettings, Summary
from greentune.meter import Meter
from greentune.meter.sensor import Component, Reading


class PowerSensor:
    """One CPU component drawing `power_w` watts, plus whatever joules `bump` adds."""

    name = "fake-power"

    def __init__(self, power_w: float = 0.0, source: str = "measured") -> None:
        self.power_w = power_w
        self.components = [Component("cpu", "cpu", source)]  # type: ignore[arg-type]
        self._extra_j = 0.0
        self._start_s: float | None = None
        self._lock = threading.Lock()

    def bump(self, joules: float) -> None:
        with self._lock:
            self._extra_j += joules

    def read(self, now_s: float) -> Reading:
        with self._lock:
            if self._start_s is None:
                self._start_s = now_s
            return Reading(energy_j={"cpu": self.power_w * (now_s - self._start_s) + self._extra_j})

    def describe(self) -> dict[str, Any]:
        return {"model": "fake"}

    def close(self) -> None:
        pass


class WordSummarizer:
    """Summary = the first two words; tokens = words. Each batch adds `joules_per_batch` to `sensor`.

    `gate`, when given, holds every batch until it is set (to fill queues); `delay_s` slows each batch.
    """

    backend = Backend.EAGER
    device = "cpu"

    def __init__(
        self,
        sensor: PowerSensor,
        joules_per_batch: float = 0.0,
        delay_s: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        self.settings = GenerationSettings()
        self.sensor = sensor
        self.joules_per_batch = joules_per_batch
        self.delay_s = delay_s
        self.gate = gate
        self.batches: list[list[str]] = []

    def count_input_tokens(self, text: str) -> int:
        return len(text.split())

    def summarize(self, texts: Sequence[str]) -> list[Summary]:
        if self.gate is not None:
            self.gate.wait(30)
        if self.delay_s:
            time.sleep(self.delay_s)
        self.batches.append(list(texts))
        self.sensor.bump(self.joules_per_batch)
        out = []
        for text in texts:
            words = text.split()
            out.append(Summary(text=" ".join(words[:2]), input_tokens=len(words), output_tokens=min(2, len(words))))
        return out


def fake_meter(sensor: PowerSensor) -> Meter:
    """A meter on the fake sensor only, sampling every 50 ms."""
    return Meter(interval_ms=50, sensors=[sensor])


def fake_engine(summarizer: WordSummarizer, sensor: PowerSensor, **config: Any) -> Any:
    """A started `LocalEngine` over the fake summarizer, accounted at 400 gCO2eq/kWh and PUE 1.5."""
    from greentune.carbon import resolve_site
    from greentune.serve import Batcher, BatcherConfig
    from greentune.serve.engine import EngineInfo, LocalEngine

    site = resolve_site(None, intensity_gco2eq_per_kwh=400.0, pue=1.5)
    batcher = Batcher(summarizer, fake_meter(sensor), site, BatcherConfig(**config)).start()  # type: ignore[arg-type]
    info = EngineInfo(model="fake", backend="eager", device="cpu", settings=summarizer.settings, replicas=1)
    return LocalEngine(batcher, info)


def fake_replica_parts(replica: str) -> tuple[WordSummarizer, Meter]:
    """A Ray replica's summarizer and meter: 5 J per batch on a sensor of its own."""
    sensor = PowerSensor()
    return WordSummarizer(sensor, joules_per_batch=5.0, delay_s=0.05), fake_meter(sensor)
