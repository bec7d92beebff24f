"""Checks on raw request input that no route should have to repeat: how deep a body's JSON nests,
and where a NUL character hides in a query string, a path or a JSON body.

Pure functions on bytes and strings, used by ``hub.api.body_limits`` before a route runs (a
RecursionError in ``json.loads`` or a NUL reaching PostgreSQL would otherwise be a 500). Not for
the meaning of any field: the routes' models validate that.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

_OPENERS = frozenset(b"[{")
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
#: A bracket written as a JSON escape (``\u005b``): a ``[`` once the string holding it is parsed.
#: Matched whatever backslashes precede it, so JSON in a string in a string counts too.
_ESCAPED_BRACKET = re.compile(rb"\\u00(?:5[bBdD]|7[bBdD])")
_UNESCAPED = {b"5b": b"[", b"5d": b"]", b"7b": b"{", b"7d": b"}"}


def bracket_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in ``body``, strings included, percent-escapes and
    ``\\uXXXX`` escapes of brackets decoded.

    Deliberately blind to JSON strings: a push often carries JSON inside a JSON string (or a form
    field) that the connector parses in turn, and counting every bracket — also one written as
    ``\\u005b``, which only that second parse turns into a ``[`` — bounds all those parses at
    once. Excess closers never make the depth negative, so they cannot hide openers after them.
    """
    if b"\\u" in body:
        body = _ESCAPED_BRACKET.sub(lambda found: _UNESCAPED[found.group()[-2:].lower()], body)
    depth = deepest = 0
    for byte in body.translate(None, _NOT_BRACKETS):
        if byte in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    if b"%" in body:
        deepest = max(deepest, bracket_depth(unquote_to_bytes(body).replace(b"%", b"")))
    return deepest


def nul_in_query(query_string: bytes) -> str | None:
    """The name of the first query parameter whose name or value holds a NUL, or None."""
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "\\x00")
    return None


def nul_in_json(body: bytes) -> str | None:
    """The dotted path (``body.adjustments.0.merchant_sku``) of the first string of a JSON body
    holding a NUL, as a key or a value; None if there is none or the body is not JSON (the route
    reports that). Call only on bodies already checked for depth."""
    if b"\\u0000" not in body:  # a raw NUL byte is invalid JSON already; only the escape matters
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _find_nul(document, ("body",))


def _find_nul(value: Any, where: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        return ".".join(where) if "\x00" in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return ".".join((*where, key.replace("\x00", "\\x00")))
            items.append((key, item))
    elif isinstance(value, list):
        items = [(str(i), item) for i, item in enumerate(value)]
    for key, item in items:
        found = _find_nul(item, (*where, key))
        if found is not None:
            return found
    return None
