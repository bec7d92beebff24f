"""Query parameters (``?status=paid&status=shipped&shop=s1``) into a list's own filter dataclass,
by the dataclass's field types, so an export takes exactly the filters its list takes — including
fields added to that dataclass later — without a second copy of them.

A field typed ``tuple[...]`` takes the parameter repeated; ``str``, ``int``, ``bool``, aware
``datetime``, ``Literal`` and enum fields (optional or not) take one value. An unknown parameter or a value of the
wrong shape is a ``BadInputError`` naming ``query.<parameter>``. Not for checking values against
what the list knows (each list's ``check`` does that).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.errors import BadInputError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: Parameters a list URL may carry that are not filters (paging, the screen's own state).
IGNORED = frozenset({"cursor", "limit", "offset", "page", "lang"})


def _plain(hint: Any) -> tuple[Any, bool]:
    """The type a field holds once ``None`` is set aside, and whether ``None`` is allowed."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True
    return hint, False


def _one(kind: Any, raw: str, name: str) -> Any:
    where = f"query.{name}"
    if kind is str:
        return raw
    if typing.get_origin(kind) is typing.Literal:
        allowed = typing.get_args(kind)
        if raw not in allowed:
            raise BadInputError(f"{name} {raw!r} is not one of {', '.join(map(str, allowed))}", field=where)
        return raw
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw)
        except ValueError:
            choices = ", ".join(str(m.value) for m in kind)
            raise BadInputError(f"{name} {raw!r} is not one of {choices}", field=where) from None
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise BadInputError(f"{name} must be true or false, not {raw!r}", field=where)
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise BadInputError(f"{name} must be a whole number, not {raw!r}", field=where) from None
    if kind is datetime:
        text = raw.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None and " " in text:  # an unescaped "+08:00" arrives as " 08:00"
            head, _, tail = text.rpartition(" ")
            try:
                moment = datetime.fromisoformat(f"{head}+{tail}")
            except ValueError:
                moment = None
        if moment is None:
            raise BadInputError(f"{name} must be an ISO time with an offset (2026-12-05T18:00+08:00), "
                                f"not {raw!r}", field=where)
        if moment.tzinfo is None:
            raise BadInputError(f"{name} needs a UTC offset (2026-12-05T18:00+08:00)", field=where)
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise BadInputError(f"{name} is out of range", field=where) from None
        return moment
    raise BadInputError(f"{name} cannot be given as a query parameter", field=where)


def accepted(cls: type[Any], *, aliases: Mapping[str, str] | None = None,
             skip: frozenset[str] = frozenset()) -> dict[str, tuple[str, Any]]:
    """Parameter name → (field name, field type) for the filters ``cls`` takes."""
    hints = typing.get_type_hints(cls)
    by_field = {v: k for k, v in (aliases or {}).items()}
    found: dict[str, tuple[str, Any]] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        found[by_field.get(f.name, f.name)] = (f.name, hints[f.name])
    return found


def parse_filters(cls: type[Any], params: Mapping[str, Sequence[str]], *,
                  aliases: Mapping[str, str] | None = None, skip: frozenset[str] = frozenset()) -> Any:
    """An instance of the filter dataclass ``cls`` from ``params`` (name → values given).
    Empty values count as not given, as an empty form field does."""
    known = accepted(cls, aliases=aliases, skip=skip)
    values: dict[str, Any] = {}
    for name, given in params.items():
        given = [v for v in given if v != ""]
        if name in IGNORED or not given:
            continue
        if name not in known:
            raise BadInputError(f"{name} is not a filter of this list; it takes: {', '.join(sorted(known))}",
                                field=f"query.{name}")
        field_name, hint = known[name]
        kind, _ = _plain(hint)
        if typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            values[field_name] = tuple(_one(item, v, name) for v in given)
        elif len(given) > 1:
            raise BadInputError(f"{name} takes one value, got {len(given)}", field=f"query.{name}")
        else:
            values[field_name] = _one(kind, given[0], name)
    return cls(**values)
