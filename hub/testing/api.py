"""HTTP helpers for tests against the hub's API: an in-process client, API keys, auth headers.

``async with api_client(hub) as client: await client.get("/api/v1/orders", headers=bearer(key))``.
The app runs on the test's own loop (httpx's ASGI transport), so it shares the test's database
engine. For real-HTTP tests use ``hub.asgi_server.BackgroundServer(create_app(hub))``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from hub.context import Hub


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling ``app`` in-process, on the test's own loop."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


@asynccontextmanager
async def api_client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a fresh app built on ``hub``."""
    from hub.api import create_app

    async with client_for(create_app(hub)) as client:
        yield client


async def new_key(hub: Hub, role: str, name: str | None = None) -> str:
    """Create an API key with ``role``; returns the plaintext (shown once, as to a user)."""
    from hub.db import api_keys

    async with hub.database().transaction() as session:
        plaintext, _ = await api_keys.create_key(session, name=name or f"test-{role}", role=role)
    return plaintext


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
