"""`--replicas 2` on Ray Serve (local, CPU): each replica meters itself and the metrics add up."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from greentune.carbon import resolve_site
from greentune.infer import GenerationSettings
from greentune.serve import BatcherConfig
from greentune.serve.app import AppOptions, create_app
from greentune.serve.engine import EngineInfo
from serve_fakes import fake_replica_parts

pytestmark = pytest.mark.slow


def test_two_replicas_meter_apart_and_add_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from greentune.serve.ray_deployment import start_replicas

    tests_dir = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]))  # for workers
    import ray

    site = resolve_site(None, intensity_gco2eq_per_kwh=400.0, pue=1.5)
    info = EngineInfo("fake", "eager", "cpu", GenerationSettings(), replicas=2)
    engine = start_replicas(fake_replica_parts, site, BatcherConfig(max_batch=2, max_wait_ms=5), 2, info)
    try:
        with TestClient(create_app(engine, AppOptions(timeout_s=60))) as client:
            texts = [f"text number {i} " + "w " * i for i in range(16)]
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda t: client.post("/summarize", json={"text": t}), texts))
            assert [a.status_code for a in answers] == [200] * 16
            answered_j = sum(a.json()["energy_j"] for a in answers)
            too_long = client.post("/summarize", json={"text": "w " * 600})
            assert too_long.status_code == 413
        final = engine.snapshots()  # the lifespan closed the engine: each replica drained and reported
        assert len(final) == 2
        assert sum(s.requests for s in final) == 16
        assert all(s.requests > 0 for s in final)  # Ray spread the load over both replicas
        # each batch: 5 J on its replica's own sensor
        assert sum(s.active_j for s in final) == pytest.approx(5.0 * sum(s.batches for s in final))
        assert answered_j == pytest.approx(sum(s.active_j for s in final))
        metrics = create_app(engine, AppOptions()).state.metrics.render().decode()
        active = {
            s.labels["replica"]: s.value
            for family in text_string_to_metric_families(metrics)
            for s in family.samples
            if s.name == "greentune_energy_joules_total" and s.labels["state"] == "active"
        }
        assert sorted(active) == ["0", "1"]
        assert [active["0"], active["1"]] == pytest.approx([s.active_j for s in final])
    finally:
        ray.shutdown()
