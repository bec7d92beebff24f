"""The hub's one small error hierarchy.

Partner clients translate every partner error into one of these, with the partner's code and
message attached, so the queue knows whether to retry, dead-letter or pause the account. Not for
HTTP error rendering (that is ``hub.api.errors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class HubError(Exception):
    """Base class. ``str(error)`` says what happened, to what, and what to do."""

    def __init__(self, message: str, *, code: str | None = None, partner_message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.partner_message = partner_message


class ConfigError(HubError):
    """The configuration is wrong; ``problems`` lists (field path, message) pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class BadInputError(HubError):
    """Input from a user or partner is malformed; nothing was stored. ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class RowProblem(Protocol):
    """One bad value in a file: which column (``field``), and a sentence naming the row."""

    field: str


class FileRowsError(BadInputError):
    """A file with bad rows; ``problems`` names each row and field. Nothing was applied."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"nothing imported: {first}{more}", field=first.field)
        self.problems = list(problems)


class SignatureError(BadInputError):
    """A push's signature or app id does not verify."""


class NotFoundError(HubError):
    """The thing asked for does not exist (at the partner or in the hub)."""


class ConflictError(HubError):
    """The change does not apply to the current state: not allowed in its status now, changed since
    the page that asked for it was loaded, or a name already taken (HTTP 409)."""


class PartnerError(HubError):
    """Base for errors a partner returned."""


class RetryableError(PartnerError):
    """A transient fault: retry later. ``retry_after`` (seconds) when the partner said how long."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        partner_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, partner_message=partner_message)
        self.retry_after = retry_after


class ThrottledError(RetryableError):
    """The partner throttled us (TOP code 7, Douyin 60000); wait ``retry_after`` before retrying."""


class PermanentError(PartnerError):
    """Retrying will not help: bad data, or a partner's final refusal. Goes to dead letters."""


class StaleAfterSaleError(PermanentError):
    """A decision on an after-sale case the platform has moved on (a stale version, closed, decided
    already): nothing was applied. ``current`` is the case as the platform reports it now
    (``contracts.AfterSale``), when the connector could read it."""

    def __init__(self, message: str, *, current: Any = None, code: str | None = None,
                 partner_message: str | None = None) -> None:
        super().__init__(message, code=code, partner_message=partner_message)
        self.current = current


class AuthorizationError(PermanentError):
    """The account must be re-authorised (TOP 27, Douyin ``dop.authorization-*``): pause the shop."""


class ShopPausedError(HubError):
    """The shop is paused (circuit breaker or authorisation); work for it waits."""

    def __init__(self, shop: str, reason: str, *, until: float | None = None) -> None:
        super().__init__(f"shop {shop!r} is paused: {reason}")
        self.shop = shop
        self.reason = reason
        self.until = until


class LockBusyError(HubError):
    """A per-entity lock is held by another worker: retry soon, without spending retries."""


def describe_error(error: BaseException) -> str:
    """The reason to record for ``error``: its message, or — when the message is empty, as
    ``str(TimeoutError())`` is — its class name and repr, so no reason is ever blank."""
    text = str(error).strip()
    if text:
        return text
    return f"{type(error).__name__} (no message: {error!r})"
