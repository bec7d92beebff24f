"""API keys: create (plaintext shown once), verify, revoke, list. Only a hash is stored.

A key reads ``chk_<prefix>_<secret>``: ``prefix`` (8 letters/digits) names the key in lists and
logs and finds its row; ``secret`` is 32 random bytes (``secrets.token_urlsafe(32)``). Because the
secret carries 256 bits of entropy, a plain SHA-256 of the whole key cannot be brute-forced, so no
slow password hash (scrypt/PBKDF2) is needed and verifying stays cheap on every request; the
digest is compared in constant time. Creating and revoking record who did it (``created_by``,
``revoked_by`` and an ``audit_log`` entry, in the same transaction), and the last active admin key
is only revoked when the caller insists (``hub apikey revoke --force``): without one, nobody can
manage keys over the API. Not for deciding what a role may do: the API does that.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import audit
from hub.db.tables import ApiKeyRow, utcnow
from hub.errors import BadInputError, HubError

#: ``service`` is customer service; ``finance`` approves money changes and reads profit reports.
ROLES = ("admin", "operator", "service", "warehouse", "finance", "viewer")
KEY_PREFIX = "chk_"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
HASH_SCHEME = "sha256"
#: ``last_used_at`` is written at most this often per key (a write on every request would hurt).
LAST_USED_RESOLUTION = timedelta(minutes=1)

_ALPHABET = string.ascii_letters + string.digits
# Compared against when the prefix is unknown, so a miss costs about what a hit costs.
_DUMMY_HASH = f"{HASH_SCHEME}${hashlib.sha256(b'no such key').hexdigest()}"


class LastAdminKeyError(HubError):
    """Revoking the key would leave no active admin key, or limiting it to some shops no admin key
    of every shop (HTTP 409; the CLI's ``--force`` may)."""


def hash_key(plaintext: str) -> str:
    """The stored form of a key: ``sha256$<hex digest>``."""
    return f"{HASH_SCHEME}${hashlib.sha256(plaintext.encode()).hexdigest()}"


def parse_prefix(plaintext: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) < len(KEY_PREFIX) + PREFIX_LENGTH + 2:
        return None
    prefix = plaintext[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_LENGTH]
    if plaintext[len(KEY_PREFIX) + PREFIX_LENGTH] != "_" or not all(c in _ALPHABET for c in prefix):
        return None
    return prefix


def normalise_shops(shops: list[str] | tuple[str, ...] | None, configured: list[str] | None = None) -> list[str] | None:
    """The shops a key or user is limited to, sorted and without repeats; None (every shop) stays None.

    ``BadInputError`` naming ``shops`` for an empty list (a key seeing nothing is a mistake) and,
    when ``configured`` is given, for a shop not in it."""
    if shops is None:
        return None
    cleaned = sorted({shop.strip() for shop in shops if shop.strip()})
    if not cleaned:
        raise BadInputError("name at least one shop, or none at all for every shop", field="shops")
    if configured is not None:
        unknown = [shop for shop in cleaned if shop not in configured]
        if unknown:
            raise BadInputError(f"unknown shop(s) {', '.join(unknown)}; configured: {', '.join(sorted(configured))}",
                                field="shops")
    return cleaned


async def create_key(session: AsyncSession, *, name: str, role: str, actor: str = "hub",
                     shops: list[str] | None = None) -> tuple[str, ApiKeyRow]:
    """Create a key on behalf of ``actor``; returns the plaintext (shown once, never stored) and its row.

    ``actor`` is how the API and CLI attribute writes (``apikey:<prefix>:<name>``, ``cli:<user>``);
    ``hub`` is for the hub's own callers (the demo, test fixtures). ``shops`` limits the key to
    those shops (None: every shop); callers check the names against the configuration first."""
    shops = normalise_shops(shops)
    if role not in ROLES:
        raise BadInputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role")
    if not name.strip():
        raise BadInputError("an API key needs a name saying who or what uses it", field="name")
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH))
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiKeyRow(name=name.strip(), prefix=prefix, key_hash=hash_key(plaintext), role=role, created_at=utcnow(),
                    created_by=actor[:100], shops=shops)
    session.add(row)
    await session.flush()
    await audit.record(session, actor=actor, action="apikey.created", subject=f"apikey:{prefix}",
                       details={"name": row.name, "role": role} | ({"shops": shops} if shops is not None else {}))
    return plaintext, row


