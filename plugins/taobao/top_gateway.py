"""A reusable emulator of the TOP gateway (``/router/rest``, GET or POST) and of TMC's HTTP pull.

Used by the Taobao and Tmall sandboxes, and meant for the AliExpress sandbox's TOP-style
``aliexpress.*`` methods. It does what the real gateway does before a method runs — app key (29),
timestamp skew of at most 10 minutes (31), signature in all three sign methods (25), known method
(22), session → shop (27) — answers in the real envelopes (``<method>_response`` /
``error_response``), and injects faults. Methods are plain functions registered by name.

As strict as TOP, no stricter: parameters may come by GET (query string) or POST (form body, the
system params optionally in the query string, as the official Python SDK sends them); null fields
and empty lists are left out of answers, as TOP leaves them out (a client must read a missing list
as empty); ``simplify=true`` (JSON only) answers without the ``<method>_response`` wrapper and
with lists bare instead of wrapped in ``{"trade": [...]}``-style objects [U: TOP documents
``simplify`` only as "精简JSON返回"; the exact shape is inferred, and errors keep
``error_response``]. TMC delivers a seller's messages only after ``taobao.tmc.user.permit`` was
called with that seller's session, and then only the permitted topics when ``topics`` was given;
messages published before the permit are held until it [U: whether TOP keeps or drops them].
A multipart/form-data POST (how TOP takes ``byte[]`` params) is read too: its file parts reach the
handler as ``TopCall.files`` and, as on TOP, are not part of the signature.

Reuse API (keep it stable):

- ``gateway = TopGateway({app_key: secret}, tmc=TmcQueue(redelivery_seconds=5.0))``
- ``gateway.add_session(session, shop, user_nick=None)`` — a seller token, the shop it opens and
  the seller's nick (the ``user_nick`` its TMC messages carry; the shop name when not given).
- ``gateway.register(method, handler, *, needs_session=True)`` — ``handler(call: TopCall) -> dict``
  returns the inner response object; raise ``TopApiError(code, msg, sub_code, sub_msg)`` to fail,
  or ``missing(name)`` / ``invalid(name, why)`` for codes 40/41.
- ``gateway.inject_fault("throttle" | "unavailable" | "auth" | "slow" | "lost_answer", count, seconds=…)``;
  ``lost_answer`` runs the call and then holds its answer back until the next request arrives (or
  ``seconds`` pass): the client times out after the work was done, as when a real answer is lost.
- ``gateway.tmc.publish(app_key, group, topic, content, user_nick=…)`` queues a TMC message; the
  gateway serves ``taobao.tmc.messages.consume``/``confirm`` and ``taobao.tmc.user.permit`` for it
  and redelivers unconfirmed messages after ``redelivery_seconds``. ``gateway.tmc.permitted(nick)``
  is the seller's permit (``None``: none; ``[]``: every topic; else the topics).
- ``gateway.lock`` (an ``RLock``) guards handler execution: take it when touching state you share
  with handlers from another thread.
- ``gateway.routes()`` — Starlette routes for ``/router/rest`` (mount them in your app).

Not the WebSocket TMC channel, and not a place for platform business rules (those live in the
sandboxes' handlers).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.plugin_api import constant_time_equals, sandbox_ids
from plugins.taobao.client import GMT8, TOP_TIME_FORMAT, response_key, top_timestamp
from plugins.taobao.signing import SIGN_METHODS, sign_top

MAX_SKEW_SECONDS = 600
FAULTS = ("throttle", "unavailable", "auth", "slow", "lost_answer")
SYSTEM_PARAMS = frozenset({"method", "app_key", "session", "timestamp", "v", "format", "sign_method", "sign",
                           "partner_id", "target_app_key", "simplify"})


class TopApiError(Exception):
    """An ``error_response`` to answer with."""

    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(f"{code} {msg} {sub_code or ''} {sub_msg or ''}".strip())
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "msg": self.msg, "request_id": request_id}
        if self.sub_code:
            error["sub_code"] = self.sub_code
        if self.sub_msg:
            error["sub_msg"] = self.sub_msg
        return {"error_response": error}


def missing(name: str) -> TopApiError:
    return TopApiError(40, "Missing required arguments", f"isv.missing-parameter:{name}",
                       f"Missing required arguments:{name}")


def invalid(name: str, why: str) -> TopApiError:
    return TopApiError(41, "Invalid arguments", f"isv.invalid-parameter:{name}", why)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart call (a TOP ``byte[]`` param)."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class TopCall:
    """One verified call as a handler sees it; ``files``: the multipart file parts by param name."""

    method: str
    params: dict[str, str]
    app_key: str
    shop: str | None
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value in (None, ""):
            raise missing(name)
        return str(value)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.params.get(name)
        if value in (None, ""):
            if default is None:
                raise missing(name)
            return default
        try:
            return int(str(value))
        except ValueError:
            raise invalid(name, f"{name} must be a number") from None


@dataclass
class _Queued:
    id: int
    topic: str
    content: str
    pub_time: str
    user_nick: str | None
    user_id: str | None
    pub_app_key: str
    visible_at: float = 0.0


@dataclass
class TmcQueue:
    """TMC messages per (app_key, group); consumed ones reappear after ``redelivery_seconds``
    unless confirmed (the real delay is [U])."""

    redelivery_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    queues: dict[tuple[str, str], dict[int, _Queued]] = field(default_factory=dict)
    #: seller nick → the topics permitted (an empty list: every topic the app subscribes to).
    permits: dict[str, list[str]] = field(default_factory=dict)
    #: The first message id (shifted per demo run by ``sandbox_ids``).
    first_id: int = 7_100_000_000_000_000_001
    _ids: itertools.count[int] = field(init=False)

    def __post_init__(self) -> None:
        self._ids = sandbox_ids(self.first_id)

    def publish(self, app_key: str, group: str, topic: str, content: dict[str, Any], *,
                user_nick: str | None = None, user_id: str | None = None, pub_time: str | None = None) -> str:
        """Queue a message; ``pub_time`` (TOP time, GMT+8) defaults to now: a sandbox with a clock
        of its own passes its time, so messages and the objects they name agree."""
        message = _Queued(next(self._ids), topic, json.dumps(content, ensure_ascii=False),
                          pub_time or top_timestamp(), user_nick, user_id, app_key)
        self.queues.setdefault((app_key, group), {})[message.id] = message
        return str(message.id)

    def permit(self, seller: str, topics: list[str]) -> None:
        """Open TMC for ``seller`` (its nick): only ``topics``, or every topic when empty."""
        self.permits[seller] = list(topics)

    def permitted(self, seller: str) -> list[str] | None:
        return self.permits.get(seller)

    def _deliverable(self, message: _Queued) -> bool:
        seller = message.user_nick or message.user_id
        if seller is None:
            return True  # an app-level message, not a seller's
        topics = self.permits.get(seller)
        return topics is not None and (not topics or message.topic in topics)

    def consume(self, app_key: str, group: str, quantity: int) -> list[dict[str, Any]]:
        now = self.clock()
        ready = [m for m in self.queues.get((app_key, group), {}).values()
                 if m.visible_at <= now and self._deliverable(m)][:quantity]
        for message in ready:
            message.visible_at = now + self.redelivery_seconds
        return [{"id": m.id, "topic": m.topic, "content": m.content, "pub_time": m.pub_time,
                 "pub_app_key": m.pub_app_key, "user_nick": m.user_nick, "user_id": m.user_id} for m in ready]

    def confirm(self, app_key: str, group: str, ids: list[str]) -> None:
        queue = self.queues.get((app_key, group), {})
        for raw in ids:
            if raw.strip().isdigit():
                queue.pop(int(raw), None)

    def pending(self, app_key: str, group: str = "default") -> int:
        return len(self.queues.get((app_key, group), {}))


Handler = Callable[[TopCall], dict[str, Any]]


class TopGateway:
    """The gateway core (see the module docstring)."""

    def __init__(self, apps: dict[str, str], *, tmc: TmcQueue | None = None,
                 max_skew_seconds: int = MAX_SKEW_SECONDS) -> None:
        self.apps = dict(apps)
        self.tmc = tmc or TmcQueue()
        self.max_skew_seconds = max_skew_seconds
        self.sessions: dict[str, str] = {}
        self.sellers: dict[str, str] = {}  # shop → seller nick (what its TMC messages carry)
        self.handlers: dict[str, tuple[Handler, bool]] = {}
        self.faults: list[tuple[str, float]] = []
        self.lock = threading.RLock()
        self._request_ids = itertools.count(1)
        self.calls: list[str] = []  # methods served, in order (for tests and the demo)
        self._held: list[asyncio.Event] = []  # answers held back by "lost_answer", freed by the next request
        self.register("taobao.tmc.messages.consume", self._tmc_consume, needs_session=False)
        self.register("taobao.tmc.messages.confirm", self._tmc_confirm, needs_session=False)
        self.register("taobao.tmc.user.permit", self._tmc_permit)

    # -- configuration -------------------------------------------------------------------------

    def add_session(self, session: str, shop: str, user_nick: str | None = None) -> None:
        with self.lock:
            self.sessions[session] = shop
            self.sellers[shop] = user_nick or shop

    def register(self, method: str, handler: Handler, *, needs_session: bool = True) -> None:
        self.handlers[method] = (handler, needs_session)

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        with self.lock:
            self.faults += [(fault, seconds)] * count

    # -- the request path ----------------------------------------------------------------------

    def _verify(self, form: dict[str, str]) -> tuple[str, str]:
        app_key = form.get("app_key") or ""
        secret = self.apps.get(app_key)
        if secret is None:
            raise TopApiError(29, "Invalid app Key", "isv.appkey-not-exists")
        method = form.get("method") or ""
        if not method:
            raise TopApiError(21, "Missing Method")
        self._check_timestamp(form.get("timestamp") or "")
        sign_method = (form.get("sign_method") or "md5").lower()
        if sign_method not in SIGN_METHODS:
            raise TopApiError(41, "Invalid arguments", "isv.invalid-parameter:sign_method", sign_method)
        if not constant_time_equals(sign_top(form, secret, sign_method), form.get("sign")):
            raise TopApiError(25, "Invalid signature")
        return app_key, method

    def _check_timestamp(self, text: str) -> None:
        if not text:
            raise TopApiError(28, "Missing timestamp")
        try:
            if text.isdigit():
                sent = datetime.fromtimestamp(int(text) / 1000, UTC)
            else:
                sent = datetime.strptime(text, TOP_TIME_FORMAT).replace(tzinfo=GMT8)
        except ValueError:
            raise TopApiError(31, "Invalid timestamp", sub_msg=f"unparsable timestamp {text!r}") from None
        if abs((datetime.now(UTC) - sent).total_seconds()) > self.max_skew_seconds:
            raise TopApiError(31, "Invalid timestamp", sub_msg="timestamp is more than 10 minutes off")

    def _take_fault(self) -> tuple[str, float] | None:
        return self.faults.pop(0) if self.faults else None

    def handle(self, form: dict[str, str], fault: tuple[str, float] | None = None,
               files: dict[str, UploadedFile] | None = None) -> dict[str, Any]:
        """Run one call (already past any 'slow' delay) and return the JSON body to send; ``files``
        (multipart file parts) are handed to the method, outside the signature as on TOP."""
        request_id = f"sandbox{next(self._request_ids)}"
        try:
            with self.lock:
                app_key, method = self._verify(form)
                if fault is not None and fault[0] == "throttle":
                    raise TopApiError(7, "App Call Limited", "accesscontrol.limited-by-app-access-count",
                                      f"This ban will last for {max(1, round(fault[1]))} more seconds")
                if fault is not None and fault[0] == "unavailable":
                    raise TopApiError(15, "Remote service error", "isp.top-remote-service-unavailable",
                                      "remote service unavailable, retry later")
                if fault is not None and fault[0] == "auth":
                    raise TopApiError(27, "Invalid session", "invalid-sessionkey")
                entry = self.handlers.get(method)
                if entry is None:
                    raise TopApiError(22, "Invalid Method", sub_msg=f"unknown method {method}")
                handler, needs_session = entry
                shop = self.sessions.get(form.get("session") or "")
                if needs_session and shop is None:
                    raise TopApiError(27, "Invalid session", "invalid-sessionkey")
                params = {k: v for k, v in form.items() if k not in SYSTEM_PARAMS}
                self.calls.append(method)
                inner = handler(TopCall(method, params, app_key, shop, dict(files or {})))
        except TopApiError as exc:
            return exc.body(request_id)
        answer = without_empties({**inner, "request_id": request_id})
        if form.get("simplify") == "true" and (form.get("format") or "xml") == "json":
            return simplified(answer)
        return {response_key(method): answer}

    async def endpoint(self, request: Request) -> JSONResponse:
        # Form-urlencoded bodies are parsed by hand (UTF-8); multipart ones (files) by Starlette.
        # A GET has no body: everything is in the query string, which TOP accepts as well.
        form, files = await self._read_body(request)
        merged = {**dict(request.query_params), **form}  # the PY SDK puts system params in the URL
        for held in self._held:
            held.set()  # a new request (the client's retry): answers held back may go now, too late
        self._held.clear()
        with self.lock:
            fault = self._take_fault() if merged.get("app_key") in self.apps else None
        if fault is not None and fault[0] == "slow":
            await asyncio.sleep(fault[1])
            fault = None
        if fault is not None and fault[0] == "lost_answer":
            answer = self.handle(merged, files=files)
            release = asyncio.Event()
            self._held.append(release)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), fault[1])
            return JSONResponse(answer)
        return JSONResponse(self.handle(merged, fault, files))

    @staticmethod
    async def _read_body(request: Request) -> tuple[dict[str, str], dict[str, UploadedFile]]:
        if request.method != "POST":
            return {}, {}
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form: dict[str, str] = {}
            files: dict[str, UploadedFile] = {}
            async with request.form() as parts:
                for name, value in parts.multi_items():
                    if isinstance(value, str):
                        form[name] = value
                    else:
                        files[name] = UploadedFile(value.filename or name, value.content_type or "",
                                                   await value.read())
            return form, files
        body = await request.body()
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}

    def routes(self) -> list[Route]:
        return [Route("/router/rest", self.endpoint, methods=["GET", "POST"])]

    # -- TMC methods ---------------------------------------------------------------------------

    def _tmc_consume(self, call: TopCall) -> dict[str, Any]:
        quantity = call.integer("quantity", 100)
        if not 10 <= quantity <= 200:
            raise invalid("quantity", "quantity must be between 10 and 200")
        messages = self.tmc.consume(call.app_key, call.params.get("group_name") or "default", quantity)
        return {"messages": {"tmc_message": messages}} if messages else {}

    def _tmc_confirm(self, call: TopCall) -> dict[str, Any]:
        ids = [i for i in call.require("s_message_ids").split(",") if i]
        if len(ids) > 200:
            raise invalid("s_message_ids", "at most 200 message ids")
        self.tmc.confirm(call.app_key, call.params.get("group_name") or "default", ids)
        return {"is_success": True}

    def _tmc_permit(self, call: TopCall) -> dict[str, Any]:
        topics = [t.strip() for t in (call.params.get("topics") or "").split(",") if t.strip()]
        shop = str(call.shop)
        self.tmc.permit(self.sellers.get(shop, shop), topics)
        return {"is_success": True}


def without_empties(value: Any) -> Any:
    """``value`` with null fields, empty lists and list wrappers left empty removed, at any depth:
    TOP leaves a field out rather than sending it empty."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = without_empties(item)
            if kept is None or kept == [] or (isinstance(item, dict) and item and kept == {}):
                continue
            out[key] = kept
        return out
    if isinstance(value, list):
        return [without_empties(item) for item in value]
    return value


def _list_wrapper(value: Any) -> bool:
    """TOP's list wrapping: an object whose only field is a list (``{"trade": [...]}``)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), list)


def simplified(value: Any) -> Any:
    """An answer as ``simplify=true`` sends it: list wrappers replaced by their bare lists."""
    if _list_wrapper(value):
        return [simplified(item) for item in next(iter(value.values()))]
    if isinstance(value, dict):
        return {key: simplified(item) for key, item in value.items()}
    if isinstance(value, list):
        return [simplified(item) for item in value]
    return value
