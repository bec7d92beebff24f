"""What every after-sales screen shares: the words of a case's status, type, action, decision state
and history entry (``CaseWords``, with the code itself when the catalogue has none, e.g. a plugin's),
how urgent a deadline is (``due``: time left or overdue, in the reader's words), who may decide,
why a decision form was refused (``FormProblem``) and the notice after a decision (``notice``).

No routes and no service calls here; the screens (``aftersales``, ``aftersales_case``,
``aftersales_decisions``, ``aftersales_figures``) import it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from contracts.aftersales import TERMINAL_AFTERSALE_STATUSES, AfterSaleAction
from hub.api.auth import Permission
from hub.console.i18n import Translator

#: Who may read cases (everyone who may read orders) and who may decide them: the API's write
#: permission on orders (admin, operator), as the API's decision routes check it.
READ = Permission.ORDERS_READ
DECIDE = Permission.ORDERS_WRITE
#: The most a proof file may weigh here; each platform has its own smaller limits (TOP API docs:
#: taobao.refund.refuse takes an image up to 130000 bytes), which the connector checks.
PROOF_MOST_BYTES = 5 * 1024 * 1024
#: The decision states a notice may name (``DecisionOutcome.state``).
STATES = ("done", "recorded", "pending", "failed")
_TERMINAL = frozenset(s.value for s in TERMINAL_AFTERSALE_STATUSES)

#: Deadline urgency, as a CSS class of the row and the time-left text.
OVERDUE, SOON, LATER, NONE = "overdue", "soon", "later", "none"


@dataclass(frozen=True)
class Due:
    """How long until a deadline (``text``) and how urgent it is (``level``: overdue | soon | later | none)."""

    text: str
    level: str


@dataclass(frozen=True)
class CaseWords:
    """A case's codes in the reader's words: ``w.status("requested")`` is "Requested" / "待处理"."""

    t: Translator

    def _word(self, group: str, value: str | None) -> str:
        if not value:
            return "-"
        return self.t.catalogue.get(f"aftersales.{group}.{value}", value)

    def status(self, value: str | None) -> str:
        return self._word("status", value)

    def type(self, value: str | None) -> str:
        return self._word("type", value)

    def action(self, value: str | None) -> str:
        return self._word("action", value)

    def state(self, value: str | None) -> str:
        return self._word("state", value)

    def event(self, value: str | None) -> str:
        return self._word("event", value)

    def span(self, seconds: float) -> str:
        """``2 d 3 h``, ``4 h 10 min``, ``12 min`` (rounded down to the minute, at least 1 min)."""
        minutes = max(1, int(seconds // 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        if days:
            return self.t.t("aftersales.span_d", d=days, h=hours)
        if hours:
            return self.t.t("aftersales.span_h", h=hours, m=mins)
        return self.t.t("aftersales.span_m", m=mins)

    def due(self, deadline: datetime | None, now: datetime, alert: timedelta) -> Due:
        """Time left until ``deadline`` (or how long it is overdue); ``soon`` within ``alert``."""
        if deadline is None:
            return Due(self.t.t("aftersales.no_deadline"), NONE)
        left = (deadline - now).total_seconds()
        if left <= 0:
            return Due(self.t.t("aftersales.overdue", span=self.span(-left)), OVERDUE)
        return Due(self.t.t("aftersales.time_left", span=self.span(left)), SOON if left <= alert.total_seconds()
                   else LATER)

    def case_due(self, status: str, deadline: datetime | None, now: datetime, alert: timedelta) -> Due:
        """``due`` for a case still open; a finished case (refunded, completed, closed) is due no more."""
        if status in _TERMINAL:
            return Due("-", NONE)
        return self.due(deadline, now, alert)


def alert_window(hours: float) -> timedelta:
    """``[aftersales] deadline_alert_hours`` as a window."""
    return timedelta(hours=hours)


@dataclass
class FormProblem:
    """Why a decision was not taken, shown beside its form: a field and what is wrong with it, or
    a conflict with what the platform reports now (``current``)."""

    action: str
    message: str
    field: str | None = None
    conflict: bool = False
    current: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def text(self) -> str:
        """The message, led by the field's name unless it names it already (as the service's do)."""
        if self.field and not self.message.startswith(self.field):
            return f"{self.field}: {self.message}"
        return self.message


def notice(request: Request, words: CaseWords) -> tuple[str, str] | None:
    """The notice after a decision (from the redirect's query: ``done``, ``state``, ``repeated``), as
    (text, level); only known actions and states are shown, so a link cannot put words on the page."""
    q = request.query_params
    action, state = q.get("done", ""), q.get("state", "")
    if action not in {a.value for a in AfterSaleAction} or state not in STATES:
        return None
    key = "aftersales.done_repeated" if q.get("repeated") == "1" else "aftersales.done"
    return words.t.t(key, action=words.action(action), state=words.state(state)), (
        "problem" if state == "failed" else "notice")
