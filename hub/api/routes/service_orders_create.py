"""Service-order API: service_orders_create (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
