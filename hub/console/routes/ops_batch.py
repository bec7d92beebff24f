"""Batch actions on selected orders with progress, and the jobs at ``/console/jobs``.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
