"""Notifications over HTTP: notifiers, rules, the delivery log, unpaid-order reminders.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["notifications"])
