"""``ManualCourier``: a courier account for labels bought elsewhere (``platform = "manual"``).

Some parcels cannot get an electronic waybill from any provider the hub speaks to — Cainiao, the
Douyin e-waybill and Kuaidi100's label API issue domestic waybills only, so an AliExpress order to
a buyer abroad shipped from the own warehouse has none. The merchant buys that label elsewhere (a
post office counter, a forwarder's system) and types its tracking number into the hub
(``POST /api/v1/parcels/{id}/waybill`` with ``waybill_number``, ``hub parcels waybill ID --number``,
the console). This account is what the courier rules choose for such parcels: it calls nothing and
declares no capability, so the waybill step leaves its parcels waiting for a person instead of
failing them. Not for tracking (a tracking account such as ``kuaidi100`` still tracks the number).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from contracts import Capability, ConnectorContext


class ManualCourierSettings(BaseModel):
    """Nothing to set: the carrier is the account's (or the rule's) ``courier_code``."""

    model_config = ConfigDict(extra="forbid")


class ManualCourier:
    """Labels bought elsewhere, their numbers entered by people. No capability: nothing is called."""

    platform: ClassVar[str] = "manual"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    Settings: ClassVar[type[BaseModel]] = ManualCourierSettings
    #: Read by ``hub check-config``: a courier rule may name this account although it issues no
    #: waybills (its parcels wait for a number typed in).
    waybills_entered_by_hand: ClassVar[bool] = True

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    async def aclose(self) -> None:
        return None
