"""Console users: create, verify a password, change it, change their shops, list, deactivate,
reactivate. Only an argon2id hash is stored.

Passwords are people's, low in entropy and reused, so unlike API keys (``hub.db.api_keys``) they get a
deliberately slow, memory-hard hash (argon2id, ``argon2-cffi``'s defaults, RFC 9106 low-memory
profile). A miss on an unknown name still costs one hash, so timing does not say which names exist.
Every change records who made it in the audit log (``user.created``, ``user.password_changed``,
``user.shops_changed``, ``user.deactivated``, ``user.reactivated``; never the password), in the
caller's transaction. The last active admin user is only deactivated, and the last active admin
user of every shop only limited to some shops (a limited admin may not manage users), when the
caller insists (``hub user deactivate|shops --force``), as with the last admin API key. Not for
deciding what a role may do (``hub.api.auth``) nor for sessions (``hub.console.auth``).
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import audit
from hub.db.api_keys import ROLES, normalise_shops, unlimited_admins
from hub.db.tables import UserRow, utcnow
from hub.errors import BadInputError, HubError

MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}"

_hasher = PasswordHasher()
# Verified against when the name is unknown or inactive, so a miss costs about what a hit costs.
_DUMMY_HASH = _hasher.hash("no such user, no such password")


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash (and verify unknown names) with ``hasher`` from now on; a stored hash is always verified
    with the parameters written in it. For test runs only (``hub.testing`` installs a cheap one:
    argon2-cffi's defaults cost ~0.3 s of CPU per hash, which a test's throw-away password does not
    need); a hub never calls it."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("no such user, no such password")


class UserExistsError(BadInputError):
    """The name is taken by another user (deactivated ones included)."""


class LastAdminUserError(HubError):
    """Deactivating the user would leave no active admin user (the console refuses; ``--force`` may)."""


def _subject(name: str) -> str:
    return f"user:{name}"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")


async def create_user(
    session: AsyncSession, *, name: str, password: str, role: str, created_by: str | None,
    shops: list[str] | None = None,
) -> UserRow:
    """Add a user who may sign in with ``name`` and ``password``; the name must be new.

    ``created_by`` is who adds the user, attributed as the API/CLI attribute writes (``cli:<user>``,
    ``user:<name>``, ``apikey:<prefix>:<name>``); it is also the audit entry's actor. ``shops``
    limits what they see to those shops (None: every shop); callers check the names first."""
    shops = normalise_shops(shops)
    if not re.fullmatch(NAME_PATTERN, name):
        raise BadInputError("a user name is letters, digits, '.', '_', '@' or '-' (max 100)", field="name")
    if role not in ROLES:
        raise BadInputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role")
    _check_password(password)
    if await session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise UserExistsError(f"a user named {name!r} already exists", field="name")
    now = utcnow()
    row = UserRow(name=name, password_hash=_hasher.hash(password), role=role, active=True, created_at=now,
                  created_by=created_by, password_changed_at=now, shops=shops)
    session.add(row)
    await session.flush()
    await audit.record(session, actor=created_by or "hub", action="user.created", subject=_subject(name),
                       details={"role": role} | ({"shops": shops} if shops is not None else {}))
    return row


async def verify_password(session: AsyncSession, name: str, password: str) -> UserRow | None:
    """The user's row when ``name`` is an active user and ``password`` is theirs; otherwise None."""
    row = await session.scalar(select(UserRow).where(UserRow.name == name))
    usable = row is not None and row.active
    try:
        _hasher.verify(row.password_hash if usable and row is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not usable or row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):  # parameters raised since it was set
        row.password_hash = _hasher.hash(password)
    return row


async def set_password(session: AsyncSession, name: str, password: str, *, actor: str = "hub") -> bool:
    """Replace the user's password on behalf of ``actor``; False when no such user exists."""
    _check_password(password)
    result = await session.execute(
        update(UserRow).where(UserRow.name == name)
        .values(password_hash=_hasher.hash(password), password_changed_at=utcnow()).returning(UserRow.id)
    )
    if result.scalar_one_or_none() is None:
        return False
    await audit.record(session, actor=actor, action="user.password_changed", subject=_subject(name))
    return True