async def unlimited_admins(session: AsyncSession, admins: Select[Any]) -> set[str]:
    """The names among ``admins`` (a select of name and shops) limited to no shop, their rows
    locked first on PostgreSQL (so two admins limiting each other at once cannot both succeed)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        admins = admins.with_for_update()
    # (compared here, not in SQL: a JSON column may hold SQL NULL or JSON null for "every shop")
    return {str(row[0]) for row in (await session.execute(admins)).all() if row[1] is None}


async def set_shops(session: AsyncSession, prefix: str, shops: list[str] | None, *,
                    actor: str = "hub", allow_last_admin: bool = False) -> ApiKeyRow | None:
    """Limit the unrevoked key ``prefix`` to ``shops`` (None: every shop), audit-logged; None when no such key.

    ``LastAdminKeyError`` when limiting the last active admin key of every shop (a limited admin
    key may not manage keys, so nobody could over the API any more), unless ``allow_last_admin``;
    those keys are locked first (PostgreSQL), as for ``revoke_key``."""
    shops = normalise_shops(shops)
    row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None)))
    if row is None:
        return None
    if shops is not None and row.shops is None and row.role == "admin" and not allow_last_admin:
        admins = select(ApiKeyRow.prefix, ApiKeyRow.shops).where(
            ApiKeyRow.role == "admin", ApiKeyRow.revoked_at.is_(None)).order_by(ApiKeyRow.id)
        if await unlimited_admins(session, admins) == {prefix}:
            raise LastAdminKeyError(f"API key {prefix}: this is the last admin key of every shop; limited to "
                                    f"shops it could no longer manage keys; create another admin key first")
    before = row.shops
    row.shops = shops
    await session.flush()
    await audit.record(session, actor=actor, action="apikey.shops_changed", subject=f"apikey:{prefix}",
                       details={"before": before, "after": shops})
    return row


async def verify_key(session: AsyncSession, plaintext: str) -> ApiKeyRow | None:
    """The key's row when ``plaintext`` is a valid, unrevoked key; otherwise None.

    Also refreshes ``last_used_at`` (at most once a minute). When the session had no transaction
    in progress this call commits that update itself; otherwise it rides on the caller's.
    """
    owns_transaction = not session.in_transaction()
    prefix = parse_prefix(plaintext)
    row = None
    if prefix is not None:
        row = await session.scalar(
            select(ApiKeyRow).where(ApiKeyRow.prefix == prefix).execution_options(populate_existing=True)
        )
    expected = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(hash_key(plaintext).encode(), expected.encode())
    if row is None or not matches or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(
            update(ApiKeyRow)
            .where(
                ApiKeyRow.id == row.id,
                or_(ApiKeyRow.last_used_at.is_(None), ApiKeyRow.last_used_at < now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
        )
        row.last_used_at = now
        if owns_transaction:
            await session.commit()
    return row


async def revoke_key(session: AsyncSession, prefix: str, *, actor: str = "hub", allow_last_admin: bool = False) -> bool:
    """Revoke the key with ``prefix`` on behalf of ``actor``; False when no such unrevoked key exists.

    ``LastAdminKeyError`` when it is the last active admin key, unless ``allow_last_admin``. The
    active admin keys are locked first (PostgreSQL), so two admins revoking each other's key at
    once cannot both succeed and leave none.
    """
    admins = select(ApiKeyRow.id, ApiKeyRow.prefix).where(ApiKeyRow.role == "admin", ApiKeyRow.revoked_at.is_(None))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        admins = admins.with_for_update()
    active_admins = {row.prefix for row in (await session.execute(admins.order_by(ApiKeyRow.id))).all()}
    if active_admins == {prefix} and not allow_last_admin:
        raise LastAdminKeyError(f"API key {prefix}: this is the last admin key; create another admin key first")
    result = await session.execute(
        update(ApiKeyRow)
        .where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=actor[:100])
        .returning(ApiKeyRow.id, ApiKeyRow.name, ApiKeyRow.role)
    )
    revoked = result.one_or_none()
    if revoked is None:
        return False
    details: dict[str, object] = {"name": revoked.name, "role": revoked.role}
    if active_admins == {prefix}:
        details["last_admin_key"] = True
    await audit.record(session, actor=actor, action="apikey.revoked", subject=f"apikey:{prefix}", details=details)
    return True


async def list_keys(session: AsyncSession) -> list[ApiKeyRow]:
    """Every key, revoked ones included, oldest first."""
    return list((await session.execute(select(ApiKeyRow).order_by(ApiKeyRow.id))).scalars().all())
