"""API routes for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
