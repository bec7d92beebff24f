"""Douyin pushes: ``event-sign`` verification on the raw bytes, and parsing of message arrays
(kinds, ids, per-message rejections, duplicates and reordering)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import MessageKind
from hub.errors import BadInputError, SignatureError
from plugins.douyin.push import event_sign, parse, parse_push

APP_KEY, SECRET = "1234567890123456789", "test-secret"
VECTOR_BODY = (b'[{"tag":"100","msg_id":"7000000000000000001",'
               b'"data":"{\\"p_id\\":4891234567890123456,\\"shop_id\\":123}"}]')
FIXTURE = Path(__file__).resolve().parents[2] / "plugins" / "douyin" / "fixtures" / "push_batch.json"


def signed(body: bytes, *, app_id: str = APP_KEY, secret: str = SECRET) -> dict[str, str]:
    return {"App-Id": app_id, "Event-Sign": event_sign(app_id, body, secret), "Content-Type": "application/json"}


def body_of(messages: list[dict[str, str]]) -> bytes:
    return json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()


def test_event_sign_matches_derived_vector_2() -> None:
    assert event_sign(APP_KEY, VECTOR_BODY, SECRET) == "da33c14edc8b0677d0bc9310a4bc9504"


def test_a_signed_push_becomes_an_order_trigger_with_the_exact_order_id() -> None:
    receipt = parse_push({"app-id": APP_KEY, "event-sign": "da33c14edc8b0677d0bc9310a4bc9504"}, VECTOR_BODY,
                         APP_KEY, SECRET)
    [message] = receipt.messages
    assert message.kind == MessageKind.ORDER and message.topic == "100"
    assert message.message_id == "7000000000000000001" and message.external_id == "4891234567890123456"
    assert receipt.reply_body == {"code": 0, "msg": "success"} and receipt.reply_status == 200
    assert receipt.rejected == []


def test_several_messages_in_one_post_are_all_returned() -> None:
    body = body_of(json.loads(FIXTURE.read_text())["body"])
    receipt = parse_push(signed(body), body, APP_KEY, SECRET)
    kinds = [(m.kind, m.topic, m.external_id) for m in receipt.messages]
    assert kinds == [(MessageKind.PING, "0", None),
                     (MessageKind.ORDER, "100", "4891234567890123456"),
                     (MessageKind.ORDER, "101", "4891234567890123456"),
                     (MessageKind.AFTERSALE, "206", "7301000000000000002")]
    assert receipt.messages[2].payload["pay_amount"] == 5970


def test_a_ping_is_never_an_order() -> None:
    body = body_of([{"tag": "0", "msg_id": "1", "data": "{}"}])
    [message] = parse_push(signed(body), body, APP_KEY, SECRET).messages
    assert message.kind == MessageKind.PING and message.external_id is None and message.order is None


def test_a_bad_sign_is_refused() -> None:
    headers = signed(VECTOR_BODY)
    headers["Event-Sign"] = "0" * 32
    with pytest.raises(SignatureError):
        parse_push(headers, VECTOR_BODY, APP_KEY, SECRET)


def test_a_tampered_body_is_refused() -> None:
    tampered = VECTOR_BODY.replace(b"4891234567890123456", b"4891234567890123457")
    with pytest.raises(SignatureError):
        parse_push(signed(VECTOR_BODY), tampered, APP_KEY, SECRET)


def test_another_apps_push_is_refused_even_when_signed_with_its_own_key() -> None:
    with pytest.raises(SignatureError, match="app-id"):
        parse_push(signed(VECTOR_BODY, app_id="9999999999999999999"), VECTOR_BODY, APP_KEY, SECRET)


def test_a_push_without_signature_headers_is_refused() -> None:
    with pytest.raises(SignatureError):
        parse_push({}, VECTOR_BODY, APP_KEY, SECRET)


@pytest.mark.parametrize("body", [b'{"tag":"100"}', b"not json", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_array_is_bad_input(body: bytes) -> None:
    with pytest.raises(BadInputError):
        parse_push(signed(body), body, APP_KEY, SECRET)


def test_non_json_data_rejects_that_message_only() -> None:
    body = body_of([{"tag": "100", "msg_id": "1", "data": "{broken"},
                    {"tag": "101", "msg_id": "2", "data": '{"p_id":4891234567890123456}'}])
    receipt = parse_push(signed(body), body, APP_KEY, SECRET)
    assert [m.message_id for m in receipt.messages] == ["2"]
    assert receipt.rejected[0][0] == 0 and "not JSON" in receipt.rejected[0][1]


def test_unknown_tag_is_listed_with_its_reason_and_skipped() -> None:
    body = body_of([{"tag": "400", "msg_id": "1", "data": "{}"},
                    {"tag": "206", "msg_id": "2", "data": '{"aftersale_id":"7301000000000000001"}'}])
    receipt = parse_push(signed(body), body, APP_KEY, SECRET)
    assert receipt.rejected == [(0, "unknown tag '400'")]
    assert [(m.kind, m.external_id) for m in receipt.messages] == [(MessageKind.AFTERSALE, "7301000000000000001")]


@pytest.mark.parametrize("tag", [*range(100, 114), 126])
def test_every_trade_tag_is_an_order_trigger(tag: int) -> None:
    receipt = parse(body_of([{"tag": str(tag), "msg_id": "m", "data": '{"p_id":4891234567890123456}'}]))
    assert receipt.messages[0].kind == MessageKind.ORDER


@pytest.mark.parametrize("tag", [200, 206, 227])
def test_after_sale_tags_are_aftersale_triggers(tag: int) -> None:
    receipt = parse(body_of([{"tag": str(tag), "msg_id": "m", "data": '{"aftersale_id":7301000000000000001}'}]))
    assert receipt.messages[0].kind == MessageKind.AFTERSALE
    assert receipt.messages[0].external_id == "7301000000000000001"


def test_a_trade_message_without_order_id_is_rejected() -> None:
    receipt = parse(body_of([{"tag": "100", "msg_id": "m", "data": '{"shop_id":1}'}]))
    assert receipt.messages == [] and "p_id" in receipt.rejected[0][1]


_events = st.lists(
    st.tuples(st.sampled_from(["100", "101", "102", "206"]), st.integers(0, 10**6)),
    min_size=1, max_size=8, unique_by=lambda e: e[1],
)


@settings(max_examples=60, deadline=None)
@given(events=_events, data=st.data())
def test_duplicated_and_reordered_batches_keep_each_events_identity(events: list[tuple[str, int]],
                                                                    data: st.DataObject) -> None:
    originals = []
    for tag, n in events:
        key = "aftersale_id" if tag == "206" else "p_id"
        originals.append({"tag": tag, "msg_id": str(7_000_000_000_000_000_000 + n),
                          "data": json.dumps({key: 4_891_234_567_890_000_000 + n})})
    sent = data.draw(st.lists(st.sampled_from(originals), min_size=len(originals), max_size=3 * len(originals)))
    sent += originals  # every event arrives at least once
    sent = data.draw(st.permutations(sent))
    expected = {m.message_id: m for m in parse(body_of(originals)).messages}
    body = body_of(sent)
    receipt = parse_push(signed(body), body, APP_KEY, SECRET)
    assert receipt.rejected == []
    assert len(receipt.messages) == len(sent)
    assert {m.message_id for m in receipt.messages} == set(expected)
    for message in receipt.messages:  # a duplicate keeps the same id, kind and object
        original = expected[message.message_id]
        assert (message.kind, message.external_id, message.topic) == \
            (original.kind, original.external_id, original.topic)


@pytest.mark.parametrize(
    ("data", "account_id"),
    [
        ('{"p_id":1,"shop_id":123}', "123"),  # a number, as Douyin sends it
        ('{"p_id":1,"shop_id":"456"}', "456"),
        ('{"p_id":1,"shop_id":9223372036854775807}', "9223372036854775807"),  # int64, exact
        ('{"p_id":1}', None),
        ('{"p_id":1,"shop_id":""}', None),
    ],
)
def test_each_message_names_the_shop_its_data_names(data: str, account_id: str | None) -> None:
    [message] = parse(body_of([{"tag": "101", "msg_id": "m", "data": data}])).messages
    assert message.account_id == account_id


def test_an_after_sale_message_names_its_shop_too() -> None:
    data = '{"aftersale_id":7301000000000000002,"p_id":1,"shop_id":77}'
    [message] = parse(body_of([{"tag": "206", "msg_id": "m", "data": data}])).messages
    assert message.account_id == "77"


WHEN = 1764985600  # 2025-12-06 01:46:40 UTC


@pytest.mark.parametrize(("tag", "data", "occurred"), [
    ("100", {"create_time": WHEN}, WHEN),  # created: the message has no update_time
    ("101", {"pay_time": WHEN, "pay_amount": 1990}, WHEN),
    ("102", {"update_time": WHEN}, WHEN),
    ("103", {"complete_time": WHEN}, WHEN),
    ("106", {"cancel_time": WHEN, "cancel_reason": "不想要了"}, WHEN),
    ("109", {"modify_time": WHEN}, WHEN),
    ("111", {"apply_time": WHEN}, WHEN),
    ("113", {"update_time": WHEN}, WHEN),
    ("200", {"aftersale_id": 7301, "apply_time": WHEN - 60, "update_time": WHEN}, WHEN),  # update_time wins
    ("225", {"aftersale_id": 7301, "success_time": WHEN}, WHEN),
    ("110", {}, None),  # names no time
    ("126", {"exp_delivery_time": WHEN}, None),  # the new ship-by deadline, not when it changed
    ("100", {"create_time": WHEN * 1000}, None),  # milliseconds: not a time this message uses
    ("102", {"update_time": "0"}, None),
])
def test_each_message_says_when_its_change_happened(tag: str, data: dict[str, object], occurred: int | None) -> None:
    """``occurred_at`` is what the hub builds the window of ``get_orders`` from: each tag's own time
    field (the Go SDK's message structs), in Unix seconds."""
    payload = {"p_id": 4891234567890123456, "shop_id": 123, **data}
    [message] = parse(body_of([{"tag": tag, "msg_id": "7000000000000000009", "data": json.dumps(payload)}])).messages
    assert message.occurred_at == (datetime.fromtimestamp(occurred, UTC) if occurred else None)
