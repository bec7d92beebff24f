"""Batch operations and background jobs over HTTP.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["batch"])
