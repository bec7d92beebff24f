"""API routes for pick list, pack and ship; WMS confirmations and stock reports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
