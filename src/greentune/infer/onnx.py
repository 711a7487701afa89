"""ONNX Runtime backend: encoder and decoder exported with torch's own exporter, driven by transformers' `generate`.

Three graphs are exported with `torch.onnx.export` (the TorchScript exporter,
opset 17; optimum-onnx would pin an older transformers): the encoder; the
decoder's first step (start token → logits and the self- and cross-attention
key/values of every layer); and one decoder step with that cache (→ logits
and the grown self-attention key/values). The search itself — greedy or beams,
the generation config's length and repetition rules, cache reordering — stays
transformers' `generate`, whose model calls are routed to the ONNX Runtime
sessions, so the ONNX backend decodes exactly as eager does. The torch weights
stay loaded beside the sessions (their memory counts in the benchmark's peak).
`int8` quantizes the exported graphs' weights with ONNX Runtime's dynamic
quantization. A model whose decoder cannot be exported this way raises
`UnsupportedConfiguration` with the exporter's first line.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greentune.infer.eager import generate_summaries, input_limit, load_transformers_model
from greentune.infer.summarizer import (
    Backend,
    GenerationSettings,
    Precision,
    Summary,
    TokenCounting,
    UnsupportedConfiguration,
    device_kind,
    resolved_precision,
)

PRECISIONS: dict[str, tuple[Precision, ...]] = {"cpu": (Precision.FP32, Precision.INT8), "cuda": (Precision.FP32,)}
OPSET = 17
GRAPHS = ("encoder", "decoder_first", "decoder_step")


@dataclass
class OnnxSummarizer(TokenCounting):
    """ONNX Runtime sessions of encoder and decoder, searched by `generate` on the (bypassed) torch model."""

    model: Any
    tokenizer: Any
    settings: GenerationSettings
    device: str = "cpu"
    backend: Backend = Backend.ONNX
    workdir: Path | None = field(default=None, repr=False)

    @classmethod
    def load(cls, name: str, settings: GenerationSettings, device: str) -> OnnxSummarizer:
        """Export the three graphs (quantize them for int8), open ONNX Runtime sessions, route `generate` to them."""
        precision = resolved_precision(Backend.ONNX, settings, device, PRECISIONS)
        import onnxruntime

        providers = ["CUDAExecutionProvider"] if device_kind(device) == "cuda" else ["CPUExecutionProvider"]
        if providers[0] not in onnxruntime.get_available_providers():
            raise UnsupportedConfiguration(Backend.ONNX, f"onnxruntime here has no {providers[0]} (onnxruntime-gpu)")
        loaded = load_transformers_model(name)
        model = loaded.model.eval()
        workdir = Path(tempfile.mkdtemp(prefix="greentune-onnx-"))
        try:
            layers = _export(model, loaded.tokenizer, workdir)
            if precision is Precision.INT8:
                _quantize(workdir)
            sessions = {graph: _session(onnxruntime, workdir / f"{graph}.onnx", providers) for graph in GRAPHS}
        except UnsupportedConfiguration:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        except Exception as error:  # the exporter raises many types; the reason is its first line
            shutil.rmtree(workdir, ignore_errors=True)
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UnsupportedConfiguration(
                Backend.ONNX, f"seq2seq generation of {model.config.model_type} did not export cleanly: {first_line}"
            ) from None
        _route_to_sessions(model, sessions, layers, device)
        summarizer = cls(
            model=model,
            tokenizer=loaded.tokenizer,
            settings=replace(settings, precision=precision, max_input_tokens=input_limit(model, settings)),
            device=device,
            workdir=workdir,
        )
        weakref.finalize(summarizer, shutil.rmtree, workdir, True)
        return summarizer

    def summarize(self, texts: Sequence[str]) -> list[Summary]:
        """One padded batch through `generate`, every model call answered by ONNX Runtime (inputs stay on the CPU)."""
        return generate_summaries(self.model, self.tokenizer, self.settings, texts, "cpu")


def _flat_cache(cache: Any) -> list[Any]:
    """Per layer: self keys, self values, cross keys, cross values."""
    tensors = []
    for own, cross in zip(cache.self_attention_cache.layers, cache.cross_attention_cache.layers, strict=True):
        tensors += [own.keys, own.values, cross.keys, cross.values]
    return tensors


def _export(model: Any, tokenizer: Any, folder: Path) -> int:
    """Export encoder, first decoder step and cached decoder step; returns the number of decoder layers."""
    import warnings

    import torch
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = model.get_encoder()

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    class First(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, decoder_input_ids: Any, encoder_hidden_states: Any, attention_mask: Any) -> Any:
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            out = self.model(
                encoder_outputs=(encoder_hidden_states,),
                attention_mask=attention_mask,
                decoder_input_ids=decoder_input_ids,
                cache=cache,
                use_cache=True,
            )
            return (out.logits[:, -1, :], *_flat_cache(out.cache))

    class Step(torch.nn.Module):
        def __init__(self, layers: int) -> None:
            super().__init__()
            self.model = model
            self.layers = layers

        def forward(self, decoder_input_ids: Any, encoder_hidden_states: Any, attention_mask: Any, *past: Any) -> Any:
            own, cross = DynamicCache(), DynamicCache()
            for layer in range(self.layers):
                own.update(past[4 * layer], past[4 * layer + 1], layer)
                cross.update(past[4 * layer + 2], past[4 * layer + 3], layer)
            out = self.model(
                encoder_outputs=(encoder_hidden_states,),
                attention_mask=attention_mask,
                decoder_input_ids=decoder_input_ids,
                cache=EncoderDecoderCache(own, cross),
                use_cache=True,
            )
            grown = _flat_cache(out.cache)
            return (out.logits[:, -1, :], *[grown[4 * layer + k] for layer in range(self.layers) for k in (0, 1)])

    batch = tokenizer(["an example source text to trace", "a shorter one"], return_tensors="pt", padding=True)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    start = torch.full((2, 1), int(model.generation_config.decoder_start_token_id))
    sequence = {0: "batch", 1: "source"}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer warns about every Python branch on shapes
        hidden = Encoder()(ids, mask)
        first_out = First()(start, hidden, mask)
        layers = (len(first_out) - 1) // 4
        names = [f"{kind}_{layer}" for layer in range(layers) for kind in ("self_k", "self_v", "cross_k", "cross_v")]
        cache_axes = {n: {0: "batch", 2: "past" if n.startswith("self") else "source"} for n in names}
        common = {"decoder_input_ids": {0: "batch"}, "encoder_hidden_states": sequence, "attention_mask": sequence}
        inputs = ["decoder_input_ids", "encoder_hidden_states", "attention_mask"]
        grown = [f"grown_{n}" for n in names if n.startswith("self")]
        exports = (
            (Encoder(), (ids, mask), ["input_ids", "attention_mask"], ["hidden"], {"hidden": sequence}),
            (First(), (start, hidden, mask), inputs, ["logits", *names], cache_axes),
            (
                Step(layers),
                (start, hidden, mask, *first_out[1:]),
                [*inputs, *[f"past_{n}" for n in names]],
                ["logits", *grown],
                {
                    **{f"past_{n}": axes for n, axes in cache_axes.items()},
                    **{n: {0: "batch", 2: "grown"} for n in grown},
                },
            ),
        )
        for (module, args, input_names, output_names, axes), graph in zip(exports, GRAPHS, strict=True):
            torch.onnx.export(
                module,
                args,
                str(folder / f"{graph}.onnx"),
                input_names=input_names,
                output_names=output_names,
                dynamic_axes={"input_ids": sequence, "logits": {0: "batch"}, **common, **axes},
                opset_version=OPSET,
                dynamo=False,
            )
    return layers


def _quantize(folder: Path) -> None:
    """Replace each graph by its dynamically quantized one (int8 weights of MatMul/Gemm)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice on the root logger for every graph
    try:
        for graph in GRAPHS:
            path = folder / f"{graph}.onnx"
            quantized = folder / f"{graph}.int8.onnx"
            quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
            quantized.replace(path)
    finally:
        root.setLevel(level)


