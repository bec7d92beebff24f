"""Console screens for courier choice, electronic waybills and printable labels."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console", include_in_schema=False)
