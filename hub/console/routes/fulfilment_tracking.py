"""Console screens for parcel tracking, its timeline and stuck-parcel exceptions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console", include_in_schema=False)
