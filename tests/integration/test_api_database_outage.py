"""While the database cannot be reached, the API and the push URLs answer 503 with Retry-After on
one warning line, not a 500 with a traceback per request: a platform pushes again, a client
retries, and an operator reads one line per request saying what is down. The database here is a
PostgreSQL URL on a port nothing listens on (the shared server is never stopped)."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from hub.asgi_server import free_port
from hub.config import HubConfig, HubSection
from hub.context import build_hub
from hub.plugins import build_plugin_manager
from tests.integration.test_api_support import FakeChannelsPlugin, api, push_shop, sign


async def test_requests_while_the_database_is_unreachable_get_503_on_one_warning_line() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/hub"
    config = HubConfig(hub=HubSection(database_url=url), shops={"fp-main": push_shop()})
    hub = build_hub(config, plugins=build_plugin_manager(extra=[FakeChannelsPlugin()], load_entry_points=False))
    body = json.dumps({"events": [{"id": "m-1", "order": "1"}]}).encode()
    with capture_logs() as logs:
        async with api(hub) as client:
            pushed = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
            listed = await client.get("/api/v1/orders", headers={"Authorization": "Bearer chk_abcdefgh_x"})
    await hub.close_loop_resources()
    for response in (pushed, listed):
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "unavailable" and "database" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) > 0
    lines = [entry for entry in logs if entry["event"] == "request.database_unavailable"]
    assert len(lines) == 2 and all(entry["log_level"] == "warning" for entry in lines)
    assert not [entry for entry in logs if "exc_info" in entry or entry["log_level"] == "error"]
