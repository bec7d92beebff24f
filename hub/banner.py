"""The box ``hub run`` prints once the API listens: where everything is, and the demo's admin key.

Printed to stdout for the person who started the hub (never logged: the key is a secret).
Not for logs (``hub.logging``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

if TYPE_CHECKING:
    from hub.context import Hub
    from hub.demo import DemoEnvironment


def _relative(path: os.PathLike[str] | str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def banner(hub: Hub, demo: DemoEnvironment | None) -> Panel:
    base = f"http://{hub.config.hub.api_host}:{hub.config.hub.api_port}"
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="bold")
    rows.add_column()
    if demo is not None and demo.admin_key:
        rows.add_row("Admin API key", demo.admin_key)
        rows.add_row("", f"({demo.admin_key_note})")
    rows.add_row("Console", f"{base}/console" + (" (sign in with this key)" if demo is not None else ""))
    if demo is not None:
        from hub.demo import DEMO_USER, DEMO_USER_PASSWORD_VAR

        rows.add_row("", f"or as user {DEMO_USER} ({DEMO_USER_PASSWORD_VAR} in {_relative(demo.secrets_path)})")
    rows.add_row("API", f"{base}/api/v1")
    rows.add_row("API docs", f"{base}/docs")
    rows.add_row("Metrics", f"{base}/metrics")
    if demo is not None:
        rows.add_row("Config", f"{demo.config_path} (secrets: {_relative(demo.secrets_path)})")
        rows.add_row("Shops", ", ".join(demo.sandboxes) or "none")
        key = demo.admin_key or "<key>"
        rows.add_row("Try", f'curl -H "Authorization: Bearer {key}" {base}/api/v1/orders')
        rows.add_row("", f"hub --config {_relative(demo.config_path)} dlq list")
    elif hub.config.path is not None:
        rows.add_row("Config", str(hub.config.path.resolve()))
    rows.add_row("Stop", "Ctrl-C")
    title = "Connector Hub demo" if demo is not None else "Connector Hub"
    return Panel(rows, title=title, title_align="left", expand=False)


def print_banner(hub: Hub, demo: DemoEnvironment | None) -> None:
    Console(highlight=False).print(banner(hub, demo))
