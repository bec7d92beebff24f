"""Exports over HTTP: filtered lists as CSV or XLSX, streamed.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["exports"])