def _session(onnxruntime: Any, path: Path, providers: list[str]) -> Any:
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=providers)


def _route_to_sessions(model: Any, sessions: dict[str, Any], layers: int, device: str) -> None:
    """Make `generate` call the sessions: the model's encoder and forward are replaced on this instance."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

    def run(graph: str, feeds: dict[str, Any]) -> list[Any]:
        session = sessions[graph]
        wanted = {item.name for item in session.get_inputs()}  # the exporter drops inputs a graph does not use
        arrays = {key: value.detach().cpu().numpy() for key, value in feeds.items() if key in wanted}
        return [torch.from_numpy(output).to(device) for output in session.run(None, arrays)]

    class OnnxEncoder:
        def forward(self, input_ids: Any, attention_mask: Any, **kwargs: Any) -> Any:
            hidden = run("encoder", {"input_ids": input_ids, "attention_mask": attention_mask})[0]
            return BaseModelOutput(last_hidden_state=hidden)

        __call__ = forward

    encoder = OnnxEncoder()

    def forward(
        decoder_input_ids: Any = None,
        encoder_outputs: Any = None,
        attention_mask: Any = None,
        cache: Any = None,
        **kwargs: Any,
    ) -> Any:
        hidden = encoder_outputs[0]
        feeds = {"encoder_hidden_states": hidden, "attention_mask": attention_mask}
        if cache.get_seq_length() == 0:
            outputs = run("decoder_first", {"decoder_input_ids": decoder_input_ids[:, -1:], **feeds})
            for layer in range(layers):
                keys_values = outputs[1 + 4 * layer : 5 + 4 * layer]
                cache.self_attention_cache.update(keys_values[0], keys_values[1], layer)
                cache.cross_attention_cache.update(keys_values[2], keys_values[3], layer)
                cache.is_updated[layer] = True
        else:
            past = {}
            for layer, tensors in enumerate(_chunks(_flat_cache(cache), 4)):
                for kind, tensor in zip(("self_k", "self_v", "cross_k", "cross_v"), tensors, strict=True):
                    past[f"past_{kind}_{layer}"] = tensor
            outputs = run("decoder_step", {"decoder_input_ids": decoder_input_ids[:, -1:], **feeds, **past})
            for layer, own in enumerate(cache.self_attention_cache.layers):
                own.keys, own.values = outputs[1 + 2 * layer], outputs[2 + 2 * layer]
        return Seq2SeqLMOutput(logits=outputs[0][:, None, :], cache=cache)

    model.get_encoder = lambda *args, **kwargs: encoder
    model.forward = forward


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
