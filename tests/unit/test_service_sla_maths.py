"""The service-level deadline maths: when each milestone is due (a platform's sooner deadline
brings the later ones to it), which milestone an open order has next, whether a closed order met
its deadlines, and the column values intake and the lifecycle store (a flag kept while the
milestone is the same, back to ok for the next one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.service_orders import ServiceOrderStatus as S
from contracts.service_orders import ServiceOrderType as T
from hub.services.service_orders import sla
from hub.services.service_orders.settings import ServiceOrdersSection, SlaHours

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECTION = ServiceOrdersSection(sla={T.INSTALLATION: SlaHours(contact_hours=24, on_site_hours=48, complete_hours=72)})


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.mark.parametrize(("kind", "platform", "expected"), [
    (T.INSTALLATION, None, (24, 48, 72)),
    (T.INSTALLATION, h(60), (24, 48, 60)),  # the platform's sooner deadline: complete comes earlier
    (T.INSTALLATION, h(30), (24, 30, 30)),  # … and every later milestone with it
    (T.INSTALLATION, h(100), (24, 48, 72)),  # a later platform deadline changes nothing
    (T.REPAIR, None, (10, 20, 30)),  # a type the table leaves out uses `other`'s
    (T.MAINTENANCE, None, (48, 96, 120)),  # … and without `other`, the type's default
])
def test_deadlines_by_type_and_platform_deadline(kind: T, platform: datetime | None,
                                                 expected: tuple[int, int, int]) -> None:
    section = {T.INSTALLATION: SECTION, T.MAINTENANCE: ServiceOrdersSection(sla={})}.get(
        kind, ServiceOrdersSection(sla={T.OTHER: SlaHours(contact_hours=10, on_site_hours=20, complete_hours=30)}))
    due = sla.deadlines(section, kind, T0, platform)
    assert (due.contact, due.on_site, due.complete) == tuple(h(x) for x in expected)


@pytest.mark.parametrize(("status", "expected"), [
    (S.NEW, (h(24), "contact")), (S.ASSIGNED, (h(24), "contact")), (S.BOOKED, (h(48), "on_site")),
    (S.ON_SITE, (h(72), "complete")), (S.COMPLETED, (None, None)), (S.CANCELLED, (None, None)),
    (S.FAILED, (None, None)),
])
def test_next_due_by_status(status: S, expected: tuple[datetime | None, str | None]) -> None:
    assert sla.next_due(status, sla.deadlines(SECTION, T.INSTALLATION, T0)) == expected


@pytest.mark.parametrize(("status", "booked", "on_site", "closed", "expected"), [
    (S.COMPLETED, 20, 40, 70, "met"),
    (S.COMPLETED, 20, 40, 73, "missed"),  # done after the complete deadline
    (S.COMPLETED, 25, 40, 70, "missed"),  # booked late, however well it ended
    (S.COMPLETED, None, None, 70, "met"),  # milestones the platform skipped are not counted
    (S.CANCELLED, 20, None, 200, "met"),  # a cancelled order is not held to "complete"
    (S.FAILED, 20, 50, 60, "missed"),  # on site late
])
def test_closed_state(status: S, booked: float | None, on_site: float | None, closed: float,
                      expected: str) -> None:
    due = sla.deadlines(SECTION, T.INSTALLATION, T0)
    assert sla.closed_state(due, booked_at=h(booked) if booked is not None else None,
                            on_site_at=h(on_site) if on_site is not None else None, closed_at=h(closed),
                            status=status) == expected
    # a status read from a row (a plain string) is judged the same
    assert sla.closed_state(due, booked_at=h(booked) if booked is not None else None,
                            on_site_at=h(on_site) if on_site is not None else None, closed_at=h(closed),
                            status=status.value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "previous_milestone", "previous_state", "expected"), [
    (S.NEW, None, "ok", (h(24), "contact", "ok")),
    (S.ASSIGNED, "contact", "overdue", (h(24), "contact", "overdue")),  # same milestone: the flag stays
    (S.BOOKED, "contact", "overdue", (h(48), "on_site", "ok")),  # the next milestone: flagged again when due
    (S.ON_SITE, "on_site", "soon", (h(72), "complete", "ok")),
    (S.BOOKED, "on_site", "met", (h(48), "on_site", "ok")),  # a closed state is never kept on an open order
])
def test_values_for_an_open_order(status: S, previous_milestone: str | None, previous_state: str,
                                  expected: tuple[datetime, str, str]) -> None:
    values = sla.values_for(SECTION, T.INSTALLATION, status, T0, previous_milestone=previous_milestone,
                            previous_state=previous_state)
    assert (values["due_at"], values["due_milestone"], values["sla_state"]) == expected
    assert (values["contact_due_at"], values["onsite_due_at"], values["complete_due_at"]) == (h(24), h(48), h(72))


def test_values_for_a_closed_order_and_time_left() -> None:
    done = sla.values_for(SECTION, T.INSTALLATION, S.COMPLETED, T0, booked_at=h(1), on_site_at=h(30),
                          closed_at=h(80), previous_milestone="complete", previous_state="soon")
    assert (done["due_at"], done["due_milestone"], done["sla_state"]) == (None, None, "missed")
    assert sla.time_left(h(2), T0) == 7200.0 and sla.time_left(T0, h(1)) == -3600.0
    assert sla.time_left(None, T0) is None


MILESTONE_REACHED = {S.NEW: set(), S.ASSIGNED: set(), S.BOOKED: {"contact"}, S.ON_SITE: {"contact", "on_site"}}


@given(hours=st.lists(st.floats(0.5, 500), min_size=3, max_size=3).map(sorted),
       platform=st.none() | st.floats(-10, 600), status=st.sampled_from(sorted(MILESTONE_REACHED)))
def test_the_next_due_is_the_earliest_milestone_not_yet_reached(hours: list[float], platform: float | None,
                                                                status: S) -> None:
    section = ServiceOrdersSection(sla={T.OTHER: SlaHours(contact_hours=hours[0], on_site_hours=hours[1],
                                                          complete_hours=hours[2])})
    due = sla.deadlines(section, T.OTHER, T0, h(platform) if platform is not None else None)
    when, milestone = sla.next_due(status, due)
    unreached = [m for m in ("contact", "on_site", "complete") if m not in MILESTONE_REACHED[status]]
    assert milestone == unreached[0]
    assert when == min(due.of(m) for m in unreached)
    assert due.contact <= due.on_site <= due.complete
