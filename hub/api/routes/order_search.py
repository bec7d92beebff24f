"""Order search over HTTP: by order number, recipient, phone, buyer nick; triage (priority, manual
holds, tags on an order).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["orders"])
