"""A platform that keeps failing is backed off, visibly: the breaker pauses the shop for its
cooldown with the reason; a lost authorisation pauses it until a person resumes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.context import Hub
from hub.db import shops
from hub.errors import AuthorizationError, RetryableError, ShopPausedError
from hub.plugins import build_plugin_manager
from hub.services.shop_health import partner_call, run_recorded
from hub.testing.hub import hub_config


async def test_repeated_transient_failures_pause_the_shop_until_the_cooldown(database, database_url) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    shop = f"tb-{database.dialect}-{datetime.now(UTC).timestamp()}"
    for _ in range(5):
        with pytest.raises(RetryableError):
            async with partner_call(hub, shop, "poll"):
                raise RetryableError("isp.top-remote-service-unavailable (TOP code 15)")
    async with database.session() as session:
        status = await shops.shop_status(session, shop)
    assert status is not None and status.paused
    assert "circuit breaker open" in (status.paused_reason or "") and "isp.top-remote" in (status.paused_reason or "")
    assert status.paused_until is not None and status.paused_until > datetime.now(UTC)
    with pytest.raises(ShopPausedError):
        async with partner_call(hub, shop, "poll"):
            pass


async def test_lost_authorisation_pauses_the_shop_without_an_end(database, database_url) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    with pytest.raises(AuthorizationError):
        async with partner_call(hub, "tb-auth", "get order"):
            raise AuthorizationError("shop 'tb-auth': session invalid (TOP code 27); re-authorise the shop")
    async with database.session() as session:
        status = await shops.shop_status(session, "tb-auth")
    assert status is not None and status.paused and status.paused_until is None
    assert "re-authorise" in (status.paused_reason or "")


async def test_a_recorded_job_records_each_outcome_and_retries_all_but_a_lost_authorisation(
        database, database_url) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    shop = f"tb-rec-{database.dialect}-{datetime.now(UTC).timestamp()}"
    seen: list[str | None] = []

    async def record(_hub: Hub, _shop: str, error: BaseException | None) -> None:
        seen.append(None if error is None else type(error).__name__)

    async def fails(error: Exception) -> None:
        raise error

    async def succeeds() -> None:
        return None

    await run_recorded(hub, shop, "poll", lambda: fails(AuthorizationError("session invalid")), record)
    with pytest.raises(RetryableError):  # left to the queue's retries
        await run_recorded(hub, shop, "poll", lambda: fails(RetryableError("isp.timeout")), record)
    await run_recorded(hub, f"{shop}-ok", "poll", succeeds, record)
    assert seen == ["AuthorizationError", "RetryableError", None]
