"""After-sales over HTTP: _figures (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["aftersales"])
