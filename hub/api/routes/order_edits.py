"""Order edits over HTTP: address, remarks, flag, price and quantity, cancellation; the approval queue.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["order edits"])
