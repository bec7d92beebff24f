"""The name of the fulfilment flow's actor, ``fulfil_orders``, on its own so that the steps which
hand orders to the flow (``review``, ``merging``) need not import the flow, which itself imports
``planning`` → ``merging``. Not for anything else: the flow lives in ``flow``.
"""

from __future__ import annotations

FULFIL_ACTOR = "fulfil_orders"
