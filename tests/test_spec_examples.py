"""Every example spec validates and its accounting site resolves, without downloading anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.carbon import resolve_site
from greentune.finetune.demo import demo_specs
from greentune.finetune.spec import load_spec

# run specs; examples/sweep-*.yaml are sweep specs (tests/test_sweep_parts.py loads them)
EXAMPLES = sorted(
    path
    for path in (Path(__file__).resolve().parents[1] / "examples").glob("*.yaml")
    if not path.stem.startswith("sweep-")
)


def test_the_replications_are_all_there() -> None:
    names = {path.stem for path in EXAMPLES}
    for expected in (
        "bart-large-samsum",
        "pegasus-xsum",
        "t5-base-cnn-dailymail",
        "prophetnet-cnn-dailymail",
        "led-arxiv",
        "bigbird-pegasus-pubmed",
        "reddit-tifu",
        "gpu-bart-large-shaped",
    ):
        assert expected in names


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_loads_and_its_site_resolves(path: Path) -> None:
    spec = load_spec(path)
    site = resolve_site(spec.site.location, pue=spec.site.pue, sku=spec.site.sku)
    assert site.intensity_gco2eq_per_kwh > 0
    if spec.site.sku:
        assert site.sku_prices, f"no price for {spec.site.sku}"


def test_models_pretrained_in_bf16_are_not_given_fp16() -> None:
    for path in EXAMPLES:
        spec = load_spec(path)
        if any(family in spec.model.name for family in ("t5", "pegasus")):
            assert spec.strategies.precision != "fp16", path.name


def test_gpu_shaped_example_is_bart_large_sized_on_samsum_like_lengths() -> None:
    spec = load_spec(next(path for path in EXAMPLES if path.stem == "gpu-bart-large-shaped"))
    assert spec.model.random_init and spec.data.name == "synthetic"
    assert spec.model.config_overrides["d_model"] == 1024
    assert (spec.data.synthetic_source_mean_tokens, spec.data.synthetic_target_mean_tokens) == (147, 26)


def test_demo_has_a_baseline_and_two_strategies() -> None:
    specs = demo_specs()
    labels = [spec.run_name() for spec in specs]
    assert labels[0] == "demo-baseline" and len(specs) >= 3
    assert specs[1].strategies.freeze == "embeddings"
    assert specs[2].strategies.early_stopping.enabled
