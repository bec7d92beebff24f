"""The console's door and its locks, through the app in-process: sign-in with a key or a password
(and the clear refusals), form tokens checked on every POST, sessions that expire or end when
the key is revoked, role limits both shown and enforced — and in each refusal nothing changes.
On SQLite only: keys and sessions are checked by hub.db.api_keys, tested on both databases."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from contracts.fulfilment import Hold
from hub.console.auth import SESSION_COOKIE, ConsoleSession, signer_for
from hub.context import Hub
from hub.db import api_keys, users
from hub.db.tables import OrderHoldRow
from hub.services.orders import add_hold, apply_order
from hub.testing.factories import make_order
from tests.integration.test_api_support import client_for, make_hub, new_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PASSWORD = "correct horse battery"


def _app(hub: Hub) -> httpx.AsyncClient:
    from hub.api import create_app

    return client_for(create_app(hub))  # type: ignore[return-value]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


async def _sign_in_with_key(client: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post("/console/login", data={"csrf_token": _csrf(page.text), "api_key": key,
                                                     "next": "/console/orders"})


async def _held_order(hub: Hub) -> int:
    order = make_order(shop="tb-main", created_at=datetime.now(UTC))
    async with hub.database().transaction() as session:
        result = await apply_order(session, order, cause="poll")
        await add_hold(session, result.order_id, Hold(code="high_value", reason="total above 1,000"), cause="system")
    return result.order_id


async def _hold_released(hub: Hub, order_id: int) -> bool:
    async with hub.database().session() as session:
        hold = await session.scalar(select(OrderHoldRow).where(OrderHoldRow.order_id == order_id))
        assert hold is not None
        return hold.released_at is not None


async def test_root_and_console_send_a_stranger_to_sign_in(database_url: str) -> None:
    async with _app(make_hub(database_url)) as client:
        root = await client.get("/")
        console = await client.get("/console/orders?status=paid")
    assert root.status_code == 307 and root.headers["location"] == "/console"
    assert console.status_code == 303
    assert console.headers["location"] == "/console/login?next=/console/orders%3Fstatus%3Dpaid"


async def test_key_sign_in_sets_a_safe_cookie_and_opens_the_console(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "viewer")
    async with _app(hub) as client:
        response = await _sign_in_with_key(client, key)
        cookie = response.headers["set-cookie"]
        orders = await client.get("/console/orders")
    assert response.status_code == 303 and response.headers["location"] == "/console/orders"
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert key not in cookie  # the cookie names the key's prefix, never the key
    assert orders.status_code == 200 and "test-viewer (viewer)" in orders.text


async def test_unknown_key_is_refused_with_the_form_again(database_url: str) -> None:
    async with _app(make_hub(database_url)) as client:
        response = await _sign_in_with_key(client, "chk_AAAAAAAA_not-a-real-secret")
        after = await client.get("/console/orders")
    assert response.status_code == 401 and "unknown or revoked" in response.text
    assert after.status_code == 303  # still not signed in


async def test_password_sign_in_works_and_a_wrong_password_or_deactivated_user_does_not(database_url: str) -> None:
    hub = make_hub(database_url)
    async with hub.database().transaction() as session:
        row = await users.create_user(session, name="li.wei", password=PASSWORD, role="operator", created_by="test")
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    async with _app(hub) as client:
        form = {"csrf_token": _csrf((await client.get("/console/login")).text), "user": "li.wei"}
        wrong = await client.post("/console/login", data={**form, "password": "not the password"})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        right = await client.post("/console/login", data={**form, "password": PASSWORD})
        assert right.status_code == 303
        assert "li.wei (operator)" in (await client.get("/console/orders")).text
        async with hub.database().transaction() as session:
            assert await users.deactivate_user(session, "li.wei")
        ended = await client.get("/console/orders")
        assert ended.status_code == 303 and "expired=1" in ended.headers["location"]
    async with _app(hub) as client:
        form = {"csrf_token": _csrf((await client.get("/console/login")).text), "user": "li.wei"}
        again = await client.post("/console/login", data={**form, "password": PASSWORD})
    assert again.status_code == 401


async def test_a_post_without_the_sessions_form_token_changes_nothing(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "operator")
    order_id = await _held_order(hub)
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        url = f"/console/orders/{order_id}/holds/high_value/release"
        missing = await client.post(url, data={})
        stale = await client.post(url, data={"csrf_token": "a-token-from-an-older-session"})
    for response in (missing, stale):
        assert response.status_code == 403 and "Nothing was changed" in response.text
    assert not await _hold_released(hub, order_id)


async def test_sign_in_form_needs_its_token_too(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "admin")
    async with _app(hub) as client:
        response = await client.post("/console/login", data={"api_key": key, "csrf_token": "forged"})
        after = await client.get("/console/orders")
    assert response.status_code == 403 and after.status_code == 303


async def test_an_expired_session_goes_back_to_sign_in_and_its_posts_change_nothing(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "operator")
    order_id = await _held_order(hub)
    prefix = api_keys.parse_prefix(key)
    old = ConsoleSession(csrf="token-of-an-old-session", kind="key", sub=prefix,
                         iat=int(time.time()) - hub.config.console.session_max_age_s - 1)
    async with _app(hub) as client:
        client.cookies.set(SESSION_COOKIE, signer_for(hub).dump(old), path="/console")
        page = await client.get(f"/console/orders/{order_id}")
        post = await client.post(f"/console/orders/{order_id}/holds/high_value/release",
                                 data={"csrf_token": old.csrf})
    assert page.status_code == 303 and "expired=1" in page.headers["location"]
    assert post.status_code == 401 and "Sign in again" in post.text
    assert not await _hold_released(hub, order_id)


async def test_a_tampered_cookie_is_no_session(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "admin")
    forged = ConsoleSession(csrf="x", kind="key", sub=api_keys.parse_prefix(key), iat=int(time.time()))
    from hub.console.auth import SessionSigner

    async with _app(hub) as client:
        client.cookies.set(SESSION_COOKIE, SessionSigner("another-secret-" * 3, 3600).dump(forged), path="/console")
        response = await client.get("/console/orders")
    assert response.status_code == 303


async def test_a_revoked_key_ends_its_console_session(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "admin")
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        async with hub.database().transaction() as session:
            assert await api_keys.revoke_key(session, api_keys.parse_prefix(key) or "", allow_last_admin=True)
        response = await client.get("/console/orders")
    assert response.status_code == 303


async def test_a_viewer_is_offered_no_release_and_is_refused_when_posting_anyway(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "viewer")
    order_id = await _held_order(hub)
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        page = await client.get(f"/console/orders/{order_id}")
        post = await client.post(f"/console/orders/{order_id}/holds/high_value/release",
                                 data={"csrf_token": _csrf(page.text)})
    assert page.status_code == 200 and "high_value" in page.text and 'data-testid="release-' not in page.text
    assert post.status_code == 403 and "orders.write" in post.text
    assert not await _hold_released(hub, order_id)


async def test_an_operator_releases_a_hold_attributed_to_them(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "operator", name="desk-1")
    order_id = await _held_order(hub)
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        page = await client.get(f"/console/orders/{order_id}")
        assert 'data-testid="release-high_value"' in page.text
        post = await client.post(f"/console/orders/{order_id}/holds/high_value/release",
                                 data={"csrf_token": _csrf(page.text)})
        after = await client.get(post.headers["location"])
        twice = await client.post(f"/console/orders/{order_id}/holds/high_value/release",
                                  data={"csrf_token": _csrf(page.text)})
    assert post.status_code == 303 and await _hold_released(hub, order_id)
    assert "Hold high_value released" in after.text and "desk-1" in after.text
    assert twice.status_code == 409 and "already released" in twice.text


async def test_buyer_details_are_masked_for_roles_without_personal_data(database_url: str) -> None:
    hub = make_hub(database_url)
    order_id = await _held_order(hub)
    pages = {}
    for role in ("viewer", "service"):
        async with _app(hub) as client:
            await _sign_in_with_key(client, await new_key(hub, role))
            pages[role] = (await client.get(f"/console/orders/{order_id}")).text
    assert "13812345678" not in pages["viewer"] and "文一西路969号" not in pages["viewer"]
    assert "13812345678" in pages["service"]


async def test_sign_out_ends_the_session(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "admin"))
        page = await client.get("/console/orders")
        out = await client.post("/console/logout", data={"csrf_token": _csrf(page.text)})
        after = await client.get("/console/orders")
    assert out.status_code == 303 and after.status_code == 303
