"""Authorising a Douyin shop end to end, over real HTTP against the sandbox: an authorisation code
becomes a token pair (``token.create``), orders are fetched with it, the token is refreshed before
it expires and when the platform says it did, and a dead refresh token needs a person. Then the
same through the hub: ``POST /api/v1/shops/{shop}/authorize`` and ``hub shop authorize``, which
resume a shop paused for its authorisation. Time moves on the platform's and the client's clocks,
never by waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import Hub, build_hub
from hub.db import shops as shop_rows
from hub.errors import AuthorizationError, BadInputError
from hub.plugins import build_plugin_manager
from hub.testing.api import api_client, bearer, new_key
from hub.testing.context import make_context
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox, running

SHOP = "dy-auth"
WEEK = 7 * 86_400
pytestmark = pytest.mark.e2e


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served() -> Iterator[tuple[DouyinSandbox, str, Clock]]:
    box = DouyinSandbox(auto_deliver=False, seed=11)
    clock = Clock()
    box.book.clock = clock
    with running(box) as base_url:
        yield box, base_url, clock


def unauthorised_settings(box: DouyinSandbox, base_url: str, **overrides: Any) -> dict[str, Any]:
    """What an operator configures before authorising: app credentials and shop id, no tokens."""
    settings = box.shop_settings(SHOP, base_url)
    del settings["access_token"], settings["refresh_token"]
    return {**settings, **overrides}


@pytest.fixture
async def channel(served: tuple[DouyinSandbox, str, Clock]) -> AsyncIterator[DouyinChannel]:
    box, base_url, clock = served
    connector = DouyinChannel(make_context(DouyinChannel, SHOP, unauthorised_settings(box, base_url)))
    connector.client.clock = clock
    yield connector
    await connector.aclose()


def window(clock: Clock) -> tuple[datetime, datetime]:
    now = datetime.fromtimestamp(clock.now, UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=1)


async def fetched_ids(channel: DouyinChannel, clock: Clock) -> set[str]:
    return {o.ref.external_id for o in (await channel.fetch_orders(*window(clock), None)).orders}


async def test_code_to_token_to_orders_to_refresh(served: tuple[DouyinSandbox, str, Clock],
                                                  channel: DouyinChannel) -> None:
    box, _, clock = served
    with pytest.raises(AuthorizationError, match="not authorised"):
        await channel.get_order("1")

    authorization = await channel.authorize(box.authorization_code(SHOP))
    state = channel.context.state.values  # type: ignore[attr-defined]
    assert authorization.account_id == str(box.book.shop(SHOP).shop_id)
    assert authorization.expires_at == datetime.fromtimestamp(int(clock.now) + WEEK, UTC)
    assert state["access_token"] == box.grant(SHOP).access_token
    assert int(state["access_token_expires_at"]) == int(clock.now) + WEEK
    first_token = state["access_token"]

    first = box.create_order(SHOP, "TEE", 1)
    assert await fetched_ids(channel, clock) == {first}
    assert box.calls == ["token.create", "order.searchList"]

    clock.now += WEEK - 1200  # 20 minutes before expiry: refreshed first, never refused
    second = box.create_order(SHOP, "TEE", 1)
    assert second in await fetched_ids(channel, clock)
    assert box.calls[-2:] == ["token.refresh", "order.searchList"]
    assert state["access_token"] == box.grant(SHOP).access_token != first_token
    assert int(state["access_token_expires_at"]) == int(clock.now) + WEEK


async def test_a_token_the_platform_says_expired_is_refreshed_and_the_call_retried(
        served: tuple[DouyinSandbox, str, Clock], channel: DouyinChannel) -> None:
    box, _, _ = served
    await channel.authorize(box.authorization_code(SHOP))
    order_id = box.create_order(SHOP, "TEE", 1)
    box.expire_token(SHOP)  # early, e.g. the merchant changed something: the hub's expiry is still ahead
    assert (await channel.get_order(order_id)).ref.external_id == order_id
    assert box.calls[-3:] == ["order.orderDetail", "token.refresh", "order.orderDetail"]


async def test_a_dead_refresh_token_asks_for_a_new_authorisation(served: tuple[DouyinSandbox, str, Clock],
                                                                 channel: DouyinChannel) -> None:
    box, _, clock = served
    await channel.authorize(box.authorization_code(SHOP))
    clock.now += 15 * 86_400  # the hub was off for two weeks
    with pytest.raises(AuthorizationError, match="re-authorise") as info:
        await channel.fetch_orders(*window(clock), None)
    assert "token-expired" in str(info.value)


async def test_a_refused_code_says_why_and_stores_nothing(served: tuple[DouyinSandbox, str, Clock],
                                                          channel: DouyinChannel) -> None:
    box, _, clock = served
    code = box.authorization_code(SHOP)
    clock.now += 601
    with pytest.raises(BadInputError, match="code-expired") as info:
        await channel.authorize(code)
    assert info.value.field == "code"
    assert "access_token" not in channel.context.state.values  # type: ignore[attr-defined]
    with pytest.raises(BadInputError, match="code-invalid"):
        await channel.authorize("made-up")


async def test_a_code_for_another_shop_is_refused(served: tuple[DouyinSandbox, str, Clock],
                                                  channel: DouyinChannel) -> None:
    box, _, _ = served
    with pytest.raises(BadInputError, match="configured with shop_id"):
        await channel.authorize(box.authorization_code("someone-elses-shop"))
    assert "access_token" not in channel.context.state.values  # type: ignore[attr-defined]


async def test_a_self_use_app_takes_its_own_token(served: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = served
    connector = DouyinChannel(make_context(DouyinChannel, SHOP, unauthorised_settings(box, base_url,
                                                                                      app_type="self")))
    connector.client.clock = clock
    order_id = box.create_order(SHOP, "TEE", 1)
    assert (await connector.get_order(order_id)).ref.external_id == order_id
    await connector.aclose()
    assert box.calls == ["token.create", "order.orderDetail"]


# --------------------------------------------------------------------------- through the hub


def hub_for(database_url: str, box: DouyinSandbox, base_url: str) -> Hub:
    shop = ShopConfig(platform="douyin", settings=unauthorised_settings(box, base_url))
    config = HubConfig(hub=HubSection(database_url=database_url), shops={SHOP: shop})
    return build_hub(config, plugins=build_plugin_manager())


async def pause_for_authorisation(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        await shop_rows.ensure_shops(session, [(SHOP, "douyin")])
        await shop_rows.pause_shop(session, SHOP, "Douyin refused to refresh the access token")


async def shop_status(hub: Hub) -> str:
    async with hub.database().session() as session:
        found = await shop_rows.shop_status(session, SHOP)
    assert found is not None
    return found.status


async def test_an_admin_authorises_a_paused_shop_over_the_api(database_url: str,
                                                              served: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = served
    clock.now = datetime.now(UTC).timestamp()  # the hub's own connector runs on the real clock
    hub = hub_for(database_url, box, base_url)
    await pause_for_authorisation(hub)
    admin, operator = await new_key(hub, "admin"), await new_key(hub, "operator")
    path = f"/api/v1/shops/{SHOP}/authorize"
    async with api_client(hub) as client:
        forbidden = await client.post(path, json={"code": box.authorization_code(SHOP)}, headers=bearer(operator))
        unknown = await client.post("/api/v1/shops/nope/authorize", json={"code": "x"}, headers=bearer(admin))
        empty = await client.post(path, json={"code": ""}, headers=bearer(admin))
        refused = await client.post(path, json={"code": "made-up"}, headers=bearer(admin))
        still_paused = await shop_status(hub)
        done = await client.post(path, json={"code": box.authorization_code(SHOP)}, headers=bearer(admin))
        order_id = box.create_order(SHOP, "TEE", 1)
        fetched = await hub.accounts().channel(SHOP).get_order(order_id)
    await hub.close_loop_resources()
    assert forbidden.status_code == 403 and unknown.status_code == 404 and empty.status_code == 422
    assert refused.status_code == 400 and "code-invalid" in refused.json()["detail"]
    assert refused.json()["field"] == "code" and still_paused == "paused"
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["account_id"] == str(box.book.shop(SHOP).shop_id) and body["resumed"] is True
    assert body["authorized_by"].startswith("apikey:") and body["authorized_by"].endswith(":test-admin")
    assert await shop_status(hub) == "active"
    assert fetched.ref.external_id == order_id  # with the token the code bought, kept in the shop state


def test_hub_shop_authorize_on_the_command_line(database_url: str, served: tuple[DouyinSandbox, str, Clock],
                                                tmp_path: Path) -> None:
    box, base_url, clock = served
    clock.now = datetime.now(UTC).timestamp()
    settings = unauthorised_settings(box, base_url)
    toml = "\n".join([f"[shops.{SHOP}]", 'platform = "douyin"', f"[shops.{SHOP}.settings]",
                      *(f"{key} = {_toml(value)}" for key, value in settings.items())])
    config = tmp_path / "hub.toml"
    config.write_text(toml + "\n", encoding="utf-8")
    env = {"HUB_DATABASE_URL": database_url}
    runner = CliRunner()
    refused = runner.invoke(cli, ["--config", str(config), "shop", "authorize", SHOP, "--code", "made-up"], env=env)
    done = runner.invoke(cli, ["--config", str(config), "shop", "authorize", SHOP, "--code",
                               box.authorization_code(SHOP)], env=env)
    assert refused.exit_code == 2 and "code-invalid" in refused.output
    assert done.exit_code == 0, done.output
    assert f"authorised as platform shop {box.book.shop(SHOP).shop_id}" in done.output
    assert box.calls.count("token.create") == 2


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value) + '"'
