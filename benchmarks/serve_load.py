"""Load test of `greentune serve` on loopback: 1, 8, 32 and 128 concurrent clients, dynamic batching vs --max-batch 1.

    python benchmarks/serve_load.py [--duration-s 20] [--max-new-tokens 16] [--out benchmarks/results/]

For each server setting (dynamic batching with --max-batch 16, and --max-batch 1)
a fresh `greentune serve minilm-bert2bert` (CPU, offline) is started on
127.0.0.1; for each level, that many async httpx clients send ACLSum
validation texts in a loop for --duration-s seconds (a 429 is counted and the
client waits its Retry-After, at most 2 s, before the next text). Per level:
requests/s (200s over the level's wall time), p50/p95 latency of the 200s,
J/request and Wh per 1,000 requests from the server's own /stats (active
energy and answered requests, deltas over the level), status counts, and the
server's peak RSS (psutil, sampled every 0.5 s). The server is stopped with
SIGTERM and its session record lands in a throw-away ledger. Bounded: at most
levels × duration per setting, plus start-up. Results: JSON with the machine,
the date and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from greentune.meter.host import cpu_model_name
from greentune.serve.stats import percentile

LEVELS = (1, 8, 32, 128)
SETTINGS = {"dynamic": ["--max-batch", "16", "--max-wait-ms", "30"], "max_batch_1": ["--max-batch", "1"]}


def texts(count: int = 200) -> list[str]:
    """ACLSum validation documents, cut to their first 1,200 characters (well under 512 tokens)."""
    from aclsum import ACLSum

    out = [" ".join(doc.get_all_sentences(["abstract", "introduction"]))[:1200] for doc in ACLSum("val")]
    return [text for text in out if text][:count]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RssWatcher:
    """Peak resident memory of the server process tree, sampled every 0.5 s."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak_bytes = max(self.peak_bytes, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                return

    def take_peak(self) -> int:
        peak, self.peak_bytes = self.peak_bytes, 0
        return peak

    def stop(self) -> None:
        self._stop.set()


async def run_level(base: str, clients: int, duration_s: float, corpus: list[str]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    latencies_ms: list[float] = []
    deadline = time.monotonic() + duration_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
        before = (await http.get("/stats")).json()
        started = time.monotonic()

        async def client(index: int) -> None:
            n = index
            while time.monotonic() < deadline:
                text = corpus[n % len(corpus)]
                n += clients
                sent = time.monotonic()
                try:
                    response = await http.post("/summarize", json={"text": text})
                    code = str(response.status_code)
                except httpx.HTTPError as error:
                    code = type(error).__name__
                    response = None
                statuses[code] = statuses.get(code, 0) + 1
                if code == "200":
                    latencies_ms.append((time.monotonic() - sent) * 1000)
                elif code == "429" and response is not None:
                    await asyncio.sleep(min(2.0, float(response.headers.get("retry-after", "1"))))

        await asyncio.gather(*(client(i) for i in range(clients)))
        wall_s = time.monotonic() - started
        after = (await http.get("/stats")).json()
    answered = after["requests"] - before["requests"]
    active_j = after["active_energy_j"] - before["active_energy_j"]
    return {
        "clients": clients,
        "wall_s": wall_s,
        "status_counts": statuses,
        "answered": answered,
        "requests_per_s": answered / wall_s,
        "latency_ms_p50": percentile(latencies_ms, 0.5),
        "latency_ms_p95": percentile(latencies_ms, 0.95),
        "energy_j_per_request": active_j / answered if answered else None,
        "wh_per_1000_requests": active_j / 3600 / answered * 1000 if answered else None,
        "active_energy_j": active_j,
        "idle_energy_j": after["idle_energy_j"] - before["idle_energy_j"],
        "batches": after["batches"] - before["batches"],
        "mean_batch_size": answered / (after["batches"] - before["batches"])
        if after["batches"] > before["batches"]
        else None,
        "energy_source": after["source"],
    }


def serve_and_load(
    setting: str, args: argparse.Namespace, corpus: list[str], root: Path, partial: Path
) -> dict[str, Any]:
    port = free_port()
    command = [
        sys.executable, "-c", "import sys; from greentune.cli.app import main; sys.argv[0] = 'greentune'; main()",
        "serve", "minilm-bert2bert", "--port", str(port), "--max-new-tokens", str(args.max_new_tokens),
        "--queue", str(args.queue), "--timeout", "600", "--tracking-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--run-name", f"load-{setting}", *SETTINGS[setting],
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise SystemExit(f"server exited: {server.stdout.read() if server.stdout else ''}") from None
                time.sleep(0.5)
        watcher = RssWatcher(server.pid)
        levels = []
        for clients in args.levels:
            print(f"{setting}: {clients} clients for {args.duration_s:g} s", file=sys.stderr)
            level = asyncio.run(run_level(base, clients, args.duration_s, corpus))
            level["peak_rss_bytes"] = watcher.take_peak()
            levels.append(level)
            with partial.open("a") as lines:  # kept if the run is stopped before the JSON is written
                lines.write(json.dumps({"setting": setting, **level}) + "\n")
            print(
                f"  {json.dumps({k: level[k] for k in ('status_counts', 'requests_per_s', 'energy_j_per_request')})}",
                file=sys.stderr,
            )
        watcher.stop()
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=600)
    finally:
        if server.poll() is None:
            server.kill()
    return {
        "setting": setting,
        "server_args": SETTINGS[setting],
        "levels": levels,
        "exit_code": server.returncode,
        "server_output": output.strip().splitlines()[-1:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--queue", type=int, default=16)
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    corpus = texts()
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / f"serve_load_cpu_{started:%Y%m%d}.partial.jsonl"
    with tempfile.TemporaryDirectory(prefix="greentune-serve-load-") as folder:
        runs = [serve_and_load(setting, args, corpus, Path(folder), partial) for setting in SETTINGS]
    dynamic, single = runs
    ratios = [
        {
            "clients": a["clients"],
            "requests_per_s_dynamic_over_batch_1": a["requests_per_s"] / b["requests_per_s"]
            if b["requests_per_s"]
            else None,
            "energy_j_per_request_dynamic_over_batch_1": (
                a["energy_j_per_request"] / b["energy_j_per_request"]
                if a["energy_j_per_request"] and b["energy_j_per_request"]
                else None
            ),
        }
        for a, b in zip(dynamic["levels"], single["levels"], strict=True)
    ]
    result = {
        "benchmark": "serve_load",
        "date_utc": started.isoformat(),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_model": cpu_model_name(),
            "cpu_count": os.cpu_count(),
            "ram_bytes": psutil.virtual_memory().total,
            "load_average_1_5_15_before": load_before,
            "load_average_1_5_15_after": os.getloadavg(),
        },
        "model": "minilm-bert2bert (eager, CPU)",
        "max_new_tokens": args.max_new_tokens,
        "queue": args.queue,
        "duration_s_per_level": args.duration_s,
        "texts": f"{len(corpus)} ACLSum validation documents (abstract + introduction), first 1,200 characters",
        "runs": runs,
        "dynamic_vs_batch_1": ratios,
        "non_429_errors": sum(
            count
            for run in runs
            for level in run["levels"]
            for code, count in level["status_counts"].items()
            if code not in ("200", "429")
        ),
    }
    path = args.out / f"serve_load_cpu_{started:%Y%m%d}.json"
    path.write_text(json.dumps(result, indent=2))
    partial.unlink(missing_ok=True)
    print(path)


if __name__ == "__main__":
    main()
