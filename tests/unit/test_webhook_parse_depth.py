"""A connector's parser that runs out of recursion on a push is a malformed push (400), not a 500:
however the nesting got past the bracket count (base64, an encoding of the platform's own)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from contracts.events import PushReceipt
from hub.api.routes.webhooks import _parse
from hub.errors import BadInputError


class _DeepParser:
    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushReceipt:
        def descend(depth: int) -> int:
            return descend(depth + 1)

        return PushReceipt(messages=[], reply_body={}, reply_status=descend(0))


def test_a_parser_out_of_recursion_is_bad_input_naming_the_body() -> None:
    with pytest.raises(BadInputError) as raised:
        asyncio.run(_parse(_DeepParser(), {}, b"[]"))
    assert raised.value.field == "body" and "nests too deep" in str(raised.value)
