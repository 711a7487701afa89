"""`Batcher`: a bounded queue, dynamic batches grouped by length, and per-request energy attribution.

A plain class with one worker thread and no web code: the FastAPI app and
each Ray Serve replica use it the same way (`submit` → futures). The worker
takes the oldest waiting text, fills the batch with the waiting texts nearest
to it in input length (less padding), up to ``max_batch`` texts, waiting at
most ``max_wait_ms`` after the oldest text arrived for the batch to fill.

Each batch runs inside its own `Meter` window; its energy, and the carbon and
price of the window, are split across its texts by token work
(`greentune.serve.attribution`). The meter runs for the batcher's whole life
in a ``session`` window, and the time between batches is covered by ``idle-N``
windows: idle energy is measured the same way, reported apart and never
spread over requests. At `close` the idle figures are settled as session
minus batch windows, so that active + idle is the session's energy exactly.

Written by hand because no serving library meters a batch: Ray Serve's
``@serve.batch`` and the FastAPI helpers batch, but none gives the batch a
place to open a meter window and attribute its energy.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from greentune.carbon.accounting import Accounting, Origin, account
from greentune.carbon.intensity import Site
from greentune.errors import GreentuneError
from greentune.infer.summarizer import Summarizer
from greentune.meter import Measurement, Meter
from greentune.meter.measurement import JOULES_PER_KWH
from greentune.serve.attribution import shares, token_work
from greentune.serve.snapshot import Snapshot

SESSION_WINDOW = "session"


class QueueFull(Exception):
    """The queue has no room for the texts; try again after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class InputTooLong(Exception):
    """A text has more input tokens than the limit, or a request more texts than the queue holds."""


class Closed(Exception):
    """The batcher is draining or stopped and takes no new texts."""


@dataclass(frozen=True)
class BatcherConfig:
    """How texts are batched and admitted.

    Attributes:
        max_batch: most texts in one batch.
        max_wait_ms: longest wait after the oldest waiting text arrived before a partial batch runs.
        queue_size: most texts waiting (not counting the batch running).
        max_input_tokens: texts with more input tokens are refused (413), not truncated.
    """

    max_batch: int = 8
    max_wait_ms: float = 20.0
    queue_size: int = 256
    max_input_tokens: int = 512

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise GreentuneError(f"--max-batch must be at least 1, got {self.max_batch}")
        if not (self.max_wait_ms >= 0 and math.isfinite(self.max_wait_ms)):
            raise GreentuneError(f"--max-wait-ms must be a finite number ≥ 0, got {self.max_wait_ms}")
        if self.queue_size < 1:
            raise GreentuneError(f"--queue must be at least 1, got {self.queue_size}")
        if self.max_input_tokens < 1:
            raise GreentuneError(f"--max-input-tokens must be at least 1, got {self.max_input_tokens}")


@dataclass(frozen=True)
class RequestResult:
    """One text's summary and what it cost.

    Attributes:
        summary: the summary text.
        input_tokens: tokens read (after truncation to the model's input limit).
        output_tokens: tokens generated.
        energy_j: this text's share of its batch window's energy, joules.
        gco2eq: the same share of the window's operational emissions, grams CO2eq.
        usd: the same share of the window's price, USD; None when the site has no price.
        latency_ms: from admission to answer, milliseconds.
        queue_ms: from admission to the start of its batch, milliseconds.
        batch_size: texts in its batch.
        source: ``measured`` when every metered component was measured, else ``estimated``.
    """

    summary: str
    input_tokens: int
    output_tokens: int
    energy_j: float
    gco2eq: float
    usd: float | None
    latency_ms: float
    queue_ms: float
    batch_size: int
    source: str


@dataclass
class _Item:
    text: str
    tokens: int
    admitted_s: float
    future: Future[RequestResult] = field(default_factory=Future)


