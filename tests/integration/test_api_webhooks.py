"""``POST /webhooks/{platform}/{shop}``: a verified push lands in the inbox and the platform hears
exactly the reply it expects; anything else is a counted, logged 4xx with nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub import metrics
from hub.config import ShopConfig
from hub.context import Hub
from hub.db.tables import InboxRow
from tests.integration.test_api_support import PUSH_SECRET, api, make_hub, push_shop, sign


def _body(*events: tuple[str, str]) -> bytes:
    return json.dumps({"events": [{"id": mid, "order": oid} for mid, oid in events]}).encode()


def _count(metric: object, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())  # type: ignore[attr-defined]


async def _inbox_count(hub: Hub) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxRow)) or 0)


@pytest.fixture
def hub(database_url: str) -> Hub:
    return make_hub(
        database_url,
        **{
            "fp-main": push_shop(),
            "fp-text": push_shop(reply_text=True),
            "fp-off": push_shop(enabled=False),
            "fpoll": ShopConfig(platform="fakepoll", settings={"secret": PUSH_SECRET}),
        },
    )


async def test_signed_push_is_stored_once_and_answered_in_the_platform_format(hub: Hub) -> None:
    body = _body(("m-1", "9007199254740993123"), ("m-2", "9007199254740993124"))
    before = _count(metrics.WEBHOOK_REQUESTS, "fakepush", "accepted")
    async with api(hub) as client:
        first = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
        again = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
    assert first.status_code == 200 and first.content == b'{"code":0,"msg":"success"}'
    assert again.status_code == 200, "a redelivered push is acknowledged, not refused"
    async with hub.database().session() as session:
        rows = (await session.execute(select(InboxRow).order_by(InboxRow.id))).scalars().all()
    assert [(r.shop, r.source, r.message_id, r.external_id) for r in rows] == [
        ("fp-main", "push", "m-1", "9007199254740993123"),
        ("fp-main", "push", "m-2", "9007199254740993124"),
    ]
    assert _count(metrics.WEBHOOK_REQUESTS, "fakepush", "accepted") == before + 2


async def test_plain_text_reply_is_sent_verbatim(hub: Hub) -> None:
    body = _body(("t-1", "1"))
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-text", content=body, headers={"X-Sign": sign(body)})
    assert response.status_code == 200 and response.text == "success"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/webhooks/fakepush/no-such-shop", "unknown shop"),
        ("/webhooks/fakepoll/fp-main", "shop exists under another platform"),
        ("/webhooks/fakepush/fp-off", "shop disabled"),
        ("/webhooks/fakepoll/fpoll", "connector without receive_push"),
        ("/webhooks/nosuchplatform/fp-main", "platform not installed"),
    ],
)
async def test_pushes_nobody_expects_are_404_and_store_nothing(hub: Hub, path: str, why: str) -> None:
    body = _body(("x-1", "1"))
    async with api(hub) as client:
        response = await client.post(path, content=body, headers={"X-Sign": sign(body)})
    assert response.status_code == 404, why
    assert response.json()["error"] == "not_found"
    assert await _inbox_count(hub) == 0


async def test_bad_signature_is_401_counted_and_logged_without_the_body(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.api.routes import webhooks

    logged: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(webhooks.log, "warning", lambda event, **kw: logged.append((event, kw)))
    body = _body(("s-1", "1"))
    before = _count(metrics.PUSH_REJECTED, "fakepush", "bad_signature")
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-main", content=body,
                                     headers={"X-Sign": sign(body, "wrong-secret")})
    assert response.status_code == 401 and response.json()["error"] == "bad_signature"
    assert PUSH_SECRET not in response.text
    assert _count(metrics.PUSH_REJECTED, "fakepush", "bad_signature") == before + 1
    assert await _inbox_count(hub) == 0
    assert logged and logged[0][0] == "push.rejected" and logged[0][1]["reason"] == "bad_signature"
    assert all(body.decode() not in str(v) for v in logged[0][1].values())


async def test_malformed_push_is_400_with_the_reason(hub: Hub) -> None:
    body = b'{"not-events": []}'
    before = _count(metrics.PUSH_REJECTED, "fakepush", "malformed")
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_input" and response.json()["field"] == "events"
    assert "not a fakepush envelope" in response.json()["detail"]
    assert _count(metrics.PUSH_REJECTED, "fakepush", "malformed") == before + 1
    assert await _inbox_count(hub) == 0


async def test_push_is_not_acknowledged_when_the_inbox_cannot_store_it(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.services import intake

    async def failing(*args: object, **kwargs: object) -> list[int]:
        raise ConnectionError("database went away")

    monkeypatch.setattr(intake, "accept_messages", failing)
    body = _body(("f-1", "1"))
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
    assert response.status_code == 500 and response.json()["error"] == "internal_error"
    assert "success" not in response.text, "the platform must retry, so it must not hear 'success'"



async def test_a_push_is_stored_even_while_the_workers_are_behind_by_more_than_the_backlog_limit(
    hub: Hub,
) -> None:
    """Backpressure holds message channels back (their messages wait at the platform), never pushes:
    a platform retries a refused push only a few times, so refusing it could lose the order."""
    from hub.services import backlog

    hub.config.queue.inbox_backlog_limit = 1
    first, later = _body(("b-1", "1"), ("b-2", "2")), _body(("b-3", "3"))
    async with api(hub) as client:
        stored = await client.post("/webhooks/fakepush/fp-main", content=first, headers={"X-Sign": sign(first)})
        backlog.forget(hub)  # the count is cached for a second: look again now
        assert await backlog.over_limit(hub)
        taken = await client.post("/webhooks/fakepush/fp-main", content=later, headers={"X-Sign": sign(later)})
    assert stored.status_code == 200 and taken.status_code == 200
    assert await _inbox_count(hub) == 3
