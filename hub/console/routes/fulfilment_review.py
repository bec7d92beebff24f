"""Console screens for the review queue: orders held by review strategies, approve, hold and release."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console", include_in_schema=False)
