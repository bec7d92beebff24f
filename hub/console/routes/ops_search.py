"""The search box and triage on the orders screens: tags, priority, manual holds.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
