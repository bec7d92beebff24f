"""The hub's HTTP API: partner webhooks, the ``/api/v1`` resources, health and metrics.

``create_app(hub)`` is the only entry point; see ``hub.api.app``.
"""

from hub.api.app import create_app

__all__ = ["create_app"]
