"""API keys on SQLite and the real PostgreSQL: a created key verifies, a wrong or revoked one does
not, and the database never holds the key itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.db import api_keys
from hub.db.engine import Database
from hub.db.tables import ApiKeyRow, utcnow
from hub.errors import BadInputError


async def _create(database: Database, role: str = "operator") -> tuple[str, ApiKeyRow]:
    async with database.transaction() as session:
        return await api_keys.create_key(session, name="ci bot", role=role)


async def test_created_key_verifies_and_has_its_role(database: Database) -> None:
    plaintext, row = await _create(database)
    assert plaintext.startswith(f"chk_{row.prefix}_") and len(row.prefix) == 8
    async with database.transaction() as session:
        found = await api_keys.verify_key(session, plaintext)
    assert found is not None and found.id == row.id and found.role == "operator"


async def test_only_a_hash_is_stored(database: Database) -> None:
    plaintext, row = await _create(database)
    secret = plaintext[len(f"chk_{row.prefix}_") :]
    async with database.session() as session:
        stored = (await session.execute(select(ApiKeyRow).where(ApiKeyRow.id == row.id))).scalar_one()
    every_value = " ".join(str(getattr(stored, c.key)) for c in ApiKeyRow.__table__.columns)
    assert plaintext not in every_value and secret not in every_value
    assert stored.key_hash.startswith("sha256$")


@pytest.mark.parametrize("tamper", ["wrong secret", "wrong prefix", "garbage", "empty"])
async def test_wrong_keys_do_not_verify(database: Database, tamper: str) -> None:
    plaintext, row = await _create(database)
    candidate = {
        "wrong secret": plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"),
        "wrong prefix": plaintext.replace(row.prefix, "Zz9Zz9Zz", 1),
        "garbage": "Bearer nonsense",
        "empty": "",
    }[tamper]
    async with database.transaction() as session:
        assert await api_keys.verify_key(session, candidate) is None


async def test_revoked_key_no_longer_verifies(database: Database) -> None:
    plaintext, row = await _create(database)
    async with database.transaction() as session:
        assert await api_keys.revoke_key(session, row.prefix) is True
        assert await api_keys.revoke_key(session, row.prefix) is False  # already revoked
    async with database.transaction() as session:
        assert await api_keys.verify_key(session, plaintext) is None
        listed = await api_keys.list_keys(session)
    assert [(k.prefix, k.revoked_at is not None) for k in listed] == [(row.prefix, True)]


async def test_bad_role_is_refused_naming_the_field(database: Database) -> None:
    with pytest.raises(BadInputError) as info:
        await _create(database, role="superuser")
    assert info.value.field == "role" and "superuser" in str(info.value)


async def test_last_used_is_recorded_at_most_once_a_minute(database: Database) -> None:
    plaintext, row = await _create(database, role="viewer")
    async with database.session() as session:  # no transaction open: verify commits its own update
        await api_keys.verify_key(session, plaintext)
    async with database.session() as session:
        first = await session.scalar(select(ApiKeyRow.last_used_at).where(ApiKeyRow.id == row.id))
    assert first is not None and abs(first - utcnow()) < timedelta(seconds=30)
    async with database.session() as session:
        await api_keys.verify_key(session, plaintext)
        second = await session.scalar(select(ApiKeyRow.last_used_at).where(ApiKeyRow.id == row.id))
    assert second == first  # within the minute: not written again
    an_hour_ago = utcnow() - timedelta(hours=1)
    async with database.transaction() as session:
        await session.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=an_hour_ago))
    async with database.transaction() as session:
        await api_keys.verify_key(session, plaintext)
    async with database.session() as session:
        third = await session.scalar(select(ApiKeyRow.last_used_at).where(ApiKeyRow.id == row.id))
    assert third is not None and third > an_hour_ago + timedelta(minutes=59)


async def test_every_role_can_be_created(database: Database) -> None:
    for role in api_keys.ROLES:
        plaintext, _ = await _create(database, role=role)
        async with database.session() as session:
            found = await api_keys.verify_key(session, plaintext)
        assert found is not None and found.role == role
