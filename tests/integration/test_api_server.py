"""The app under a real uvicorn server on its own loop and thread (as ``hub serve`` runs it): it
serves over real HTTP on SQLite and PostgreSQL, and its lifespan closes the loop's engines on
shutdown so no connection outlives the server's loop."""

from __future__ import annotations

import httpx

from hub.api import create_app
from hub.asgi_server import BackgroundServer
from hub.context import Hub
from hub.testing.db import run_in_fresh_loop
from tests.integration.test_api_support import bearer, make_hub, new_key


def test_app_serves_over_http_and_closes_its_loop_resources(database_url: str) -> None:
    hub = make_hub(database_url)
    key = run_in_fresh_loop(lambda: _key(hub))
    closed: list[bool] = []
    original = hub.close_loop_resources

    async def close_and_record() -> None:
        await original()
        closed.append(True)

    hub.close_loop_resources = close_and_record  # type: ignore[method-assign]
    server = BackgroundServer(create_app(hub)).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").status_code == 200
            for _ in range(3):  # several requests share the server loop's engine
                assert client.get("/api/v1/orders", headers=bearer(key)).json() == {"items": [], "next_cursor": None}
            assert "X-Request-ID" in client.get("/healthz").headers
    finally:
        server.stop()
    assert closed == [True], "the lifespan closed the server loop's resources once"


async def _key(hub: Hub) -> str:
    from hub.db.engine import dispose_all_for_loop

    try:
        return await new_key(hub, "viewer")
    finally:
        await dispose_all_for_loop()
