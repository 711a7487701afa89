"""`require_hub_for`: a Hub name that is neither local nor cached fails at once when the Hub cannot be reached.

The Hub is a local TCP port here: one that listens, or one just closed (connection refused).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import constants

from greentune.errors import GreentuneError
from greentune.finetune.hub import require_hub_for
from ports import free_port

GREENTUNE = str(Path(sys.executable).parent / "greentune")
NO_PROXY_ENV = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty Hugging Face cache, online mode, no proxy; returns the cache folder."""
    for name in NO_PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_an_uncached_name_with_the_hub_unreachable_is_one_line(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(GreentuneError) as raised:
        require_hub_for("org/typo")
    assert str(raised.value) == (
        f"'org/typo' is not in the local Hugging Face cache and 127.0.0.1:{port} cannot be reached "
        "(Connection refused); check the name and network, or use the built-in minilm-bert2bert offline"
    )


def test_a_reachable_hub_a_cached_name_a_folder_offline_mode_or_a_proxy_need_no_more(
    hub: Path, monkeypatch: pytest.MonkeyPatch, listening_port: int, tmp_path: Path
) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{listening_port}")
    require_hub_for("org/typo")  # the Hub answers: the loader will say whether the name exists

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    snapshot = hub / "models--org--cached" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (hub / "models--org--cached" / "refs").mkdir()
    (hub / "models--org--cached" / "refs" / "main").write_text("abc123")
    require_hub_for("org/cached")
    with pytest.raises(GreentuneError, match="'org/cached' is not in the local Hugging Face cache"):
        require_hub_for("org/cached", "tokenizer_config.json")  # cached is per file
    no_exist = hub / "models--org--cached" / ".no_exist" / "abc123"
    no_exist.mkdir(parents=True)
    (no_exist / "tokenizer_config.json").write_text("")
    require_hub_for("org/cached", "tokenizer_config.json")  # the cache knows the repo has none: loads offline

    require_hub_for(str(tmp_path))  # a local folder
    require_hub_for("not a repo id!")  # left to the loader, which names what is wrong with it
    monkeypatch.setenv("NO_PROXY", "localhost")
    with pytest.raises(GreentuneError, match="'org/typo' is not in the local Hugging Face cache"):
        require_hub_for("org/typo")  # NO_PROXY alone sets no proxy
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    require_hub_for("org/typo")  # a direct connection says nothing about the proxied one
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    require_hub_for("org/typo")  # huggingface_hub fails fast itself


def test_estimate_memory_of_an_unreachable_hub_model_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in NO_PROXY_ENV and name != "HF_HUB_OFFLINE"}
    env.update({"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf")})
    done = subprocess.run(
        [GREENTUNE, "estimate", "--memory", "--hardware", "A100", "--model", "org/typo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"error: 'org/typo' is not in the local Hugging Face cache and 127.0.0.1:{port} cannot be reached "
        "(Connection refused); check the name and network, or use the built-in minilm-bert2bert offline\n"
    )