async def set_shops(session: AsyncSession, name: str, shops: list[str] | None, *, actor: str = "hub",
                    allow_last_admin: bool = False) -> UserRow | None:
    """Limit the user ``name`` (active or not) to ``shops`` (None: every shop), audit-logged
    (``user.shops_changed``, before and after); None when no such user. Callers check the names
    against the configuration first (``normalise_shops(shops, configured)``).

    ``LastAdminUserError`` when limiting the last active admin user who sees every shop (nobody
    could manage users from the console any more), unless ``allow_last_admin``; those admins are
    locked first (PostgreSQL), as for ``deactivate_user``."""
    shops = normalise_shops(shops)
    row = await session.scalar(select(UserRow).where(UserRow.name == name))
    if row is None:
        return None
    if shops is not None and row.shops is None and row.active and row.role == "admin" and not allow_last_admin:
        admins = select(UserRow.name, UserRow.shops).where(
            UserRow.role == "admin", UserRow.active.is_(True)).order_by(UserRow.id)
        if await unlimited_admins(session, admins) == {name}:
            raise LastAdminUserError(f"user {name}: this is the last active admin user of every shop; limited to "
                                     f"shops they could no longer manage users")
    before = row.shops
    row.shops = shops
    await session.flush()
    await audit.record(session, actor=actor, action="user.shops_changed", subject=_subject(name),
                       details={"before": before, "after": shops})
    return row


async def deactivate_user(session: AsyncSession, name: str, *, actor: str = "hub",
                          allow_last_admin: bool = False) -> bool:
    """Stop the user signing in (their open sessions end at their next request); False when unknown or inactive.

    ``LastAdminUserError`` when they are the last active admin user, unless ``allow_last_admin``.
    The active admin users are locked first (PostgreSQL), so two admins deactivating each other
    at once cannot both succeed and leave none.
    """
    admins = select(UserRow.name).where(UserRow.role == "admin", UserRow.active.is_(True))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        admins = admins.with_for_update()
    active_admins = set((await session.execute(admins.order_by(UserRow.id))).scalars())
    last_admin = active_admins == {name}
    if last_admin and not allow_last_admin:
        raise LastAdminUserError(f"user {name}: this is the last active admin user; add another admin user first")
    result = await session.execute(
        update(UserRow).where(UserRow.name == name, UserRow.active.is_(True)).values(active=False)
        .returning(UserRow.role)
    )
    role = result.scalar_one_or_none()
    if role is None:
        return False
    details: dict[str, object] = {"role": role}
    if last_admin:
        details["last_admin_user"] = True
    await audit.record(session, actor=actor, action="user.deactivated", subject=_subject(name), details=details)
    return True


async def reactivate_user(session: AsyncSession, name: str, *, actor: str = "hub") -> bool:
    """Let a deactivated user sign in again (same role and password); False when unknown or already active."""
    result = await session.execute(
        update(UserRow).where(UserRow.name == name, UserRow.active.is_(False)).values(active=True)
        .returning(UserRow.role)
    )
    role = result.scalar_one_or_none()
    if role is None:
        return False
    await audit.record(session, actor=actor, action="user.reactivated", subject=_subject(name),
                       details={"role": role})
    return True


async def get_user(session: AsyncSession, name: str) -> UserRow | None:
    """The user named ``name``, active or not."""
    return await session.scalar(select(UserRow).where(UserRow.name == name).execution_options(populate_existing=True))


async def active_user(session: AsyncSession, name: str) -> UserRow | None:
    """The user named ``name`` if they exist and are active."""
    return await session.scalar(select(UserRow).where(UserRow.name == name, UserRow.active.is_(True)))


async def list_users(session: AsyncSession) -> list[UserRow]:
    """Every user, deactivated ones included, oldest first."""
    return list((await session.execute(select(UserRow).order_by(UserRow.id))).scalars().all())
