"""API routes for routing and delivery orders: to a WMS or the own warehouse."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
