"""The API's routers, one module per area; ``hub.api.app`` includes them all."""
