"""Database URLs in every form operators paste become the async-driver form; upserts compile to
``ON CONFLICT`` on both backends; API key strings parse only when well formed."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from hub.db.api_keys import hash_key, parse_prefix
from hub.db.engine import normalise_url
from hub.db.tables import Binding, Shop
from hub.db.upsert import insert_ignore, upsert
from hub.errors import ConfigError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/hub", "postgresql+asyncpg://u:p@db:5432/hub"),
        ("postgres://u:p@db/hub", "postgresql+asyncpg://u:p@db/hub"),
        ("postgresql+asyncpg://u@db/hub", "postgresql+asyncpg://u@db/hub"),
        ("postgresql+psycopg2://u@db/hub", "postgresql+asyncpg://u@db/hub"),
        ("postgresql://u@db/hub?sslmode=require", "postgresql+asyncpg://u@db/hub?ssl=require"),
        ("sqlite:///./hub.db", "sqlite+aiosqlite:///./hub.db"),
        ("sqlite:////var/lib/hub/hub.db", "sqlite+aiosqlite:////var/lib/hub/hub.db"),
        ("sqlite+aiosqlite:///hub.db", "sqlite+aiosqlite:///hub.db"),
        ("  sqlite://  ", "sqlite+aiosqlite://"),
    ],
)
def test_urls_are_normalised_to_async_drivers(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://u@db/hub", "hub.db", "oracle+cx://x"])
def test_unsupported_urls_are_config_errors_without_the_password(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalise_url(bad)
    assert "postgresql://" in str(info.value)


def test_password_never_appears_in_unsupported_url_errors() -> None:
    with pytest.raises(ConfigError) as info:
        normalise_url("mysql://admin:hunter2@db/hub")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_insert_ignore_and_upsert_compile_to_on_conflict(dialect: object) -> None:
    name = dialect.name  # type: ignore[attr-defined]
    ignore = insert_ignore(Binding, name, ["kind", "platform", "shop", "external_id"]).values(
        kind="order", platform="p", shop="s", external_id="1", internal_id=1
    )
    sql = str(ignore.compile(dialect=dialect))  # type: ignore[arg-type]
    assert "ON CONFLICT (kind, platform, shop, external_id) DO NOTHING" in sql
    stmt = upsert(Shop, name, {"name": "a", "platform": "taobao"}, conflict=["name"], update=["platform"])
    sql = str(stmt.compile(dialect=dialect))  # type: ignore[arg-type]
    assert "ON CONFLICT (name) DO UPDATE SET platform = excluded.platform" in sql
    assert "updated_at = excluded.updated_at" in sql  # onupdate columns are refreshed too


def test_upsert_refuses_unknown_dialects() -> None:
    with pytest.raises(ValueError, match="mysql"):
        insert_ignore(Shop, "mysql")


@pytest.mark.parametrize(
    ("plaintext", "prefix"),
    [
        ("chk_AbCd1234_" + "x" * 43, "AbCd1234"),
        ("chk_AbCd1234_secret_with_underscores", "AbCd1234"),
        ("chk_AbCd123_" + "x" * 43, None),  # prefix too short
        ("chk_AbCd-234_" + "x" * 43, None),  # not a letter or digit
        ("xyz_AbCd1234_" + "x" * 43, None),
        ("chk_AbCd1234", None),
        ("", None),
    ],
)
def test_api_key_prefix_parses_only_from_well_formed_keys(plaintext: str, prefix: str | None) -> None:
    assert parse_prefix(plaintext) == prefix


def test_api_key_hash_is_sha256_and_hides_the_key() -> None:
    digest = hash_key("chk_AbCd1234_secret")
    assert digest.startswith("sha256$") and len(digest) == 7 + 64
    assert "secret" not in digest
