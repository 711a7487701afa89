"""Fail in seconds, not in half a minute, when a Hub model is needed and the Hub cannot be reached.

huggingface_hub retries a failed connection five times with exponential
backoff (1 + 2 + 4 + 8 + 8 s) before transformers reports that it could not
connect: on a machine without network, a typo in a model name cost ~28 s and
a retry warning before its one-line error. `require_hub_for` asks first
whether the name needs the Hub at all (a local folder, a name already in the
local Hugging Face cache, or offline mode set: no), and if so opens one TCP
connection to the endpoint's host. Written by hand because huggingface_hub
has no "is the Hub reachable" call and its retry count is not configurable
from outside. Behind a proxy (``HTTPS_PROXY`` and friends) nothing is probed:
a direct connection failing says nothing about the proxied one.
"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from greentune.errors import GreentuneError

PROBE_TIMEOUT_S = 5.0
_DEFAULT_PORTS = {"https": 443, "http": 80}


def require_hub_for(name: str, filename: str = "config.json") -> None:
    """Return when ``name`` can load without the Hub (a folder, ``filename`` cached, offline mode) or the Hub
    answers; else one `GreentuneError` line. A name that is no valid repo id is left to the loader to report."""
    from huggingface_hub import constants, try_to_load_from_cache

    endpoint = urlsplit(constants.ENDPOINT)
    proxied = {endpoint.scheme, "all"} & set(urllib.request.getproxies())  # a bare NO_PROXY is no proxy
    if Path(name).is_dir() or constants.HF_HUB_OFFLINE or proxied:
        return
    try:
        if try_to_load_from_cache(name, filename) is not None:
            return  # the cached copy, or the cached fact that the repo has no such file: transformers copes offline
    except ValueError:  # huggingface_hub's HFValidationError: not a repo id
        return
    host, port = endpoint.hostname or "", endpoint.port or _DEFAULT_PORTS.get(endpoint.scheme, 443)
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise GreentuneError(
            f"'{name}' is not in the local Hugging Face cache and {endpoint.netloc} cannot be reached ({reason}); "
            "check the name and network, or use the built-in minilm-bert2bert offline"
        ) from None
