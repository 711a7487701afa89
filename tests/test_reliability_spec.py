"""Hostile specs: a huge file, a YAML alias bomb, an unbounded free-form dict, a bool where a number goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.finetune.spec import MAX_SPEC_BYTES, load_spec, validate_spec

ALIAS_BOMB = """
model:
  config_overrides:
    a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
"""


def test_a_spec_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text("# padding\n" * (MAX_SPEC_BYTES // 10 + 1))
    with pytest.raises(GreentuneError, match=f"is {spec.stat().st_size} bytes; a spec may be at most 1000000 bytes"):
        load_spec(spec)


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(ALIAS_BOMB)
    with pytest.raises(GreentuneError, match=r"YAML aliases \(\*name\) are not allowed"):
        load_spec(spec)


def test_an_alias_in_a_set_value_is_not_expanded(tmp_path: Path) -> None:
    # the value stays text, and text is not a valid mapping for config_overrides
    with pytest.raises(GreentuneError, match="model.config_overrides"):
        load_spec(None, ["model.config_overrides=[&a [1], *a]"])


def test_config_overrides_are_bounded() -> None:
    with pytest.raises(GreentuneError, match="model.config_overrides: Value error, at most 100 keys, got 101"):
        validate_spec({"model": {"config_overrides": {f"k{index}": index for index in range(101)}}})
    with pytest.raises(
        GreentuneError, match="at most 20000 characters as JSON, got 30012"
    ):  # {"k": "…"}: 7 + 30003 + 2
        validate_spec({"model": {"config_overrides": {"k": "x" * 30003}}})


@pytest.mark.parametrize("key", ["strategies.batch_size", "train.epochs", "data.max_source_tokens", "site.pue"])
def test_true_is_not_a_number(key: str) -> None:
    with pytest.raises(GreentuneError, match=f"{key}: Value error, expected a number or a word, not true/false"):
        load_spec(None, [f"{key}=true"])


def test_a_bool_where_a_bool_goes_and_yaml_no_still_work() -> None:
    spec = load_spec(None, ["strategies.lora.enabled=true", "train.eval_strategy=no"])
    assert spec.strategies.lora.enabled is True and spec.train.eval_strategy == "no"


@pytest.mark.parametrize("name", ["two\nlines", "tab\there", "bell\x07"])
def test_names_with_control_characters_are_refused(name: str) -> None:
    with pytest.raises(GreentuneError, match="must be printable text on one line"):
        validate_spec({"ledger": {"run_name": name}})
    with pytest.raises(GreentuneError, match="must be printable text on one line"):
        validate_spec({"ledger": {"experiment": name}})


def test_a_sweep_file_and_its_base_spec_are_read_as_a_spec_is(tmp_path: Path) -> None:
    from greentune.sweep.spec import load_sweep

    space = "space: {train.learning_rate: {choice: [0.001]}}\n"
    bomb = tmp_path / "sweep-bomb.yaml"
    bomb.write_text(f"name: bomb\nbase:{ALIAS_BOMB.replace(chr(10), chr(10) + '  ')}\n{space}")
    with pytest.raises(GreentuneError, match=r"YAML aliases \(\*name\) are not allowed"):
        load_sweep(bomb)
    (tmp_path / "base-bomb.yaml").write_text(ALIAS_BOMB)
    (tmp_path / "sweep-base-bomb.yaml").write_text(f"base: base-bomb.yaml\n{space}")
    with pytest.raises(GreentuneError, match=r"YAML aliases \(\*name\) are not allowed"):
        load_sweep(tmp_path / "sweep-base-bomb.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_SPEC_BYTES // 10 + 1))
    (tmp_path / "sweep-big.yaml").write_text(f"base: big.yaml\n{space}")
    with pytest.raises(GreentuneError, match=f"is {big.stat().st_size} bytes; a spec may be at most 1000000 bytes"):
        load_sweep(tmp_path / "sweep-big.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\x9a\xff\x00")
    (tmp_path / "sweep-binary.yaml").write_text(f"base: binary.yaml\n{space}")
    with pytest.raises(GreentuneError) as binary:
        load_sweep(tmp_path / "sweep-binary.yaml")
    assert str(binary.value) == (
        f"{tmp_path / 'binary.yaml'} is not valid YAML "
        "('utf-8' codec can't decode byte 0x9a in position 0: invalid start byte); fix the file"
    )
