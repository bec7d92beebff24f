"""Authorising a shop: hand the platform's authorisation code to the shop's connector, then resume
the shop if it was paused for its authorisation. Used by ``hub shop authorize`` and
``POST /api/v1/shops/{shop}/authorize``.

The connector does the platform's part (``Capability.AUTHORIZE``: exchange the code for tokens,
keep them, refresh them later); this module only checks the shop may be authorised, records who
did it (``audit_log``), and resumes the shop through ``hub.services.shop_resume``, as an admin's
resume does. Not for pausing (``shop_health``).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from contracts import Capability, ShopAuthorization
from contracts.connectors import declared
from hub.context import Hub
from hub.db import audit
from hub.errors import BadInputError, NotFoundError
from hub.services.shop_resume import resume_shop

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AuthorizeOutcome:
    authorization: ShopAuthorization
    #: True when the shop had been paused for its authorisation and is active again.
    resumed: bool
    actor: str


async def authorize_shop(hub: Hub, shop: str, code: str, *, actor: str) -> AuthorizeOutcome:
    """Authorise ``shop`` with ``code`` on behalf of ``actor``.

    ``NotFoundError`` for a shop not configured (or disabled); ``BadInputError`` for a connector
    without ``authorize`` or a code the platform refuses (nothing changes then). A shop paused with
    no end time (its authorisation was lost) is resumed; one paused by the circuit breaker keeps
    its cooldown.
    """
    config = hub.config.shops.get(shop)
    if config is None or not config.enabled:
        raise NotFoundError(f"no enabled shop named {shop!r} in the configuration")
    cls = hub.plugins.channel_class(config.platform)
    if cls is None or not declared(cls, Capability.AUTHORIZE):
        raise BadInputError(f"shop {shop!r}: platform {config.platform!r} is not authorised with a code; its "
                            "credentials are set in the configuration")
    if not code.strip():
        raise BadInputError(f"shop {shop!r}: code is empty; give the code the platform returned to the app",
                            field="code")
    authorization = await hub.accounts().channel(shop).authorize(code.strip())
    if declared(cls, Capability.MESSAGE_CHANNEL):
        from hub.services import message_channel

        await message_channel.request_reopen(hub, shop)  # the new token must open the channel again
    async with hub.database().transaction() as session:
        await audit.record(session, actor=actor, action="shop.authorized", subject=f"shop:{shop}",
                           details={"account_id": authorization.account_id})
    resumed = (await resume_shop(hub, shop, actor=actor, reason="authorised",
                                 only_if_paused_for_authorisation=True)).resumed
    log.info("shop.authorized", shop=shop, actor=actor, account_id=authorization.account_id, resumed=resumed)
    return AuthorizeOutcome(authorization, resumed, actor)
