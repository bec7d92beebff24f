"""Logs never carry a secret or a buyer's phone, name or street — whether they come from structlog,
the standard library (uvicorn, dramatiq) or an exception's text — and come out as JSON lines with
ISO timestamps."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from hub.logging import configure_logging, mask_event, scrub_text
from hub.testing.factories import make_order

SECRET = "s3cr3t-APP-SECRET-value"
PHONE = "13812345678"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    yield stream
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "hub":
            root.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_event_is_a_json_line_with_iso_timestamp_and_masked_fields(output: io.StringIO) -> None:
    structlog.get_logger("hub.test").info(
        "push.rejected",
        app_secret=SECRET,
        access_token=SECRET,
        authorization=f"Bearer {SECRET}",
        receiver_mobile=PHONE,
        receiver_name="张三丰",
        receiver_address="浙江省杭州市文一西路969号",
        note=f"buyer called from {PHONE} about it",
        shop="tb-flagship",
        order_id="19900001111",
    )
    text = output.getvalue()
    assert SECRET not in text and PHONE not in text and "张三丰" not in text and "文一西路" not in text
    (line,) = _lines(output)
    assert line["event"] == "push.rejected" and line["level"] == "info" and line["logger"] == "hub.test"
    assert str(line["timestamp"]).endswith("Z") and "T" in str(line["timestamp"])
    assert line["app_secret"] == "***" and line["access_token"] == "***" and line["authorization"] == "***"
    assert line["receiver_mobile"] == "138****5678"
    assert line["receiver_name"] == "张**"
    assert line["note"] == "buyer called from 138****5678 about it"
    assert line["shop"] == "tb-flagship"
    assert line["order_id"] == "19900001111", "ids are never mistaken for phone numbers"


def test_standard_library_records_are_rendered_and_scrubbed(output: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("GET /cb?app_key=1&sign=%s&session=%s from %s", SECRET, SECRET, PHONE)
    logging.getLogger("dramatiq.worker").info("retrying", extra={"password": SECRET})
    text = output.getvalue()
    assert SECRET not in text and PHONE not in text
    first, second = _lines(output)
    assert first["logger"] == "uvicorn.error" and first["level"] == "warning"
    assert "sign=***" in str(first["event"]) and "138****5678" in str(first["event"])
    assert second["password"] == "***"


def test_exception_text_is_scrubbed(output: io.StringIO) -> None:
    try:
        raise RuntimeError(f"partner said: token={SECRET} for buyer +86 138 1234 5678")
    except RuntimeError:
        structlog.get_logger("hub.test").exception("partner.failed")
    text = output.getvalue()
    assert SECRET not in text and "1234 5678" not in text
    (line,) = _lines(output)
    assert "RuntimeError" in str(line["exception"])


def test_canonical_models_are_logged_in_their_masked_form() -> None:
    order = make_order()
    event = mask_event(None, "info", {"event": "order.ingested", "order": order, "address": order.shipping_address})
    rendered = json.dumps(event, ensure_ascii=False)
    assert PHONE not in rendered and "文一西路" not in rendered and "张三" not in rendered
    assert event["order"]["ref"]["external_id"] == order.ref.external_id


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("client_secret", "abc", "***"),
        ("X-Api-Key", "hub_abcdef", "***"),
        ("sign_method", "md5", "***"),
        ("assignee", "alice", "alice"),
        ("phone", PHONE, "138****5678"),
        ("tel", "0571-88888888", "057****8888"),
        ("hotel", "Hilton", "Hilton"),
        ("name", "Jane Doe", "J***"),
        ("shop_name", "tb-flagship", "tb-flagship"),
        ("street", "1 Infinite Loop", "****"),
        ("buyer", {"nick": "tb_nick", "phone": PHONE}, {"nick": "tb_nick", "phone": "138****5678"}),
        ("phones", [PHONE, None], ["138****5678", None]),
    ],
)
def test_mask_table(key: str, value: object, expected: object) -> None:
    assert mask_event(None, "info", {key: value})[key] == expected


def test_console_format_is_masked_too() -> None:
    stream = io.StringIO()
    try:
        configure_logging("info", "console", stream=stream)
        structlog.get_logger("hub.test").info("shop.authorised", session=SECRET, mobile=PHONE)
        structlog.get_logger("hub.test").debug("below.level")
    finally:
        structlog.reset_defaults()
    text = stream.getvalue()
    assert "shop.authorised" in text and SECRET not in text and PHONE not in text
    assert "below.level" not in text


def test_bad_format_or_level_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="json"):
        configure_logging("info", "xml")
    with pytest.raises(ValueError, match="debug, info"):
        configure_logging("loud", "json")


def test_scrub_text_leaves_amounts_and_long_ids_alone() -> None:
    assert scrub_text("total 13812345678.50 CNY, tid 9007199254741993000") == (
        "total 13812345678.50 CNY, tid 9007199254741993000"
    )


def test_scrub_text_hides_passwords_in_connection_urls() -> None:
    assert scrub_text("cannot connect to postgresql+asyncpg://hub:pa55@db:5432/hub") == (
        "cannot connect to postgresql+asyncpg://hub:***@db:5432/hub"
    )
    assert scrub_text("redis://:pa55@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _reset_logging() -> None:
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "hub":
            root.removeHandler(handler)


def test_json_lines_never_carry_terminal_colour_codes(output: io.StringIO) -> None:
    # uvicorn adds a coloured copy of its message as the ``color_message`` extra.
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"}
    )
    structlog.get_logger("hub.test").info("shop.paused", reason="\x1b[31mthrottled\x1b[0m by the platform")
    raw = output.getvalue()
    events = [json.loads(line) for line in raw.splitlines()]
    assert "\x1b[" not in raw and "\\u001b" not in raw
    assert all("\x1b[" not in json.dumps(event, ensure_ascii=False) for event in events)
    assert events[0]["event"] == "Started server process [42]" and "color_message" not in events[0]
    assert events[1]["reason"] == "throttled by the platform"


def test_auto_format_is_for_people_on_a_terminal_and_json_otherwise() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    try:
        configure_logging("info", "auto", stream=terminal)
        structlog.get_logger("hub.test").info("hub.started", api="http://127.0.0.1:8000")
        configure_logging("info", "auto", stream=pipe)
        structlog.get_logger("hub.test").info("hub.started", api="http://127.0.0.1:8000")
    finally:
        _reset_logging()
    assert "\x1b[" in terminal.getvalue() and not terminal.getvalue().lstrip().startswith("{")
    assert json.loads(pipe.getvalue())["event"] == "hub.started"
