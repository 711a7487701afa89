"""The HTTP API on a fake summarizer: answers, 413/422/429/503/504, /stats, /metrics parsed, schema fuzzed."""

from __future__ import annotations

import threading

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import settings
from prometheus_client.parser import text_string_to_metric_families

from greentune.serve.app import AppOptions, create_app
from serve_fakes import PowerSensor, WordSummarizer, fake_engine


def client_for(summarizer: WordSummarizer, sensor: PowerSensor, timeout_s: float = 10.0, **config: float):
    engine = fake_engine(summarizer, sensor, **config)
    return TestClient(create_app(engine, AppOptions(timeout_s=timeout_s))), engine


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_summaries_carry_their_energy_and_stats_add_up() -> None:
    sensor = PowerSensor(power_w=0.0)
    summarizer = WordSummarizer(sensor, joules_per_batch=9.0)
    client, _ = client_for(summarizer, sensor, max_batch=4, max_wait_ms=1000)
    with client:
        one = client.post("/summarize", json={"text": ["a b c d", "e"]}).json()
        two = client.post("/summarize", json={"text": "f g"}).json()
        stats = client.get("/stats").json()
        metrics = samples(client.get("/metrics").text)
        health = client.get("/health").json()
    # batch 1: works 4+2=6 and 1+1=2 of 9 J; batch 2 alone: 9 J
    assert [s["energy_j"] for s in one["summaries"]] == pytest.approx([9.0 * 6 / 8, 9.0 * 2 / 8])
    assert one["energy_j"] == pytest.approx(9.0)
    first = one["summaries"][0]
    assert (first["summary"], first["input_tokens"], first["output_tokens"], first["batch_size"]) == ("a b", 4, 2, 2)
    assert first["source"] == "measured" and first["usd"] is None
    assert first["gco2eq"] == pytest.approx(9.0 * 6 / 8 / 3.6e6 * 1.5 * 400)
    assert two["summaries"][0]["energy_j"] == pytest.approx(9.0)
    assert stats["requests"] == 3 and stats["batches"] == 2
    assert stats["active_energy_j"] == pytest.approx(18.0)
    assert stats["energy_j_per_request_mean"] == pytest.approx(6.0)
    assert stats["energy_j_per_request_p50"] == pytest.approx(6.75)  # sorted 2.25, 6.75, 9 → nearest rank 2
    assert stats["wh_per_1000_requests"] == pytest.approx(18.0 / 3600 / 3 * 1000)
    assert stats["idle_energy_j"] == pytest.approx(0.0, abs=1e-9)  # no power between batches
    assert metrics[("greentune_requests_total", (("status", "200"),))] == 2
    active = (("component", "cpu"), ("replica", "0"), ("source", "measured"), ("state", "active"))
    assert metrics[("greentune_energy_joules_total", active)] == pytest.approx(18.0)
    assert metrics[("greentune_request_energy_joules_count", ())] == 3
    assert metrics[("greentune_request_energy_joules_sum", ())] == pytest.approx(18.0)
    assert metrics[("greentune_request_batch_size_bucket", (("le", "1.0"),))] == 1
    assert metrics[("greentune_tokens_total", (("direction", "input"), ("replica", "0")))] == 7
    assert health == {"status": "ok", "model": "fake", "backend": "eager", "device": "cpu", "replicas": 1}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": []},
        {"text": 3},
        {"texts": "a"},
        {"text": ["a", None]},
        {"text": "a", "extra": 1},
        {"text": ""},
        {"text": " \n\t"},
        {"text": ["a", ""]},
    ],
)
def test_malformed_bodies_get_422(body: object) -> None:
    sensor = PowerSensor()
    client, _ = client_for(WordSummarizer(sensor), sensor)
    with client:
        assert client.post("/summarize", json=body).status_code == 422
        assert (
            client.post("/summarize", content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 422
        )


def test_over_the_token_limit_is_413_and_nothing_is_queued() -> None:
    sensor = PowerSensor()
    client, _ = client_for(WordSummarizer(sensor), sensor, max_input_tokens=3)
    with client:
        response = client.post("/summarize", json={"text": ["ok", "one two three four"]})
        assert response.status_code == 413
        assert response.json() == {"detail": "text 1 has 4 input tokens; the limit is 3 (--max-input-tokens)"}
        assert client.get("/stats").json()["requests"] == 0


def test_full_queue_is_429_with_retry_after_and_timeout_is_504() -> None:
    gate = threading.Event()
    sensor = PowerSensor()
    client, engine = client_for(WordSummarizer(sensor, gate=gate), sensor, timeout_s=0.3, max_batch=1, queue_size=2)
    with client:
        held = engine.batcher.submit(["running"])  # in flight behind the gate
        while engine.batcher.snapshot().in_flight == 0:
            pass
        late = client.post("/summarize", json={"text": "waits past the timeout"})
        assert late.status_code == 504
        assert late.json()["detail"] == "generation took longer than the timeout of 0.3 s (--timeout)"
        queued = engine.batcher.submit(["x", "y"])  # fills the queue of 2 (the timed-out text was cancelled)
        full = client.post("/summarize", json={"text": "no room"})
        assert full.status_code == 429
        assert int(full.headers["retry-after"]) >= 1
        gate.set()
        assert [f.result(10).summary for f in [*held, *queued]] == ["running", "x", "y"]
        metrics = samples(client.get("/metrics").text)
    assert metrics[("greentune_requests_total", (("status", "504"),))] == 1
    assert metrics[("greentune_requests_total", (("status", "429"),))] == 1
    assert engine.batcher.snapshot().requests == 3  # the text that timed out before its batch never ran


def test_after_shutdown_new_texts_get_503() -> None:
    sensor = PowerSensor()
    client, _ = client_for(WordSummarizer(sensor), sensor)
    with client:
        pass  # the lifespan ends: the engine drains and closes
    with TestClient(client.app) as again:
        assert again.post("/summarize", json={"text": "late"}).status_code == 503


_sensor = PowerSensor()
_fuzz_engine = fake_engine(WordSummarizer(_sensor), _sensor, max_input_tokens=50, queue_size=64)
_fuzz_engine.close = lambda: None  # schemathesis runs the app's lifespan around each call; keep serving
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_fuzz_engine, AppOptions(timeout_s=10)))


@schema.parametrize()
@settings(max_examples=40, deadline=None)
def test_no_generated_input_gets_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
