"""Navigation words of the fulfilment screens."""

from __future__ import annotations

EN: dict[str, str] = {
    "fulfilment.nav": "Fulfilment",
}

ZH: dict[str, str] = {
    "fulfilment.nav": "发货",
}
