"""The fulfilment half of ``hub run --demo``: orders reviewed, routed, shipped and tracked with no person.

``configure`` starts two more sandboxes beside the channel ones — a WMS behind Qimen
(``QimenWmsSandbox``, the 3PL) and Kuaidi100 (``Kuaidi100Sandbox``: tracking and its electronic
waybill API) — and configures the hub for them: the own warehouse ``main`` (with a sender address)
for the buyers in China, the 3PL ``DEMO_3PL`` for everyone else (the AliExpress buyers abroad, whom
the domestic waybill services refuse), a courier account per waybill provider (Cainiao over the demo
Taobao shop's TOP gateway, the Douyin e-waybill, the Kuaidi100 label API), courier rules per
platform, Kuaidi100 tracking with callbacks to the hub itself, and a review that holds a few orders
for named reasons. Secrets go to ``hub-demo.secrets`` like the shops' (``DemoEnvironment.secrets``).

``FulfilmentDriver`` then plays the people and partners the hub waits for, a few seconds apart so
each state shows in the console: the 3PL ships what it received and calls back
(``deliveryorder.confirm``); the packer picks, packs and ships the own warehouse's delivery orders
once their waybills are issued, through the same services as the API (``own_warehouse``, as
``DEMO_PACKER``); the courier moves each subscribed parcel collected → in transit → out for delivery
→ delivered with Kuaidi100's signed callbacks. Every loop logs a failure and goes on. Never used in
production mode; not a model of how long a real warehouse or courier takes.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel

from hub.asgi_server import BackgroundServer
from hub.config import CourierConfig, WarehouseConfig
from hub.sandbox_ids import run_offset, sandbox_ids, set_sandbox_id_offset
from hub.services.fulfilment.settings import CourierRule, CourierRulesSettings, ReviewSettings, TrackingSettings

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

#: The own warehouse and the 3PL behind Qimen.
DEMO_OWN = "main"
DEMO_3PL = "wms-3pl"
#: Provinces the own warehouse ships to: where the demo's Taobao/Tmall (河南) and Douyin (浙江)
#: buyers live. The rest (the AliExpress buyers in the United States) go to the 3PL.
DEMO_OWN_REGIONS = ["河南", "浙江", "上海", "江苏"]
DEMO_SENDER = {"name": "Demo Warehouse 演示仓", "phone": "13800000000", "province": "浙江省", "city": "杭州市",
               "district": "余杭区", "street": "文一西路 1 号"}
#: What the 3PL holds at the first start (the own warehouse holds ``hub.demo.DEMO_SKUS``).
DEMO_3PL_STOCK = {"DEMO-TEE-M": 100, "DEMO-TEE-L": 100, "DEMO-MUG": 60}
#: Courier accounts: Cainiao (Taobao orders, ZTO), the Douyin e-waybill (Douyin orders, YTO), the
#: Kuaidi100 label API (Tmall orders, SF) and Kuaidi100 tracking. One provider per courier code, so
#: two providers' sandboxes never hand out the same (courier, number).
CAINIAO, DOUYIN_WAYBILL, K100_LABEL, K100_TRACK = "cainiao-zto", "douyin-yto", "k100-sf", "k100-track"
DEMO_RULES = [
    CourierRule(courier=DOUYIN_WAYBILL, courier_code="yto", platforms=["douyin"]),
    CourierRule(courier=K100_LABEL, courier_code="sf", platforms=["tmall"]),
    CourierRule(courier=CAINIAO, courier_code="zto", platforms=["taobao", "tmall"]),
]
#: The cloud-print template the Cainiao account names (the sandbox prints nothing; any URL does).
CAINIAO_TEMPLATE = "http://cloudprint.cainiao.com/template/standard/101"
#: The 3PL ships abroad by EMS (a Qimen ``logisticsCode`` Kuaidi100 tracks and AliExpress knows).
DEMO_3PL_COURIER = "EMS"
#: Who the demo's packer is in the orders' history.
DEMO_PACKER = "demo.packer"
#: Seconds between the demo's steps (3PL shipping, packing, a courier scan); ``HUB_DEMO_PACE_S`` changes it.
PACE_VAR = "HUB_DEMO_PACE_S"
DEFAULT_PACE_S = 4.0
#: How far the Kuaidi100 sandbox moves its clock for each scan it records; its scans are China time.
SCAN_STEP = timedelta(hours=3)
CHINA_TZ = timezone(timedelta(hours=8))
#: At most this many delivery orders, callbacks or scans per loop and tick.
BATCH = 20
#: How far down the pick list the packer looks (an earlier run's leftovers stay on it, for a person).
LISTED = 200


def demo_pace() -> float:
    """Seconds between the demo's fulfilment steps (``HUB_DEMO_PACE_S``, default 4; tests go faster)."""
    try:
        return max(0.2, float(os.environ.get(PACE_VAR, DEFAULT_PACE_S)))
    except ValueError:
        return DEFAULT_PACE_S


