"""Guessing is refused: after ``[console] sign_in_max_failures`` wrong passwords for one user name
— a real user's or not, so the refusal tells nothing about which names exist — that name is
refused (429, saying until when) even with the right password, until the lockout passes; a
success before that clears the count; other names are not affected; API keys tried from one
address lock that address the same way. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from hub.context import Hub
from hub.db import users
from hub.db.tables import SignInFailureRow
from tests.integration.test_api_support import client_for, make_hub, new_key

PASSWORD = "correct horse battery"


def _app(hub: Hub) -> httpx.AsyncClient:
    from hub.api import create_app

    return client_for(create_app(hub))  # type: ignore[return-value]


async def _try(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post("/console/login", data={"csrf_token": token.group(1), "next": "/console", **fields})


async def _hub_with_user(database_url: str) -> Hub:
    hub = make_hub(database_url)
    hub.config.console.sign_in_max_failures = 3
    async with hub.database().transaction() as session:
        await users.create_user(session, name="mei", password=PASSWORD, role="operator", created_by="test")
    return hub


async def _expire_lockouts(hub: Hub) -> None:
    """Move every lockout into the past, as if its time had passed."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with hub.database().transaction() as session:
        await session.execute(update(SignInFailureRow).values(
            locked_until=past, first_failed_at=past - timedelta(hours=1)))


async def test_wrong_passwords_lock_the_name_then_the_lockout_passes(database_url: str) -> None:
    hub = await _hub_with_user(database_url)
    async with _app(hub) as client:
        tries = [(await _try(client, user="mei", password="wrong")).status_code for _ in range(3)]
        locked = await _try(client, user="mei", password=PASSWORD)
        other = await _try(client, user="nobody", password="wrong")
        await _expire_lockouts(hub)
        after = await _try(client, user="mei", password=PASSWORD)
    assert tries == [401, 401, 401]
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert other.status_code == 401  # another name has its own count
    assert after.status_code == 303 and after.headers["location"] == "/console"


async def test_an_unknown_name_locks_like_a_real_one(database_url: str) -> None:
    hub = await _hub_with_user(database_url)
    async with _app(hub) as client:
        for _ in range(3):
            await _try(client, user="ghost", password="wrong")
        ghost = await _try(client, user="ghost", password="wrong")
    assert ghost.status_code == 429


async def test_a_success_clears_the_count(database_url: str) -> None:
    hub = await _hub_with_user(database_url)
    async with _app(hub) as client:
        for _ in range(2):
            await _try(client, user="mei", password="wrong")
        assert (await _try(client, user="mei", password=PASSWORD)).status_code == 303
        client.cookies.clear()
        again = [(await _try(client, user="mei", password="wrong")).status_code for _ in range(2)]
    assert again == [401, 401]  # counted from zero again: two more failures do not lock


async def test_keys_tried_from_one_address_lock_it(database_url: str) -> None:
    hub = await _hub_with_user(database_url)
    key = await new_key(hub, "viewer")
    async with _app(hub) as client:
        tries = [(await _try(client, api_key="chk_wrong")).status_code for _ in range(3)]
        locked = await _try(client, api_key=key)
        by_password = await _try(client, user="mei", password=PASSWORD)
    assert tries == [401, 401, 401] and locked.status_code == 429
    assert by_password.status_code == 303  # a user name is a different subject
