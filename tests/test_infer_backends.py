"""Every backend behind `load_summarizer` on a tiny random BART saved as a folder: same summaries as eager where exact.

The tiny model is initialised with large weights (init_std 1) so that its
summaries depend on the input; ONNX Runtime fp32 and CTranslate2 fp32 must
then reproduce eager PyTorch token for token (greedy and beams), and the int8
backends must run and count the same input tokens.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.infer import Backend, GenerationSettings, Precision, UnsupportedConfiguration, load_summarizer
from tiny_models import save_tiny_bart

TEXTS = [
    "we propose a method for summarizing scientific papers with small models and measure its energy",
    "energy",
    "the results show that quantization keeps the quality of the summaries while it halves the time",
]


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_bart(tmp_path_factory.mktemp("tiny-bart"))


def summaries(
    model: str, backend: Backend, precision: Precision = Precision.DEFAULT, beams: int = 1
) -> list[tuple[str, int, int]]:
    settings = GenerationSettings(num_beams=beams, max_new_tokens=8, precision=precision)
    summarizer = load_summarizer(model, backend, settings)
    return [(s.text, s.input_tokens, s.output_tokens) for s in summarizer.summarize(TEXTS)]


def test_onnx_and_ct2_fp32_reproduce_eager_greedy(tiny_bart: str) -> None:
    eager = summaries(tiny_bart, Backend.EAGER)
    assert len({text for text, _, _ in eager}) == 3  # the summaries differ by input, so equality below means something
    assert [tokens for _, tokens, _ in eager] == [19, 3, 22]
    assert summaries(tiny_bart, Backend.ONNX, Precision.FP32) == eager
    assert summaries(tiny_bart, Backend.CT2, Precision.FP32) == eager


def test_onnx_reproduces_eager_beam_search(tiny_bart: str) -> None:
    assert summaries(tiny_bart, Backend.ONNX, Precision.FP32, beams=3) == summaries(tiny_bart, Backend.EAGER, beams=3)


@pytest.mark.parametrize(
    ("backend", "precision"),
    [(Backend.INT8, Precision.DEFAULT), (Backend.ONNX, Precision.INT8), (Backend.CT2, Precision.INT8)],
)
def test_int8_backends_summarize_every_text(tiny_bart: str, backend: Backend, precision: Precision) -> None:
    result = summaries(tiny_bart, backend, precision)
    assert [tokens for _, tokens, _ in result] == [19, 3, 22]
    assert all(1 <= produced <= 8 for _, _, produced in result)


def test_the_loaded_summarizer_reports_its_backend_and_resolved_precision(tiny_bart: str) -> None:
    summarizer = load_summarizer(tiny_bart, Backend.INT8)
    assert summarizer.backend is Backend.INT8
    assert summarizer.settings.precision is Precision.INT8
    assert summarizer.count_input_tokens("energy") == 3


def test_ct2_cannot_convert_a_bert2bert_encoder_decoder() -> None:
    with pytest.raises(UnsupportedConfiguration) as raised:
        load_summarizer("minilm-bert2bert", Backend.CT2)
    assert raised.value.reason == "CTranslate2 has no converter for encoder-decoder models (EncoderDecoderConfig)"


@pytest.mark.parametrize(
    ("backend", "precision", "device", "reason"),
    [
        (Backend.EAGER, Precision.FP16, "cpu", "fp16 on cpu is not supported (use fp32, bf16)"),
        (Backend.INT8, Precision.DEFAULT, "cuda", "no cuda support"),
        (Backend.ONNX, Precision.BF16, "cpu", "bf16 on cpu is not supported (use fp32, int8)"),
    ],
)
def test_unsupported_precision_or_device_is_a_reason_before_loading(
    backend: Backend, precision: Precision, device: str, reason: str
) -> None:
    with pytest.raises(UnsupportedConfiguration) as raised:
        load_summarizer("no-such-model-is-loaded", backend, GenerationSettings(precision=precision), device)
    assert raised.value.reason == reason


def test_bad_device_and_settings_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError, match="device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        load_summarizer("minilm-bert2bert", Backend.EAGER, device="tpu")
    with pytest.raises(
        GreentuneError, match="num_beams, max_new_tokens and max_input_tokens must be whole numbers ≥ 1"
    ):
        load_summarizer("minilm-bert2bert", Backend.EAGER, GenerationSettings(num_beams=0))


@pytest.mark.slow
def test_every_backend_loads_the_same_built_in_model() -> None:
    """The built-in's new cross-attention weights are drawn at load; every load must draw the same ones."""
    import torch

    from greentune.infer.eager import load_transformers_model

    torch.manual_seed(123)
    first = load_transformers_model("minilm-bert2bert").model.state_dict()
    after_first = torch.rand(1)
    torch.manual_seed(123)
    second = load_transformers_model("minilm-bert2bert").model.state_dict()
    assert torch.rand(1) == after_first  # the caller's random state is left as it was
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
