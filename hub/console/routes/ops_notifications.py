"""Notification rules and their delivery log at ``/console/notifications``; unpaid-order reminders.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
