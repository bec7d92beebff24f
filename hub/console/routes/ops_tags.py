"""User tags at ``/console/tags``: create, recolour, delete.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
