"""The batcher: per-request attribution by token work, batching by length, bounded queue, drain."""

from __future__ import annotations

import threading
import time

import pytest

from greentune.carbon import resolve_site
from greentune.serve import Batcher, BatcherConfig, Closed, InputTooLong, QueueFull
from greentune.serve.attribution import shares
from serve_fakes import PowerSensor, WordSummarizer, fake_meter

SITE = resolve_site(None, intensity_gco2eq_per_kwh=400.0, pue=1.5)


def make(summarizer: WordSummarizer, sensor: PowerSensor, site=SITE, **config: float) -> Batcher:
    return Batcher(summarizer, fake_meter(sensor), site, BatcherConfig(**config)).start()  # type: ignore[arg-type]


def test_a_batch_is_split_by_input_plus_output_tokens() -> None:
    sensor = PowerSensor(power_w=0.0)
    summarizer = WordSummarizer(sensor, joules_per_batch=14.0)
    batcher = make(summarizer, sensor, max_batch=2, max_wait_ms=5_000)
    futures = batcher.submit(["one two three four five", "alpha"])
    first, second = (future.result(10) for future in futures)
    batcher.close()
    # work: 5 in + 2 out = 7, 1 in + 1 out = 2 → 14 J × 7/9 and 14 J × 2/9
    assert first.energy_j == pytest.approx(14.0 * 7 / 9)
    assert second.energy_j == pytest.approx(14.0 * 2 / 9)
    assert first.gco2eq == pytest.approx(14.0 * 7 / 9 / 3.6e6 * 1.5 * 400.0)
    assert (first.batch_size, first.input_tokens, first.output_tokens, first.source) == (2, 5, 2, "measured")
    assert first.summary == "one two"
    assert first.usd is None
    assert summarizer.batches == [["one two three four five", "alpha"]]


def test_requests_sum_to_batch_windows_and_idle_energy_is_apart() -> None:
    sensor = PowerSensor(power_w=50.0)
    summarizer = WordSummarizer(sensor, joules_per_batch=3.0, delay_s=0.02)
    batcher = make(summarizer, sensor, max_batch=3, max_wait_ms=10)
    results = []
    for round_ in range(4):
        futures = batcher.submit([f"text {round_} " + "w " * n for n in range(5)])
        results += [future.result(10) for future in futures]
        sensor.bump(100.0)  # between batches: idle energy, never charged to a request
        time.sleep(0.05)
    session = batcher.close()
    total = batcher.snapshot()
    batch_windows = [m for m in batcher.meter.measurements if m.name.startswith("batch-")]
    assert len(results) == 20 and total.requests == 20
    assert sum(r.energy_j for r in results) == pytest.approx(sum(m.energy_j for m in batch_windows), rel=1e-9)
    assert total.active_j == pytest.approx(sum(m.energy_j for m in batch_windows), rel=1e-9)
    # every batch window: 50 W over its duration plus its own 3 J
    assert total.active_j == pytest.approx(50.0 * total.active_duration_s + 3.0 * total.batches, rel=1e-6)
    assert total.idle_j >= 4 * 100.0
    assert total.active_j + total.idle_j == pytest.approx(session.energy_j, rel=1e-9)
    assert total.active_duration_s + total.idle_duration_s == pytest.approx(session.duration_s, rel=1e-9)
    assert total.active_gco2eq == pytest.approx(sum(r.gco2eq for r in results), rel=1e-9)


def test_price_is_split_like_energy() -> None:
    site = resolve_site("DE", sku="ND40rs_v2")
    sensor = PowerSensor(power_w=10.0)
    batcher = make(WordSummarizer(sensor, delay_s=0.01), sensor, site=site, max_batch=4, max_wait_ms=5)
    results = [future.result(10) for future in batcher.submit(["a b", "c d e", "f"])]
    batcher.close()
    total = batcher.snapshot()
    hourly_usd = next(p.usd_per_hour for p in site.sku_prices if p.pricing == "on_demand")
    assert sum(r.usd or 0.0 for r in results) == pytest.approx(total.active_usd)
    assert total.active_usd == pytest.approx(hourly_usd * total.active_duration_s / 3600, rel=1e-6)
    assert total.idle_usd == pytest.approx(hourly_usd * (total.session_duration_s - total.active_duration_s) / 3600)


def test_batches_group_texts_of_similar_length() -> None:
    gate = threading.Event()
    sensor = PowerSensor()
    summarizer = WordSummarizer(sensor, gate=gate)
    batcher = make(summarizer, sensor, max_batch=2, max_wait_ms=0)
    blocker = batcher.submit(["held"])  # the worker holds this batch until the gate opens
    time.sleep(0.1)
    lengths = [1, 9, 2, 10, 8]
    futures = batcher.submit([" ".join(["w"] * n) for n in lengths])
    gate.set()
    for future in [*blocker, *futures]:
        future.result(10)
    batcher.close()
    sizes = [sorted(len(text.split()) for text in batch) for batch in summarizer.batches[1:]]
    # oldest first (1), with its nearest (2); then 9 with 10; then 8 alone
    assert sizes == [[1, 2], [9, 10], [8]]


def test_bounded_queue_refuses_when_full_and_admits_all_or_none() -> None:
    gate = threading.Event()
    sensor = PowerSensor()
    batcher = make(WordSummarizer(sensor, gate=gate), sensor, max_batch=1, max_wait_ms=0, queue_size=3)
    running = batcher.submit(["first"])
    time.sleep(0.1)  # "first" is in flight, the queue is empty
    waiting = batcher.submit(["a", "b"])
    with pytest.raises(QueueFull) as full:
        batcher.submit(["c", "d"])  # 2 + 2 > 3: none of the two is admitted
    assert full.value.retry_after_s >= 1
    assert batcher.snapshot().queue_depth == 2
    with pytest.raises(InputTooLong, match="4 texts in one request; at most 3"):
        batcher.submit(["w"] * 4)
    gate.set()
    assert [f.result(10).summary for f in [*running, *waiting]] == ["first", "a", "b"]
    batcher.close()


def test_input_token_limit_refuses_the_whole_request() -> None:
    sensor = PowerSensor()
    batcher = make(WordSummarizer(sensor), sensor, max_input_tokens=3)
    with pytest.raises(InputTooLong, match="text 1 has 4 input tokens; the limit is 3"):
        batcher.submit(["a b c", "a b c d"])
    assert batcher.snapshot().queue_depth == 0
    batcher.close()


def test_close_answers_every_admitted_text_then_refuses() -> None:
    sensor = PowerSensor()
    batcher = make(WordSummarizer(sensor, delay_s=0.02), sensor, max_batch=2, max_wait_ms=1)
    futures = [f for i in range(9) for f in batcher.submit([f"text number {i}"])]
    batcher.close()
    assert all(f.done() for f in futures)
    assert [f.result().summary for f in futures] == ["text number" for _ in range(9)]
    assert batcher.snapshot().requests == 9
    with pytest.raises(Closed):
        batcher.submit(["late"])


def test_shares_are_even_without_token_work() -> None:
    assert shares([0, 0]) == [0.5, 0.5]
    assert shares([3, 1]) == [0.75, 0.25]
