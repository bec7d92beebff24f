"""API routes for the review queue: orders held by review strategies, approve, hold and release."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
