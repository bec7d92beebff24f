"""The hub's built-in decision rules, written as a plugin (dogfooding the extension hooks).

Rules here are the defaults a merchant gets without configuration: hold orders the channel says
must not ship. Merchants override or add rules with their own plugins; these run like any other.
Not for stock allocation arithmetic (``contracts.inventory.apply_policy``).
"""

from __future__ import annotations

from contracts.fulfilment import Hold
from contracts.orders import Order
from hub.plugin_api import hookimpl

#: Order tags a channel plugin sets to say "do not ship", with the reason shown to a person.
NO_SHIP_TAGS = {
    "forbid_consign": "the channel forbids shipping this order (e.g. TOP PAID_FORBID_CONSIGN)",
    "cancel_requested_by_buyer": "the buyer asked to cancel: decide before shipping",
    "risk_control": "the channel holds the order for risk control",
}


@hookimpl
def audit_order(order: Order) -> list[Hold]:
    """Hold an order carrying a no-ship tag."""
    return [Hold(code=tag, reason=reason) for tag, reason in NO_SHIP_TAGS.items() if tag in order.tags]
