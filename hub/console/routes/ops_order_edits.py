"""Edit forms on the order page and the approval queue at ``/console/approvals``.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
