"""Console screens for routing and delivery orders: to a WMS or the own warehouse."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console", include_in_schema=False)
