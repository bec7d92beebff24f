"""API routes for courier choice, electronic waybills and printable labels."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
