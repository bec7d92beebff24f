"""Console screens for pick list, pack and ship; WMS confirmations and stock reports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console", include_in_schema=False)
