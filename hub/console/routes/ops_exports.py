"""Export buttons: the filtered list as CSV or XLSX.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
