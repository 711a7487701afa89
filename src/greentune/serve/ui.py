"""The Gradio page at /ui: text in, summary out, with that request's energy, carbon and latency.

Mounted on the same FastAPI app, so a text sent from the page goes through the
same engine, batching and metering as POST /summarize, and is counted in
/stats and /metrics. Offline: analytics off and system fonts only.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from greentune.serve.engine import Engine
from greentune.serve.metrics import ServeMetrics
from greentune.serve.stats import RequestLog

UI_PATH = "/ui"


def describe(status: int, detail: str, energy_j: float, gco2eq: float, usd: float | None, latency_ms: float) -> str:
    """The page's one-line account of a request (or why it was refused)."""
    if status != 200:
        return f"refused ({status}): {detail}"
    price = f" · ${usd:.8f}" if usd is not None else ""
    return f"energy {energy_j:.3f} J · {gco2eq * 1000:.4f} mgCO2eq{price} · latency {latency_ms:.0f} ms"


def mount_ui(app: FastAPI, engine: Engine, timeout_s: float, log: RequestLog, metrics: ServeMetrics) -> FastAPI:
    """Mount the page on `app` at /ui; returns the app."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from greentune.serve.app import answer_texts

    async def summarize(text: str) -> tuple[str, str]:
        status, response = await answer_texts(engine, [text], timeout_s, log, metrics)
        metrics.requests.labels(status=str(status)).inc()
        body = json.loads(bytes(response.body))
        if status != 200:
            return "", describe(status, body["detail"], 0.0, 0.0, None, 0.0)
        item = body["summaries"][0]
        line = describe(200, "", item["energy_j"], item["gco2eq"], item["usd"], item["latency_ms"])
        return item["summary"], f"{line} · batch of {item['batch_size']} · {item['source']}"

    info = engine.info
    font = gr.themes.Font("system-ui")
    theme = gr.themes.Soft(font=[font, "sans-serif"], font_mono=["ui-monospace", "monospace"])
    with gr.Blocks(title="greentune serve", analytics_enabled=False) as page:
        gr.Markdown(f"## greentune serve · {info.model} ({info.backend}, {info.device})")
        text = gr.Textbox(label="Text to summarize", lines=6, elem_id="gt-input")
        button = gr.Button("Summarize", variant="primary", elem_id="gt-submit")
        summary = gr.Textbox(label="Summary", lines=3, elem_id="gt-summary", interactive=False)
        account = gr.Textbox(label="This request", elem_id="gt-account", interactive=False)
        button.click(summarize, inputs=text, outputs=[summary, account])
    return gr.mount_gradio_app(app, page, path=UI_PATH, theme=theme, footer_links=[])