class Batcher:
    """Dynamic batching with a meter window per batch (see the module docstring)."""

    def __init__(self, summarizer: Summarizer, meter: Meter, site: Site, config: BatcherConfig) -> None:
        """Batch for `summarizer`, meter with `meter` (started and stopped here), account at `site`."""
        self.summarizer = summarizer
        self.meter = meter
        self.site = site
        self.config = config
        self._condition = threading.Condition()
        self._meter_lock = threading.Lock()  # the worker and `snapshot` both open and close windows
        self._pending: deque[_Item] = deque()
        self._in_flight = 0
        self._closing = False
        self._thread: threading.Thread | None = None
        self._started_s = 0.0
        self._sources = {component.name: component.source for component in meter.components}
        self._active = _Tally(self._sources, priced=site.sku is not None)
        self._idle = _Tally(self._sources, priced=site.sku is not None)
        self._windows = 0
        self._idle_window: str | None = None
        self._totals = {"requests": 0, "failed": 0, "batches": 0, "input_tokens": 0, "output_tokens": 0}
        self._batch_duration_s: deque[float] = deque(maxlen=32)
        self.session: Measurement | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Batcher:
        """Start the meter (a session window, and an idle window until the first batch) and the worker."""
        self.meter.start()
        self.meter.begin_window(SESSION_WINDOW)
        self._started_s = time.monotonic()
        with self._meter_lock:
            self._begin_idle()
        self._thread = threading.Thread(target=self._work, name="greentune-batcher", daemon=True)
        self._thread.start()
        return self

    def close(self) -> Measurement:
        """Take no new texts, run every admitted one, stop the meter; returns the session window."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._meter_lock:
            if self.session is None:
                self._end_idle()
                self.session = self.meter.end_window(SESSION_WINDOW)
                self.meter.stop()
                self._settle_idle(self.session)
        return self.session

    def _settle_idle(self, session: Measurement) -> None:
        """Final idle = session − batch windows, per component, so that the few joules between a
        window's end and the next one's begin count as idle and active + idle is the session exactly."""
        with self._condition:
            idle = _Tally(self._sources, priced=self.site.sku is not None)
            idle.duration_s = max(0.0, session.duration_s - self._active.duration_s)
            idle.energy_j = {
                c.name: max(0.0, c.energy_j - self._active.energy_j.get(c.name, 0.0)) for c in session.components
            }
            if idle.duration_s > 0:
                energy_kwh = sum(idle.energy_j.values()) / JOULES_PER_KWH
                accounting = account(energy_kwh, idle.duration_s, self.site, energy_source=self._source())
                idle.gco2eq = accounting.emissions_gco2eq
                idle.usd = accounting.cost_usd if idle.usd is not None else None
            self._idle = idle

    # -- admission ---------------------------------------------------------

    def submit(self, texts: Sequence[str]) -> list[Future[RequestResult]]:
        """Admit all of `texts` or none: one future per text, in order.

        Raises `InputTooLong` (a text over ``max_input_tokens``, or more texts
        than the queue holds), `QueueFull` (no room now) or `Closed` (draining).
        """
        if len(texts) > self.config.queue_size:
            raise InputTooLong(f"{len(texts)} texts in one request; at most {self.config.queue_size} (--queue)")
        counts = [self.summarizer.count_input_tokens(text) for text in texts]
        for index, count in enumerate(counts):
            if count > self.config.max_input_tokens:
                raise InputTooLong(
                    f"text {index} has {count} input tokens; the limit is {self.config.max_input_tokens} "
                    "(--max-input-tokens)"
                )
        now_s = time.monotonic()
        items = [_Item(text, count, now_s) for text, count in zip(texts, counts, strict=True)]
        with self._condition:
            if self._closing:
                raise Closed("the server is shutting down")
            if len(self._pending) + len(items) > self.config.queue_size:  # texts given up on leave room
                self._pending = deque(item for item in self._pending if not item.future.cancelled())
            if len(self._pending) + len(items) > self.config.queue_size:
                raise QueueFull(self._retry_after_s())
            self._pending.extend(items)
            self._condition.notify_all()
        return [item.future for item in items]

    def _retry_after_s(self) -> int:
        """Seconds until the queue has drained at the recent batch rate (caller holds the lock); at least 1."""
        mean_batch_s = sum(self._batch_duration_s) / len(self._batch_duration_s) if self._batch_duration_s else 1.0
        batches_ahead = math.ceil(len(self._pending) / self.config.max_batch)
        return max(1, math.ceil(batches_ahead * mean_batch_s))

    # -- the worker --------------------------------------------------------

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> list[_Item] | None:
        """Wait for a full batch or the oldest text's deadline; None once closing with nothing left."""
        with self._condition:
            while True:
                while not self._pending and not self._closing:
                    self._condition.wait()
                if not self._pending:
                    return None
                deadline_s = self._pending[0].admitted_s + self.config.max_wait_ms / 1000.0
                while len(self._pending) < self.config.max_batch and not self._closing:
                    remaining_s = deadline_s - time.monotonic()
                    if remaining_s <= 0:
                        break
                    self._condition.wait(remaining_s)
                batch = [item for item in self._take() if item.future.set_running_or_notify_cancel()]
                if batch:  # texts whose caller gave up (timeout) before their batch are dropped unrun
                    self._in_flight = len(batch)
                    return batch

    def _take(self) -> list[_Item]:
        """The oldest text and the waiting texts nearest to it in length (caller holds the lock)."""
        oldest = self._pending.popleft()
        if len(self._pending) < self.config.max_batch:
            others = list(self._pending)
            self._pending.clear()
        else:
            nearest = sorted(self._pending, key=lambda item: abs(item.tokens - oldest.tokens))
            others = nearest[: self.config.max_batch - 1]
            chosen = {id(item) for item in others}
            self._pending = deque(item for item in self._pending if id(item) not in chosen)
        return [oldest, *others]

    def _run(self, batch: list[_Item]) -> None:
        """Summarize one batch in its own meter window and answer each text with its share."""
        name = f"batch-{self._totals['batches']}"
        started_s = time.monotonic()
        with self._meter_lock:
            self._end_idle()
            self.meter.begin_window(name)
        try:
            summaries = self.summarizer.summarize([item.text for item in batch])
            error: BaseException | None = None
        except Exception as caught:  # the batch still used energy: it is counted, and each text gets the error
            summaries, error = [], caught
        with self._meter_lock:
            measurement = self.meter.end_window(name)
            self._begin_idle()
        finished_s = time.monotonic()
        works = (
            [token_work(s.input_tokens, s.output_tokens) for s in summaries]
            if error is None
            else [item.tokens for item in batch]
        )
        split = shares(works)
        accounting = self._account(measurement)
        with self._condition:
            self._in_flight = 0
            self._batch_duration_s.append(measurement.duration_s)
            self._totals["batches"] += 1
            self._active.add(measurement, accounting.emissions_gco2eq, accounting.cost_usd)
            if error is None:
                self._totals["requests"] += len(batch)
                self._totals["input_tokens"] += sum(s.input_tokens for s in summaries)
                self._totals["output_tokens"] += sum(s.output_tokens for s in summaries)
            else:
                self._totals["failed"] += len(batch)
        if error is not None:
            for item in batch:
                item.future.set_exception(error)
            return
        for item, summary, share in zip(batch, summaries, split, strict=True):
            item.future.set_result(
                RequestResult(
                    summary=summary.text,
                    input_tokens=summary.input_tokens,
                    output_tokens=summary.output_tokens,
                    energy_j=measurement.energy_j * share,
                    gco2eq=accounting.emissions_gco2eq * share,
                    usd=None if accounting.cost_usd is None else accounting.cost_usd * share,
                    latency_ms=(finished_s - item.admitted_s) * 1000.0,
                    queue_ms=(started_s - item.admitted_s) * 1000.0,
                    batch_size=len(batch),
                    source=self._source(),
                )
            )

    def _source(self) -> Origin:
        return "measured" if set(self._sources.values()) == {"measured"} else "estimated"

    def _account(self, measurement: Measurement) -> Accounting:
        """Carbon and price of one window at the site (a window is never shorter than a nanosecond)."""
        return account(
            measurement.energy_kwh, max(measurement.duration_s, 1e-9), self.site, energy_source=self._source()
        )

    def _begin_idle(self) -> None:
        """Open the next idle window (caller holds the meter lock)."""
        self._idle_window = f"idle-{self._windows}"
        self._windows += 1
        self.meter.begin_window(self._idle_window)

    def _end_idle(self) -> None:
        """Close the open idle window into the idle tally (caller holds the meter lock)."""
        if self._idle_window is None:
            return
        measurement = self.meter.end_window(self._idle_window)
        self._idle_window = None
        accounting = self._account(measurement)
        with self._condition:
            self._idle.add(measurement, accounting.emissions_gco2eq, accounting.cost_usd)

    # -- totals ------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Totals so far; the open idle window is closed and reopened so that idle energy is up to now."""
        with self._meter_lock:
            if self.session is None and self._idle_window is not None:
                self._end_idle()
                self._begin_idle()
        with self._condition:
            session_s = self.session.duration_s if self.session is not None else time.monotonic() - self._started_s
            return Snapshot(
                **self._totals,
                active_energy_j=dict(self._active.energy_j),
                idle_energy_j=dict(self._idle.energy_j),
                component_sources=dict(self._sources),
                active_duration_s=self._active.duration_s,
                idle_duration_s=self._idle.duration_s,
                session_duration_s=session_s,
                active_gco2eq=self._active.gco2eq,
                idle_gco2eq=self._idle.gco2eq,
                active_usd=self._active.usd,
                idle_usd=self._idle.usd,
                queue_depth=len(self._pending),
                in_flight=self._in_flight,
            )


class _Tally:
    """Energy per component, seconds, grams and dollars summed over windows of one state (active or idle)."""

    def __init__(self, sources: Mapping[str, str], priced: bool) -> None:
        self.energy_j = {name: 0.0 for name in sources}
        self.duration_s = 0.0
        self.gco2eq = 0.0
        self.usd: float | None = 0.0 if priced else None

    def add(self, measurement: Measurement, gco2eq: float, usd: float | None) -> None:
        for component in measurement.components:
            self.energy_j[component.name] = self.energy_j.get(component.name, 0.0) + component.energy_j
        self.duration_s += measurement.duration_s
        self.gco2eq += gco2eq
        self.usd = None if self.usd is None or usd is None else self.usd + usd