#: One move of a demo driver: its name in the logs and what it does once a tick.
DemoStep = tuple[str, Callable[[], Awaitable[object]]]


async def run_paced(stop: asyncio.Event, *, name: str, pace_s: float, start: Callable[[], Awaitable[None]],
                    steps: Sequence[DemoStep]) -> None:
    """The loop of every demo driver, until ``stop``: ``start()`` (what the driver reads once, e.g.
    the last id before this run) until it succeeds — asked again every tick while the database is
    starting, logged as ``demo.<name>_waiting`` —, then each of ``steps`` in turn every tick (half
    of ``pace_s``, at most a second), a failure logged as ``demo.<name>_step_failed`` and the loop
    going on (the next tick tries again)."""
    tick = min(1.0, pace_s / 2)
    while not stop.is_set():
        try:
            await start()
            break
        except Exception as exc:  # the database is starting: the next tick asks again
            log.info(f"demo.{name}_waiting", reason=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(tick)
    while not stop.is_set():
        for step_name, step in steps:
            try:
                await step()
            except Exception as exc:  # keep the demo going; the next tick tries again
                log.info(f"demo.{name}_step_failed", step=step_name, reason=f"{type(exc).__name__}: {exc}")
        try:
            await asyncio.wait_for(stop.wait(), tick)
        except TimeoutError:
            pass


def _beside(hub: Hub, kind: str, platform: str, module: str) -> ModuleType | None:
    """``module`` of the plugin package that registered the ``kind`` connector for ``platform``,
    found from that connector (the hub names no plugin: it loads them by entry point); None when
    the plugin is not installed or ships no such module."""
    connector = hub.plugins.connector_class(kind, platform)
    if connector is None:
        return None
    try:
        return importlib.import_module(f"{connector.__module__.rpartition('.')[0]}.{module}")
    except ImportError:
        return None


def _restart_waybill_numbers(hub: Hub, offset: int) -> None:
    """Start the waybill sandboxes' module-level number counters at this run's offset.

    Workaround: the Douyin e-waybill and Kuaidi100 label sandboxes draw numbers from counters made
    at import (before the demo sets its offset), so a restarted demo would hand out the earlier
    run's numbers, which the hub's database already holds (unique per courier): the parcels would fail.
    """
    set_sandbox_id_offset(offset)
    try:
        for kind, platform, module, first in (("courier", "douyin_waybill", "sandbox_waybill", 310_000_000_001),
                                              ("courier", "kuaidi100_label", "sandbox_label", 620_000_000_001)):
            found = _beside(hub, kind, platform, module)
            if found is not None and hasattr(found, "_NUMBERS"):
                setattr(found, "_NUMBERS", sandbox_ids(first))  # noqa: B010 (a private counter, see above)
    finally:
        set_sandbox_id_offset(0)


def _restart_cainiao_numbers(cainiao: Any, offset: int) -> None:
    """The Cainiao sandbox makes its per-cp_code counters at the first waybill (offset 0 by then):
    make the demo's now, at this run's offset (see ``_restart_waybill_numbers``)."""
    set_sandbox_id_offset(offset)
    try:
        for rule in DEMO_RULES:
            if rule.courier == CAINIAO and rule.courier_code:
                cainiao._counters[rule.courier_code.upper()] = sandbox_ids(1)
    finally:
        set_sandbox_id_offset(0)


SecretSplitter = Callable[[str, dict[str, Any], type[BaseModel] | None], tuple[dict[str, Any], dict[str, str]]]


def configure(hub: Hub, env: Any, api: str, split_secrets: SecretSplitter) -> FulfilmentDriver | None:
    """Start the 3PL and Kuaidi100 sandboxes and configure warehouses, couriers and the fulfilment
    steps for the demo (sections the operator's config already has are kept). None when a plugin
    it needs is not installed (the demo then runs without fulfilment, as before)."""
    config = hub.config
    wms_class = getattr(_beside(hub, "warehouse", "qimen", "sandbox"), "QimenWmsSandbox", None)
    k100 = _beside(hub, "courier", "kuaidi100", "sandbox")
    if wms_class is None or k100 is None or hub.plugins.connector_class("courier", "kuaidi100_label") is None:
        log.warning("demo.fulfilment_missing", detail="the warehouse or logistics plugin is not installed")
        config.warehouses.setdefault(DEMO_OWN, WarehouseConfig(platform="manual"))
        return None
    offset = run_offset()
    _restart_waybill_numbers(hub, offset)
    wms, couriers = wms_class(), k100.Kuaidi100Sandbox()
    wms_server, k100_server = BackgroundServer(wms.app).start(), BackgroundServer(couriers.app).start()
    env.servers += [wms_server, k100_server]
    for sku, quantity in DEMO_3PL_STOCK.items():
        wms.set_stock(sku, quantity)

    def account(kind: str, name: str, platform: str, settings: dict[str, Any]) -> dict[str, Any]:
        model = getattr(hub.plugins.connector_class(kind, platform), "Settings", None)
        plain, credentials = split_secrets(name, settings, model)
        return {"platform": platform, "settings": plain, "credentials": credentials}

    if DEMO_OWN not in config.warehouses:
        config.warehouses[DEMO_OWN] = WarehouseConfig(platform="manual", priority=10, regions=DEMO_OWN_REGIONS,
                                                      address=dict(DEMO_SENDER))
    if DEMO_3PL not in config.warehouses:
        settings = {**wms.warehouse_settings(wms_server.base_url), "logistics_code": DEMO_3PL_COURIER}
        config.warehouses[DEMO_3PL] = WarehouseConfig(priority=20, **account("warehouse", DEMO_3PL, "qimen", settings))
    taobao = env.sandboxes.get("demo-taobao")
    if taobao is not None and CAINIAO not in config.couriers and hub.plugins.connector_class("courier", "cainiao"):
        # One TOP sandbox issues every Cainiao number: two would hand out the same ones.
        _restart_cainiao_numbers(taobao.cainiao, offset)
        top = taobao.shop_settings("demo-taobao", env.urls["demo-taobao"])
        settings = {**{k: top[k] for k in ("gateway_url", "app_key", "app_secret", "session", "sign_method")},
                    "template_url": CAINIAO_TEMPLATE}
        config.couriers[CAINIAO] = CourierConfig(**account("courier", CAINIAO, "cainiao", settings))
        tmall = env.sandboxes.get("demo-tmall")
        if tmall is not None and hasattr(tmall, "trade_of_oaid"):
            # Tmall orders ship with this account too: its sandbox knows their recipients' oaids.
            taobao.cainiao.share_with(lambda oaid: tmall.trade_of_oaid("demo-tmall", oaid))
    douyin = env.sandboxes.get("demo-douyin")
    if douyin is not None and DOUYIN_WAYBILL not in config.couriers and hub.plugins.connector_class(
            "courier", "douyin_waybill"):
        settings = douyin.waybill_settings("demo-douyin", env.urls["demo-douyin"])
        config.couriers[DOUYIN_WAYBILL] = CourierConfig(**account("courier", DOUYIN_WAYBILL, "douyin_waybill",
                                                                  settings))
    if K100_LABEL not in config.couriers:
        settings = couriers.label_settings(k100_server.base_url, couriers=["sf"])
        config.couriers[K100_LABEL] = CourierConfig(**account("courier", K100_LABEL, "kuaidi100_label", settings))
    if K100_TRACK not in config.couriers:
        settings = couriers.courier_settings(k100_server.base_url)
        config.couriers[K100_TRACK] = CourierConfig(priority=1000, **account("courier", K100_TRACK, "kuaidi100",
                                                                             settings))
    section = config.fulfilment
    if not section.couriers.rules:
        rules = [rule for rule in DEMO_RULES if rule.courier in config.couriers]
        section.couriers = CourierRulesSettings(rules=rules)
    if section.tracking.courier is None:
        section.tracking = TrackingSettings(**{**section.tracking.model_dump(), "courier": K100_TRACK,
                                               "callback_base_url": api})
    if "review" not in section.model_fields_set and section.review == ReviewSettings():
        # Besides the demo's high-value hold: a buyer's remark (some demo Taobao/Tmall buyers write one).
        section.review = ReviewSettings(hold_on_buyer_remark=True)
    log.info("demo.fulfilment_started", wms=wms_server.base_url, kuaidi100=k100_server.base_url)
    return FulfilmentDriver(hub, api=api, wms=wms, wms_warehouse=DEMO_3PL, couriers=couriers, own_warehouse=DEMO_OWN,
                            numbers=itertools.count(offset + 1), scans=len(k100.NORMAL_PATH))


async def seed_3pl_stock(hub: Hub, new_skus: list[str]) -> None:
    """The 3PL's stock in the hub (as if the WMS had reported it), for SKUs seeded this run."""
    from hub.services.stock import adjustments

    if DEMO_3PL not in hub.config.warehouses:
        return
    await adjustments.adjust_stock(
        hub,
        [adjustments.Adjustment(warehouse=DEMO_3PL, merchant_sku=sku, on_hand=DEMO_3PL_STOCK[sku])
         for sku in new_skus if sku in DEMO_3PL_STOCK],
        actor="demo",
        reference="demo-seed",
    )


@dataclass
class FulfilmentDriver:
    """The demo's 3PL, packer and courier (see the module docstring); ``run`` until stopped."""

    hub: Hub
    api: str
    wms: Any  # plugins.warehouse.sandbox.QimenWmsSandbox
    wms_warehouse: str
    couriers: Any  # plugins.logistics.sandbox.Kuaidi100Sandbox
    own_warehouse: str
    numbers: itertools.count[int]
    #: Scans on the Kuaidi100 sandbox's normal path (its ``NORMAL_PATH``), the last one signed for.
    scans: int = 5
    pace_s: float = field(default_factory=demo_pace)
    clock: Callable[[], float] = time.monotonic
    #: When each thing was first seen ready (WMS delivery order code, own delivery order id) or last
    #: moved (a waybill at the courier): the next step waits ``pace_s`` after it.
    _wms_seen: dict[str, float] = field(default_factory=dict)
    _callbacks: list[tuple[str, int, tuple[dict[str, str], bytes]]] = field(default_factory=list)
    _own_moved: dict[int, float] = field(default_factory=dict)
    _scanned: dict[tuple[str, str], float] = field(default_factory=dict)
    #: Own delivery orders the hub refused to move (on hold): the packer leaves them to a person.
    _refused: set[int] = field(default_factory=set)
    #: The last delivery order id before this run: the demo's partners handle only newer ones.
    _before: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        await run_paced(stop, name="fulfilment", pace_s=self.pace_s, start=self._note_last_delivery_order,
                        steps=(("3pl", self.ship_at_wms), ("packer", self.pack_and_ship_own),
                               ("courier", self.move_parcels)))

    async def _note_last_delivery_order(self) -> None:
        from sqlalchemy import func, select

        from hub.db.tables import DeliveryOrderRow

        if self._before is None:
            async with self.hub.database().session() as session:
                self._before = int(await session.scalar(select(func.max(DeliveryOrderRow.id))) or 0)

    async def _this_runs(self, codes: list[str]) -> set[str]:
        """The delivery orders among ``codes`` made in this run (an earlier run's orders belong to
        sandboxes that are gone: shipping them would tell a channel that never heard of them)."""
        from sqlalchemy import select

        from hub.db.tables import DeliveryOrderRow

        if not codes:
            return set()
        async with self.hub.database().session() as session:
            rows = await session.execute(select(DeliveryOrderRow.code).where(
                DeliveryOrderRow.code.in_(codes), DeliveryOrderRow.id > (self._before or 0)))
            return set(rows.scalars())

    def _due(self, seen: dict[Any, float], key: Any) -> bool:
        now = self.clock()
        return now - seen.setdefault(key, now) >= self.pace_s

    async def ship_at_wms(self) -> None:
        """The 3PL ships each delivery order ``pace_s`` after it arrived, by EMS with a new number,
        and calls the hub back; a refused callback is sent again a few times, as a WMS does."""
        url = f"{self.api}/webhooks/warehouse/{self.wms_warehouse}"
        pending, self._callbacks = self._callbacks, []
        for code, tries, callback in pending:
            await self._send(url, code, tries, callback)
        shipped = 0
        accepted = [code for code, order in list(self.wms.orders.items()) if order.status == "ACCEPT"]
        ours = await self._this_runs(accepted)
        for code in accepted:
            if code not in ours or shipped >= BATCH or not self._due(self._wms_seen, code):
                continue
            number = f"EA{next(self.numbers)}CN"
            callback = self.wms.ship(code, number, logistics_code=DEMO_3PL_COURIER, weight_kg="0.6")
            self._wms_seen.pop(code, None)
            shipped += 1
            await self._send(url, code, 0, callback)

    async def _send(self, url: str, code: str, tries: int, callback: tuple[dict[str, str], bytes]) -> None:
        try:
            answer = await self.wms.send_callback(url, callback)
            ok = answer.status_code == 200
            detail = f"HTTP {answer.status_code}"
        except Exception as exc:  # the hub is restarting: try again
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if ok:
            log.info("demo.3pl_shipped", delivery_order=code)
        elif tries < 5:
            self._callbacks.append((code, tries + 1, callback))
        else:
            log.info("demo.3pl_callback_dropped", delivery_order=code, reason=detail)

    async def pack_and_ship_own(self) -> None:
        """The packer: each own delivery order whose waybills are issued is picked, then packed (a
        weight), then shipped, one step per ``pace_s`` — so the pick list shows it meanwhile."""
        from hub.services.fulfilment import own_warehouse

        listed = await own_warehouse.pick_list(self.hub, warehouse=self.own_warehouse,
                                               statuses=("sent", "picking", "packed"), limit=LISTED)
        moved = 0
        for entry in listed.entries:
            if entry.id <= (self._before or 0) or entry.id in self._refused or moved >= BATCH:
                continue  # an earlier run's (``_this_runs``) or one the hub refused: a person's now
            parcels = [p for p in entry.parcels if p.status not in own_warehouse.GONE]
            if not parcels or any(p.status not in own_warehouse.WITH_WAYBILL or not p.waybill_number
                                  for p in parcels):
                self._own_moved.pop(entry.id, None)  # waits for its waybill; the clock starts then
                continue
            if not self._due(self._own_moved, entry.id):
                continue
            try:
                if entry.status == "sent":
                    await own_warehouse.pick(self.hub, [entry.id], actor=DEMO_PACKER)
                elif entry.status == "picking":
                    units = sum(line.quantity for line in entry.lines)
                    packed = [own_warehouse.PackedParcel(weight_grams=150 + 350 * units)]
                    await own_warehouse.pack(self.hub, entry.id, packed, actor=DEMO_PACKER)
                else:
                    await own_warehouse.ship(self.hub, entry.id, actor=DEMO_PACKER)
            except own_warehouse.StateConflict as exc:  # intercepted meanwhile (a refund too late): left to a person
                log.info("demo.packer_left", delivery_order_id=entry.id, reason=str(exc))
                self._refused.add(entry.id)
            self._own_moved[entry.id] = self.clock()
            moved += 1
        for gone in set(self._own_moved) - {entry.id for entry in listed.entries}:
            self._own_moved.pop(gone, None)

    async def move_parcels(self) -> None:
        """The courier: each parcel the hub subscribed moves one scan along Kuaidi100's normal path
        every ``pace_s`` (collected … signed for), each followed by Kuaidi100's signed callback."""
        moved = 0
        for key in list(self.couriers.subscriptions):
            waybill = self.couriers.waybills.get(key)
            if waybill is None or waybill.step >= self.scans:
                self._scanned.pop(key, None)
                continue
            if moved >= BATCH or not self._due(self._scanned, key):
                continue
            # The sandbox's clock steps 3 h a scan from a fixed day; the demo's scans happen now
            # (a scan days old would make the hub call the parcel stalled).
            self.couriers.clock = datetime.now(CHINA_TZ) - SCAN_STEP
            self.couriers.advance(*key)
            self._scanned[key] = self.clock()
            moved += 1
            answer = await self.couriers.send_callback(*key)
            if answer.status_code != 200:
                log.info("demo.courier_callback_refused", status=answer.status_code)
