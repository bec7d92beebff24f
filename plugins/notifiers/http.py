"""The HTTP client the HTTP notifiers share: one short-lived ``httpx`` client per send, the hub's
bounded retries around the call, and the mapping of HTTP outcomes to retryable or permanent errors.
"""

from __future__ import annotations

from typing import Any

import httpx

from hub.plugin_api import PermanentError, RetryableError, build_http_client, call_with_retries


async def post_json(url: str, body: bytes, *, headers: dict[str, str] | None = None,
                    params: dict[str, str] | None = None, transport: httpx.AsyncBaseTransport | None = None,
                    timeout_s: float = 10.0) -> httpx.Response:
    """POST ``body`` (JSON bytes) to ``url``; 2xx returns, 429/5xx/transport faults raise
    ``RetryableError`` after the inline retries, other 4xx raise ``PermanentError``."""
    extra: dict[str, Any] = {"transport": transport} if transport is not None else {}

    async def call() -> httpx.Response:
        async with build_http_client(timeout=timeout_s, **extra) as client:
            response = await client.post(url, content=body, params=params,
                                         headers={"content-type": "application/json", **(headers or {})})
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(f"{_host(url)} answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"{_host(url)} refused the notification: HTTP {response.status_code}")
        return response

    try:
        return await call_with_retries(call, attempts=2, max_seconds=10.0)
    except httpx.TransportError as exc:
        raise RetryableError(f"{_host(url)} unreachable: {type(exc).__name__}") from exc


def _host(url: str) -> str:
    """The host only: a robot's URL carries its key, which must not reach logs or the delivery log."""
    return httpx.URL(url).host or "endpoint"
