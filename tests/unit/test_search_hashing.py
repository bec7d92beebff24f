"""Search hashing: however a person types a name or phone, it hashes like the stored one; the key
comes from the named secret, else the console's session secret, else the database URL; encrypted
and masked addresses are not hashed as full values."""

from __future__ import annotations

import pytest

from contracts.orders import Address
from hub.config import HubConfig, HubSection
from hub.errors import BadInputError
from hub.services.search.hashing import (
    address_hashes,
    key_for,
    last4_hash,
    name_hash,
    normalise_name,
    normalise_phone,
    phone_hash,
)
from hub.services.search.terms import phone_search, quick_search

KEY = b"k" * 32


@pytest.mark.parametrize("typed", ["13812345678", "+86 138-1234-5678", "86 13812345678", "0086 138 1234 5678"])
def test_a_phone_typed_any_way_normalises_to_its_digits(typed: str) -> None:
    assert normalise_phone(typed) == "13812345678"


def test_a_name_ignores_case_and_spaces() -> None:
    assert normalise_name("  Zhang  San ") == normalise_name("zhangsan") == "zhangsan"
    assert name_hash(KEY, "王 小明") == name_hash(KEY, "王小明")


def test_hashes_depend_on_the_key_and_on_the_kind() -> None:
    assert phone_hash(KEY, "13812345678") != phone_hash(b"x" * 32, "13812345678")
    assert last4_hash(KEY, "5678") != phone_hash(KEY, "5678")
    assert "13812345678" not in (phone_hash(KEY, "13812345678") or "")


def test_encrypted_addresses_are_not_hashed_and_a_masked_phone_keeps_only_its_last_four() -> None:
    assert set(address_hashes(KEY, Address(name="~x~", phone="~y~", encrypted=True)).values()) == {None}
    masked = address_hashes(KEY, Address(name="张三", phone="138****5678"))
    assert masked["phone_hash"] is None and masked["phone_last4_hash"] == last4_hash(KEY, "5678")


def test_the_key_comes_from_the_secret_then_the_session_secret_then_the_database(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_SEARCH_KEY", raising=False)
    plain = HubConfig(hub=HubSection(database_url="sqlite+aiosqlite:///a.db"))
    assert key_for(plain)[1] == "database_url"
    assert key_for(plain)[0] == key_for(HubConfig(hub=HubSection(database_url="sqlite+aiosqlite:///a.db")))[0]
    monkeypatch.setenv("HUB_SEARCH_KEY", "a-real-secret")
    assert key_for(HubConfig())[1] == "secret"


def test_the_one_box_tries_last_four_only_for_four_digits_and_a_short_phone_is_refused() -> None:
    assert quick_search("5678", KEY).last4_hash and not quick_search("5678", KEY).phone_hash
    assert quick_search("138 1234 5678", KEY).phone_hash == phone_hash(KEY, "13812345678")
    with pytest.raises(BadInputError) as refused:
        phone_search("12", KEY)
    assert refused.value.field == "query.phone"
