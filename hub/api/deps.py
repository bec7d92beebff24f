"""Small FastAPI dependencies shared by the routes: the running ``Hub`` and its database.

Not for authentication (``hub.api.auth``).
"""

from __future__ import annotations

from fastapi import Request

from hub.context import Hub
from hub.db.engine import Database


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def get_database(request: Request) -> Database:
    """The database for the API's event loop."""
    return get_hub(request).database()
