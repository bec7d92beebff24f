"""API routes for parcel tracking, its timeline and stuck-parcel exceptions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
