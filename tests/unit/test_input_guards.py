"""The raw-input checks the API runs before any route: bracket depth (what would blow
``json.loads``' recursion, in a body or in JSON nested inside its strings or form fields) and where
a NUL hides in a query or a JSON body."""

from __future__ import annotations

import pytest

from hub.api.input_guards import bracket_depth, nul_in_json, nul_in_query


@pytest.mark.parametrize(("body", "depth"), [
    (b"", 0),
    (b'{"a": [1, {"b": 2}]}', 3),
    (b'{"data": "{\\"inner\\": [[1]]}"}', 4),          # JSON inside a JSON string counts too
    (b"content=%7B%22a%22%3A%5B%5B1%5D%5D%7D", 3),     # and inside a form field
    (b'{"data": "\\u005b\\u007B1\\u007d\\u005D"}', 3),  # brackets escaped in a string, either case
    (b'{"d": "\\\\u005b\\\\u005b"}', 3),                # escaped again, for a string in a string
    (b"content=%5Cu005b%5Cu005b", 2),                  # and percent-encoded in a form field
    (b"]]]]" + b"[" * 10, 10),                         # excess closers do not hide openers
    (b"[" * 100_000, 100_000),
])
def test_bracket_depth(body: bytes, depth: int) -> None:
    assert bracket_depth(body) == depth


@pytest.mark.parametrize(("query", "name"), [
    (b"buyer=tom&sku=A1", None),
    (b"buyer=%00", "buyer"),
    (b"limit=5&cursor=ab%00c", "cursor"),
])
def test_nul_in_query_names_the_parameter(query: bytes, name: str | None) -> None:
    assert nul_in_query(query) == name


@pytest.mark.parametrize(("body", "field"), [
    (b'{"name": "ops"}', None),
    (b'{"name": "ops\\u0000"}', "body.name"),
    (b'{"adjustments": [{"sku": "A"}, {"sku": "B\\u0000"}]}', "body.adjustments.1.sku"),
    (b'{"not json', None),
])
def test_nul_in_json_names_the_field(body: bytes, field: str | None) -> None:
    assert nul_in_json(body) == field
