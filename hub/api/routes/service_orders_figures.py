"""Service-order API: service_orders_figures (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
