"""What every service-order screen shares: who may read, take steps and manage technicians; the
words of a service order's status, type, step, history entry, milestone, service-level and write
state (``ServiceWords``, the code itself when the catalogue has none); how urgent its next
deadline is (``ServiceWords.due``); why a step form was refused (``FormProblem``); the notice after
a step (``notice``); and reading ``datetime-local`` values in the merchant's zone (``local_time``).

No routes and no service calls here; the screens (``service_orders``, ``service_orders_case``,
``technicians``, ``service_orders_figures``) import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request

from contracts.service_orders import TERMINAL_SERVICE_STATUSES, ServiceOrderAction
from hub.api.auth import Permission
from hub.console.i18n import Translator

#: Everyone who may read orders reads service orders; steps and creation take their own right.
READ = Permission.ORDERS_READ
WRITE = Permission.SERVICE_ORDERS_WRITE
MANAGE = Permission.TECHNICIANS_MANAGE
#: The write states a notice may name (``StepOutcome.write_state``).
STATES = ("done", "recorded", "pending", "failed")
#: The board's columns: the open statuses, in the order work moves through them.
BOARD_COLUMNS = ("new", "assigned", "booked", "on_site")
_TERMINAL = frozenset(s.value for s in TERMINAL_SERVICE_STATUSES)

#: Deadline urgency, as a CSS class of the card and the time-left text.
OVERDUE, SOON, LATER, NONE = "overdue", "soon", "later", "none"


@dataclass(frozen=True)
class Due:
    """How long until the next deadline (``text``) and how urgent it is (``level``)."""

    text: str
    level: str


@dataclass(frozen=True)
class ServiceWords:
    """A service order's codes in the reader's words: ``w.status("on_site")`` is "On site" / "已上门"."""

    t: Translator

    def _word(self, group: str, value: object) -> str:
        if value is None or value == "":
            return "-"
        return self.t.catalogue.get(f"service_orders.{group}.{value}", str(value))

    def status(self, value: str | None) -> str:
        return self._word("status", value)

    def type(self, value: str | None) -> str:
        return self._word("type", value)

    def action(self, value: str | None) -> str:
        return self._word("action", value)

    def event(self, value: str | None) -> str:
        return self._word("event", value)

    def milestone(self, value: str | None) -> str:
        return self._word("milestone", value)

    def next_step(self, value: str | None) -> str:
        """What the next deadline is for, as a task ("to book a visit"), for the time left."""
        return self._word("next", value)

    def sla(self, value: str | None) -> str:
        return self._word("sla", value)

    def state(self, value: str | None) -> str:
        return self._word("state", value)

    def alert(self, level: int | None) -> str:
        return self._word("alert", level)

    def origin(self, value: str | None) -> str:
        return self._word("origin", value)

    def reach(self, value: str | None) -> str:
        """A milestone's state on the page: met, missed, overdue (not reached, late) or waiting."""
        return self._word("reach", value)

    def day(self, value: int) -> str:
        """An ISO weekday's short name (1 = Monday)."""
        return self._word("day", value)

    def span(self, seconds: float) -> str:
        """``2 d 3 h``, ``4 h 10 min``, ``12 min`` (rounded down to the minute, at least 1 min)."""
        minutes = max(1, int(seconds // 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        if days:
            return self.t.t("service_orders.span_d", d=days, h=hours)
        if hours:
            return self.t.t("service_orders.span_h", h=hours, m=mins)
        return self.t.t("service_orders.span_m", m=mins)

    def due(self, status: str, seconds_left: float | None, soon_seconds: float) -> Due:
        """Time left to the next deadline, or how long it is overdue; ``soon`` within ``soon_seconds``
        (``[service_orders] due_soon_hours``); a closed order is due no more."""
        if status in _TERMINAL:
            return Due("-", NONE)
        if seconds_left is None:
            return Due(self.t.t("service_orders.no_deadline"), NONE)
        if seconds_left <= 0:
            return Due(self.t.t("service_orders.overdue", span=self.span(-seconds_left)), OVERDUE)
        text = self.t.t("service_orders.time_left", span=self.span(seconds_left))
        return Due(text, SOON if seconds_left <= soon_seconds else LATER)


@dataclass
class FormProblem:
    """Why a step was not taken, shown beside its form: the step, what is wrong, and the field."""

    action: str
    message: str
    field: str | None = None
    conflict: bool = False


def notice(request: Request, words: ServiceWords) -> tuple[str, str] | None:
    """The notice after a step (the redirect's ``done`` and ``state``), as (text, level);
    only known steps and states are shown, so a crafted link cannot put other words on the page."""
    q = request.query_params
    action, state = q.get("done", ""), q.get("state", "")
    if action not in {a.value for a in ServiceOrderAction} or state not in STATES:
        return None
    if state == "failed":
        return words.t.t("service_orders.done_failed", action=words.action(action)), "problem"
    return words.t.t("service_orders.done", action=words.action(action), state=words.state(state)), "notice"


def local_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A ``datetime-local`` value (``2026-12-10T14:00``) in the merchant's zone; ``ValueError`` if malformed."""
    if not text or not text.strip():
        return None
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def soon_seconds(hours: float) -> float:
    """``[service_orders] due_soon_hours`` in seconds."""
    return hours * 3600.0
