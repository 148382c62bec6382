"""HTTP from the standard library, as the checks need it: no proxies, no exceptions for 4xx/5xx."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Optional

# Seconds one request may take; the checker's --timeout sets it (verify.py passes its own, shorter).
HTTP_TIMEOUT = 10.0


def set_request_timeout(seconds: float) -> None:
    global HTTP_TIMEOUT
    HTTP_TIMEOUT = seconds


def request_timeout() -> float:
    return HTTP_TIMEOUT


@dataclass(frozen=True)
class Response:
    status: int
    body: str

    def json(self):
        return json.loads(self.body)


def http_get(url: str, accept: str = "application/json", headers: Optional[dict] = None,
             context: Optional[ssl.SSLContext] = None, timeout: Optional[float] = None) -> Response:
    """GET that returns 4xx/5xx answers instead of raising; connection problems raise OSError.

    Direct connections only: every address here is the stack's own (ClusterIPs, NodePorts, the API
    server), and an HTTP(S)_PROXY in the environment would send them somewhere that cannot reach them.
    """
    timeout = HTTP_TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers={"Accept": accept, **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode("utf-8", "replace"))


def unreachable(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    return f"not reachable ({reason})"


def as_list(value) -> list:
    """Eureka's JSON codecs write a one-element list as a bare object; normalise."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
