"""Dead letters on the exceptions screen: one letter's page (actor, reason, input, the message it
came from and whether it is done now), its Replay button, and "replay all of this actor".

The page and the single replay call the API's own route functions (``hub.api.routes.dead_letters``)
after checking the same right the API requires (``dead_letters.manage``), so errors and the audit
entry are the API's. Shown text is scrubbed of credentials and phone numbers as ``hub dlq show``
does, and the input masked like an order's history for a role without ``orders.read_pii``.
Included by ``hub.console.routes.exceptions``; not for the list (that page renders it).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.api.errors import ApiError, broker_errors
from hub.api.models import ActorReplayIn
from hub.api.params import INT64_MAX
from hub.api.queries.exceptions import source_message
from hub.api.routes.dead_letters import replay, replay_all_of_actor, show_dead_letter
from hub.console.auth import ConsolePrincipal, check_form, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import NotFoundError
from hub.logging import mask_event, scrub_text

router = APIRouter()
BASE = "/console/exceptions"


def _row_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 20 and 0 < int(text) <= INT64_MAX else None


def _not_found(request: Request, what: str) -> Response:
    return error_page(request, translator(request).t("error.not_found", detail=what), status=404)


def _queue_missing(request: Request, dead_letter_id: int | None = None) -> Response:
    t = translator(request)
    command = f"hub dlq replay {dead_letter_id}" if dead_letter_id else "hub dlq replay ID"
    return error_page(request, t.t("exceptions.replay_unavailable", command=command), status=503)


@router.get("/dead-letters/{dead_letter_id}", include_in_schema=False)
async def dead_letter_page(
    request: Request, dead_letter_id: str, principal: ConsolePrincipal = Depends(console_principal)
) -> Response:
    require_right(principal, Permission.DEAD_LETTERS)
    dl_id = _row_id(dead_letter_id)
    if dl_id is None:
        return _not_found(request, f"dead letter {dead_letter_id!r} does not exist (ids are whole numbers)")
    try:
        letter = await show_dead_letter(request, dl_id)
    except ApiError as exc:
        return api_error_page(request, exc)
    source = None
    if letter.inbox_id is not None:
        hub: Hub = request.app.state.hub
        async with hub.database().session() as db:
            source = await source_message(db, letter.inbox_id)
    reveal = principal.may(Permission.ORDERS_READ_PII)
    given = {"args": letter.args, "kwargs": letter.keyword_args}
    shown = given if reveal else mask_event(None, "", given)
    return render(request, "dead_letter.html", {
        "letter": letter, "reason": scrub_text(letter.reason), "input_masked": not reveal,
        "input_json": json.dumps(shown, ensure_ascii=False, indent=2, default=str),
        "source": source, "source_error": scrub_text(source.last_error) if source and source.last_error else None,
        "replayed": request.query_params.get("replayed") == "1",
    })


@router.post("/dead-letters/{dead_letter_id}/replay", include_in_schema=False)
async def replay_one(request: Request, dead_letter_id: str) -> Response:
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.DEAD_LETTERS)
    dl_id = _row_id(dead_letter_id)
    if dl_id is None:
        return _not_found(request, f"dead letter {dead_letter_id!r} does not exist (ids are whole numbers)")
    try:
        await replay(request, dl_id, principal)
    except ApiError as exc:
        return _queue_missing(request, dl_id) if exc.status == 503 else api_error_page(request, exc)
    except NotFoundError as exc:
        return _not_found(request, str(exc))
    except broker_errors():
        return error_page(request, translator(request).t("exceptions.queue_down"), status=503)
    target = f"{BASE}/dead-letters/{dl_id}?replayed=1"
    return write_session(request, RedirectResponse(target, status_code=303))


@router.post("/dead-letters/replay-actor", include_in_schema=False)
async def replay_actor(request: Request) -> Response:
    """Replay every open dead letter of one actor up to the newest the page showed (``up_to_id``),
    through the API's ``POST /api/v1/dead-letters/replay``."""
    form, principal = await checked_form(request, Permission.DEAD_LETTERS)
    actor, up_to = form.get("actor", "").strip(), _row_id(form.get("up_to_id", "").strip())
    if not actor or len(actor) > 100 or up_to is None:
        return error_page(request, translator(request).t("exceptions.bad_replay_all"), status=400)
    try:
        result = await replay_all_of_actor(request, ActorReplayIn(actor=actor, up_to_id=up_to), principal)
    except ApiError as exc:
        return _queue_missing(request) if exc.status == 503 else api_error_page(request, exc)
    except broker_errors():
        return error_page(request, translator(request).t("exceptions.queue_down"), status=503)
    target = f"{BASE}?" + urlencode({"actor": actor, "replayed_actor": actor, "replayed_n": len(result.replayed)})
    return write_session(request, RedirectResponse(target + "#dead-letters", status_code=303))
