"""`greentune serve` end to end with the real built-in model: answer, SIGTERM drain, the session in the ledger."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import greentune as greentune_package
from ports import free_port

pytestmark = pytest.mark.slow
TEXTS = [
    "We study how much energy it takes to fine-tune small summarization models on scientific papers.",
    "Dynamic batching groups requests so that one forward pass serves many of them.",
    "Carbon intensity of the grid changes by the hour.",
    "A short one.",
    "Transformers read every input token once and generate the summary one token at a time.",
    "Serving usually costs more energy than training over a model's life.",
]


def greentune(*args: str, cwd: Path) -> list[str]:
    code = "import sys; from greentune.cli.app import main; sys.argv[0] = 'greentune'; main()"
    return [sys.executable, "-c", code, *args]


def test_serve_drains_every_accepted_request_at_sigterm_and_records_the_session(tmp_path: Path) -> None:
    port = free_port()
    uri = f"sqlite:///{tmp_path / 'ledger' / 'mlflow.db'}"
    source_root = str(Path(greentune_package.__file__).parents[1])  # this checkout's greentune, not another install
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")]),
    }
    server = subprocess.Popen(
        greentune(
            "serve", "minilm-bert2bert", "--port", str(port), "--max-new-tokens", "4", "--max-batch", "2",
            "--max-wait-ms", "50", "--location", "DE", "--tracking-uri", uri, "--run-name", "e2e-session",
            cwd=tmp_path,
        ),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.5)
        with ThreadPoolExecutor(len(TEXTS)) as pool:
            answers = [pool.submit(httpx.post, f"{base}/summarize", json={"text": text}, timeout=600) for text in TEXTS]
            admitted_by = time.monotonic() + 120  # a request refused never counts: fail with the figures, not hang
            while True:  # every text admitted (waiting, running or answered) before the signal
                stats = httpx.get(f"{base}/stats", timeout=30).json()
                if stats["queue_depth"] + stats["in_flight"] + stats["requests"] == len(TEXTS):
                    break
                assert time.monotonic() < admitted_by, (stats, [a.result() for a in answers if a.done()])
                time.sleep(0.05)
            server.send_signal(signal.SIGTERM)
            responses = [answer.result() for answer in answers]
        output, _ = server.communicate(timeout=300)
    finally:
        if server.poll() is None:
            server.kill()
    assert [r.status_code for r in responses] == [200] * len(TEXTS), output
    bodies = [r.json() for r in responses]
    summary = bodies[0]["summaries"][0]
    assert summary["output_tokens"] <= 4 and summary["summary"]
    assert {s["source"] for b in bodies for s in b["summaries"]} == {"estimated"}
    assert server.returncode == 0, output
    assert "session e2e-session recorded: 6 requests" in output
    listed = subprocess.run(
        greentune("runs", "--json", "--tracking-uri", uri, cwd=tmp_path),
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    (record,) = json.loads(listed.stdout)
    assert (record["kind"], record["run_name"], record["model_name"]) == ("serve", "e2e-session", "minilm-bert2bert")
    serving = record["serving"]
    assert serving["requests"] == 6 and serving["failed"] == 0
    responses_j = sum(s["energy_j"] for b in bodies for s in b["summaries"])
    assert responses_j == pytest.approx(serving["active_energy_kwh"] * 3.6e6, rel=0.01)
    assert record["energy_kwh"] == pytest.approx(serving["active_energy_kwh"] + serving["idle_energy_kwh"], rel=1e-3)
    assert record["location"] == "DE"
