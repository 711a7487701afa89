"""GET-JSON with an on-disk cache, shared by the live intensity clients.

Responses are cached under `$GREENTUNE_CACHE_DIR/http` (default
`~/.cache/greentune/http`), keyed by URL and query — never by credentials,
which are sent as headers. A fresh enough file is served without a request,
so repeated plans do not spend an API quota. `requests` is imported only
when a request is really made.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from greentune.errors import GreentuneError


class HttpStatusError(GreentuneError):
    """The service answered with an error status (`status`)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_api_time(text: str) -> datetime:
    """An API's ISO 8601 time stamp ('2020-06-01T00:00:00Z' or with an offset) as a tz-aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cache_dir() -> Path:
    """Where cached responses live."""
    root = os.environ.get("GREENTUNE_CACHE_DIR") or Path.home() / ".cache" / "greentune"
    return Path(root) / "http"


def _cache_file(url: str, params: Mapping[str, str]) -> Path:
    key = json.dumps([url, sorted(params.items())])
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def get_json(
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    ttl_s: float = 0.0,
) -> Any:
    """GET `url` and return its JSON; served from the cache if younger than `ttl_s` (0: no caching)."""
    params = dict(params or {})
    path = _cache_file(url, params)
    if ttl_s > 0 and path.is_file() and time.time() - path.stat().st_mtime < ttl_s:
        return json.loads(path.read_text(encoding="utf-8"))
    import requests

    host = urlsplit(url).netloc
    try:
        response = requests.get(url, params=params, headers=dict(headers or {}), auth=auth, timeout=30)
    except requests.RequestException as error:
        raise GreentuneError(
            f"could not reach {host} ({type(error).__name__}); check the network or the base URL"
        ) from None
    if not response.ok:
        raise HttpStatusError(
            f"{host} answered HTTP {response.status_code} for {urlsplit(url).path}: {response.text[:200]}",
            response.status_code,
        )
    try:
        data = response.json()
    except ValueError:
        raise GreentuneError(f"{host} did not answer with JSON for {urlsplit(url).path}") from None
    if ttl_s > 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(data), encoding="utf-8")
        partial.replace(path)
    return data
