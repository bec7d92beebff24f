"""The operator console: server-rendered pages (Jinja2 + htmx, vendored) served by the hub under
``/console``, signed in with an API key or a user's password, in Chinese or English.

``install_console(app)`` adds its routes, static files and error pages to the API app. Keep this
module light: ``hub.config`` imports ``hub.console.settings``, which must not pull in FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install_console(app: FastAPI) -> None:
    """Serve the console from ``app``: pages under ``/console``, ``/`` redirecting there."""
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from hub.console.pages import install_error_pages
    from hub.console.routes import router

    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="console-static")
    install_error_pages(app)
