"""User tags over HTTP: create, recolour, delete; attach to and detach from orders.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["tags"])
