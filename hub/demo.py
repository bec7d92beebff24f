"""``hub run --demo``: the embedded hub wired to in-process partner sandboxes.

Starts every channel sandbox the plugins register on a local port, configures a demo shop
against each (Taobao, Tmall, Douyin, AliExpress when installed), seeds a small catalogue with
stock, keeps one admin API key and one console user (``demo.operator``, an operator), and keeps
the sandboxes busy creating orders and having buyers pay — so a newcomer sees orders and stock
moving in the API within seconds. The sandboxes never ship an order
themselves: the hub fulfils them with no person (``hub.demo_fulfilment``: review, routing to the own
warehouse or a 3PL, waybills, shipping, the channel told, tracking to delivered). Its larger orders
and those with a buyer's remark are held by the review (``DEMO_HIGH_VALUE_HOLD``) so the console's
exceptions queue is not empty, and the orders screen offers a shared saved view of them
(``DEMO_VIEW_NAME``). After the sale, the buyers ask for refunds, returns and exchanges
(``hub.demo_aftersales``: a steady few cases wait for a person, small refunds are approved by the
rule, goods come back once a person agreed). Its Tmall shop and its Douyin shop also sell an air
conditioner that needs installing (``hub.demo_service_orders``: technicians seeded, the Tmall sandbox
issues installation work cards for those orders, the technicians book, check in and complete them,
one back-dated card shows overdue; a rule creates the Douyin orders' installations). Operations
staff work alongside (``hub.demo_operations``: user tags and cost prices seeded, held orders tagged
VIP and prioritised, a gift note written back to Taobao, price changes waiting for approval, and
the hub's notifications sent to a signed webhook and a DingTalk robot sandbox).

It also writes ``hub-demo.toml`` (the database, the demo shops, warehouses and couriers at the
sandboxes' ports, the fulfilment, after-sales and service-order sections, credentials by variable
name) and ``hub-demo.secrets`` (their values, the admin key and the demo user's password, readable
by the owner only) in the working directory, so ``hub --config hub-demo.toml ...`` works against the
running demo. A restart in the same directory reuses the database, the admin key and the user's password; the sandboxes
start empty, so their ids start above the earlier run's and the demo shops' listings and cursors of
the earlier run are forgotten (``hub run`` finishes the earlier run's work before it stops, while
its sandboxes still answer). No two sandboxes issue the same order id, so an order id names one
order across the demo shops. Never used in production mode.

Before the first order, each demo shop lists the demo catalogue's SKUs (a sandbox's optional
``demo_list``), one item whose code the catalogue does not have (``DEMO_UNKNOWN_CODE``) and one
without a code, and the hub's listing sync binds them: the demo's orders find their listings
bound by merchant code, never learned from the sale, and the two strangers are reported as
unmatched (``hub listings unmatched``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import SecretStr

from hub import demo_aftersales, demo_fulfilment, demo_operations, demo_service_orders
from hub.asgi_server import BackgroundServer
from hub.config import ShopConfig
from hub.context import Hub
from hub.demo_aftersales import AftersalesDriver
from hub.demo_fulfilment import FulfilmentDriver
from hub.demo_operations import OperationsDriver
from hub.demo_service_orders import ServiceOrdersDriver
from hub.plugins import HubPlugins
from hub.sandbox_ids import run_offset, set_sandbox_id_offset

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

DEMO_PLATFORMS = ("taobao", "tmall", "douyin", "aliexpress")
#: The demo catalogue and the own warehouse's stock at the first start. The air conditioner needs
#: installing: only the Tmall and Douyin shops sell it (``demo_service_orders.sold_by``).
DEMO_SKUS = {"DEMO-TEE-M": 300, "DEMO-TEE-L": 200, "DEMO-MUG": 120, "DEMO-AC-1P": 80}
#: A merchant code the demo shops list but the catalogue does not have: an unmatched listing.
DEMO_UNKNOWN_CODE = "DEMO-POSTER"
#: What a demo listing shows before the hub's first push.
DEMO_LISTED_STOCK = 50
STEP_INTERVAL_S = 0.5
CONFIG_NAME = "hub-demo.toml"
SECRETS_NAME = "hub-demo.secrets"
ADMIN_KEY_VAR = "HUB_DEMO_ADMIN_KEY"
#: Orders above this total are held (``rules.high_value_hold_amount``) unless the config sets the
#: rule: the sandboxes' two-item orders (¥76) are, so the console's exceptions queue has something
#: to show and release.
DEMO_HIGH_VALUE_HOLD = 70.0
DEMO_USER = "demo.operator"
DEMO_USER_PASSWORD_VAR = "HUB_DEMO_OPERATOR_PASSWORD"
#: A saved view on the orders screen, shared with everyone (saved by the demo user), so the
#: screen's saved views show from the first start.
DEMO_VIEW_NAME = "Held orders · 挂起订单"
DEMO_VIEW_FILTERS = {"held": "1"}


@dataclass
class DemoEnvironment:
    hub: Hub
    directory: Path
    servers: list[BackgroundServer] = field(default_factory=list)
    sandboxes: dict[str, Any] = field(default_factory=dict)  # shop -> sandbox
    urls: dict[str, str] = field(default_factory=dict)  # shop -> its sandbox's base URL
    #: The 3PL, packer and courier (``hub.demo_fulfilment``); None without the plugins it needs.
    fulfilment: FulfilmentDriver | None = None
    #: The buyers after the sale (``hub.demo_aftersales``); None without a demo shop.
    aftersales: AftersalesDriver | None = None
    #: The Tmall work cards and the technicians (``hub.demo_service_orders``); None without them.
    service_orders: ServiceOrdersDriver | None = None
    #: The operations staff: tags, priority, notes, price changes (``hub.demo_operations``).
    operations: OperationsDriver | None = None
    #: The receiver of the demo's notifications (``plugins.notifiers.sandbox``); None without it.
    notifier_sandbox: Any = None
    #: Variable name → value: the demo shops' credentials and the admin key (hub-demo.secrets).
    secrets: dict[str, str] = field(default_factory=dict)
    admin_key: str | None = None
    #: What the start-up box says about the key: kept from the last run, or new.
    admin_key_note: str = ""

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME

    @property
    def secrets_path(self) -> Path:
        return self.directory / SECRETS_NAME

    async def drive(self, stop: asyncio.Event) -> None:
        """Until stopped: the shops' orders (``drive_shops``) and, beside them, the partners who
        fulfil them (``FulfilmentDriver.run``), the buyers' after-sales (``AftersalesDriver.run``),
        the installations (``ServiceOrdersDriver.run``) and the operations staff
        (``OperationsDriver.run``)."""
        drivers: list[Any] = [driver.run(stop) for driver in (self.fulfilment, self.aftersales, self.service_orders,
                                                                   self.operations)
                              if driver is not None]
        await asyncio.gather(self.drive_shops(stop), *drivers)

    async def drive_shops(self, stop: asyncio.Event) -> None:
        """Create and advance orders in the sandboxes, one shop after another, until stopped: every
        shop takes a step (its first one creates an order) within each round of the shops."""
        shops = itertools.cycle(list(self.sandboxes))
        while self.sandboxes and not stop.is_set():
            shop = next(shops)
            try:
                await self.sandboxes[shop].demo_step(shop)
            except Exception as exc:  # keep the demo going: a sold-out SKU is part of the show
                log.info("demo.step_skipped", shop=shop, reason=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(stop.wait(), STEP_INTERVAL_S)
            except TimeoutError:
                pass

    def stop(self) -> None:
        for server in self.servers:  # all at once: each takes a tick of its loop to notice
            server.server.should_exit = True
        for server in self.servers:
            server.stop()


def _secret_fields(settings_model: Any) -> set[str]:
    """Settings the connector types as ``SecretStr``: they go to the secrets file, not the config."""
    fields = getattr(settings_model, "model_fields", {})
    return {name for name, info in fields.items()
            if info.annotation is SecretStr or SecretStr in typing.get_args(info.annotation)}


def _read_secrets(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.partition("=") for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, sep, value in pairs if sep}


def new_sandboxes(plugins: HubPlugins, *, started_at: float | None = None) -> dict[str, Any]:
    """Platform → a new sandbox, for each demo platform whose plugin is installed.

    Their ids start at this run's offset (``run_offset(started_at)``, default now), above every id
    an earlier run issued; sandboxes built afterwards (tests) get the documented first ids again.
    """
    classes = plugins.sandboxes()
    built: dict[str, Any] = {}
    set_sandbox_id_offset(run_offset(started_at))
    try:
        for platform in DEMO_PLATFORMS:
            cls = classes.get(platform)
            if cls is None or plugins.connector_class("channel", platform) is None:
                log.warning("demo.sandbox_missing", platform=platform)
                continue
            built[platform] = cls()
    finally:
        set_sandbox_id_offset(0)
    return built


def _split_secrets(env: DemoEnvironment, account: str, settings: dict[str, Any], model: Any
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings without secrets, setting → variable): the ``SecretStr`` settings of ``model`` go to
    ``env.secrets`` as ``HUB_DEMO_<ACCOUNT>_<SETTING>``."""
    settings, credentials = dict(settings), {}
    prefix = "HUB_DEMO_" + "".join(c if c.isalnum() else "_" for c in account.upper())
    for name in sorted(_secret_fields(model) & set(settings)):
        var = f"{prefix}_{name.upper()}"
        env.secrets[var] = str(settings.pop(name))
        credentials[name] = var
    return settings, credentials


def start_demo(hub: Hub, directory: Path | None = None) -> DemoEnvironment:
    """Start the sandboxes, add a demo shop for each to the hub's configuration, start the 3PL and
    courier sandboxes and configure fulfilment for them (``hub.demo_fulfilment``), after-sales
    for the demo shops (``hub.demo_aftersales``) and service orders (``hub.demo_service_orders``)."""
    env = DemoEnvironment(hub, (directory or Path.cwd()).resolve())
    env.secrets = _read_secrets(env.secrets_path)
    api = f"http://{hub.config.hub.api_host}:{hub.config.hub.api_port}"
    for platform, sandbox in new_sandboxes(hub.plugins).items():
        connector = hub.plugins.connector_class("channel", platform)
        assert connector is not None  # new_sandboxes builds none for a platform without one
        server = BackgroundServer(sandbox.app).start()
        env.servers.append(server)
        shop = f"demo-{platform}"
        settings, credentials = _split_secrets(env, platform, sandbox.shop_settings(shop, server.base_url),
                                               connector.Settings)
        hub.config.shops[shop] = ShopConfig(platform=platform, settings=settings, credentials=credentials,
                                            poll_interval_s=20, poll_overlap_s=60)
        sandbox.set_push_target(shop, f"{api}/webhooks/{platform}/{shop}")
        sandbox.demo_skus = demo_service_orders.sold_by(platform, list(DEMO_SKUS))
        list_demo_items = getattr(sandbox, "demo_list", None)
        if list_demo_items is not None:
            for code in [*sandbox.demo_skus, DEMO_UNKNOWN_CODE, ""]:
                list_demo_items(shop, code, DEMO_LISTED_STOCK)
        env.sandboxes[shop] = sandbox
        env.urls[shop] = server.base_url
        log.info("demo.sandbox_started", platform=platform, shop=shop, url=server.base_url)
    if hub.config.rules.high_value_hold_amount is None:
        hub.config.rules.high_value_hold_amount = DEMO_HIGH_VALUE_HOLD
    env.fulfilment = demo_fulfilment.configure(
        hub, env, api, lambda account, settings, model: _split_secrets(env, account, settings, model))
    env.aftersales = demo_aftersales.configure(hub, env)
    env.service_orders = demo_service_orders.configure(hub, env)
    env.operations = demo_operations.configure(hub, env, lambda app: BackgroundServer(app).start())
    hub.config._secrets = {**hub.config.secrets, **env.secrets}
    return env


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def _absolute_database_url(url: str, directory: Path) -> str:
    """``sqlite+aiosqlite:///./hub.db`` → the same file by absolute path (the config works anywhere)."""
    head, sep, path = url.partition(":///")
    if not sep or not head.startswith("sqlite") or path.startswith("/") or path.startswith(":memory:"):
        return url
    return f"{head}:///{(directory / path).resolve()}"


def write_demo_files(env: DemoEnvironment) -> None:
    """``hub-demo.toml`` (no secret in it) and ``hub-demo.secrets`` (mode 0600) in the demo's directory."""
    config = env.hub.config
    lines = [
        "# Written by `hub run --demo` at each start: the running demo's database and sandbox shops.",
        "# Use it while the demo runs:  hub --config hub-demo.toml dlq list | stock import FILE | stock reconcile",
        "# Secrets (the sandboxes' credentials, the admin API key) are in hub-demo.secrets, not here.",
        "[hub]",
        f"database_url = {_toml_value(_absolute_database_url(config.database_url, Path.cwd()))}",
        f"api_host = {_toml_value(config.hub.api_host)}",
        f"api_port = {config.hub.api_port}",
        f"secrets_file = {_toml_value(SECRETS_NAME)}",
    ]
    for name, shop in config.shops.items():
        lines += ["", f"[shops.{name}]", f"platform = {_toml_value(shop.platform)}",
                  f"poll_interval_s = {shop.poll_interval_s}", f"poll_overlap_s = {shop.poll_overlap_s}",
                  "", f"[shops.{name}.settings]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in shop.settings.items()]
        if shop.credentials:
            lines += ["", f"[shops.{name}.credentials]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in shop.credentials.items()]
    for kind, accounts in (("warehouses", config.warehouses), ("couriers", config.couriers)):
        for name, account in accounts.items():
            lines += ["", f"[{kind}.{_toml_key(name)}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in account.model_dump(
                mode="json", exclude_defaults=True, include={"platform", "priority", "regions", "address", "settings",
                                                             "credentials"}).items()]
    if config.rules.high_value_hold_amount is not None:
        lines += ["", "[rules]", f"high_value_hold_amount = {config.rules.high_value_hold_amount!r}"]
    for step, values in config.fulfilment.model_dump(mode="json", exclude_defaults=True).items():
        lines += ["", f"[fulfilment.{step}]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items())]
    lines += _aftersales_lines(config.aftersales.model_dump(mode="python", exclude_defaults=True))
    lines += _service_orders_lines(config.service_orders.model_dump(mode="json", exclude_defaults=True))
    lines += _operations_lines(config)
    env.config_path.write_text("\n".join(lines) + "\n")
    secrets = ["# hub-demo.toml's credentials, the demo's admin API key and the demo user's password. "
               "Keep it to yourself."]
    secrets += [f"{name}={value}" for name, value in sorted(env.secrets.items())]
    fd = os.open(env.secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(secrets) + "\n")
    os.chmod(env.secrets_path, 0o600)


def _aftersales_lines(section: dict[str, Any]) -> list[str]:
    """The ``[aftersales]`` section (what differs from the defaults) and its return addresses."""
    addresses = {f"aftersales.return_addresses.{_toml_key(shop)}": address
                 for shop, address in section.pop("return_addresses", {}).items()}
    if section.get("default_return_address"):
        addresses["aftersales.default_return_address"] = section.pop("default_return_address")
    lines = ["", "[aftersales]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in section.items()
                                   if v is not None)] if section else []
    for table, address in addresses.items():
        lines += ["", f"[{table}]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in address.items()
                                      if v is not None)]
    return lines


def _operations_lines(config: Any) -> list[str]:
    """``[search]`` (the key's name, so the CLI hashes as the demo does) and ``[notifications]``:
    its channels (credentials by variable name), rules and daily summary."""
    lines = ["", "[search]", f"key_secret = {_toml_value(config.search.key_secret)}"]
    section = config.notifications.model_dump(mode="json", exclude_defaults=True)
    for name, channel in section.pop("channels", {}).items():
        lines += ["", f"[notifications.channels.{_toml_key(name)}]",
                  *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in channel.items())]
    for rule in section.pop("rules", []):
        lines += ["", "[[notifications.rules]]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in rule.items())]
    if section.get("daily_summary"):
        lines += ["", "[notifications.daily_summary]",
                  *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in section.pop("daily_summary").items())]
    return lines


def _service_orders_lines(section: dict[str, Any]) -> list[str]:
    """The ``[service_orders]`` section (what differs from the defaults): its settings, the code
    table, the deadlines per type and the rules, each in a table of its own."""
    codes, sla, rules = section.pop("service_codes", {}), section.pop("sla", {}), section.pop("rules", [])
    lines = ["", "[service_orders]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in section.items()
                                       if v is not None)] if section else []
    if codes:
        lines += ["", "[service_orders.service_codes]",
                  *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in codes.items())]
    for kind, hours in sla.items():
        lines += ["", f"[service_orders.sla.{_toml_key(kind)}]", *(f"{k} = {_toml_value(v)}" for k, v in hours.items())]
    for rule in rules:
        lines += ["", "[[service_orders.rules]]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in rule.items())]
    return lines


async def forget_earlier_sandboxes(hub: Hub, shops: list[str]) -> None:
    """The sandboxes start empty: drop the demo shops' listings and cursors from an earlier run.

    Orders stay; the listings (item ids the new sandboxes never issued) would make every stock
    push fail, and a poll cursor or token from the earlier sandbox means nothing to the new one.
    """
    from sqlalchemy import delete

    from hub.db.tables import ChannelStockRow, ListingRow, ShopStateRow

    async with hub.database().transaction() as session:
        await session.execute(delete(ChannelStockRow).where(ChannelStockRow.shop.in_(shops)))
        await session.execute(delete(ListingRow).where(ListingRow.shop.in_(shops)))
        await session.execute(delete(ShopStateRow).where(ShopStateRow.shop.in_([f"channel:{s}" for s in shops])))


async def _keep_demo_user(session: AsyncSession, known: str | None) -> str:
    """The demo operator's password: the last run's when the user is still there, else a new one."""
    import secrets

    from hub.db import users

    if await users.get_user(session, DEMO_USER) is None:
        password = known or secrets.token_urlsafe(12)
        await users.create_user(session, name=DEMO_USER, password=password, role="operator", created_by="demo")
    elif known is None or await users.verify_password(session, DEMO_USER, known) is None:
        password = secrets.token_urlsafe(12)
        await users.set_password(session, DEMO_USER, password, actor="demo")
        await users.reactivate_user(session, DEMO_USER, actor="demo")
    else:
        password = known
    return password


async def _keep_demo_view(session: AsyncSession) -> None:
    """The demo's shared saved view, made again if it is missing (kept as it is otherwise)."""
    from sqlalchemy import select

    from hub.db.tables import SavedViewRow
    from hub.services import saved_views

    owner = saved_views.owner_key("user", DEMO_USER)
    found = await session.scalar(select(SavedViewRow.id).where(
        SavedViewRow.owner == owner, SavedViewRow.screen == saved_views.ORDERS, SavedViewRow.name == DEMO_VIEW_NAME))
    if found is None:
        await saved_views.save_view(session, owner=owner, owner_name=DEMO_USER, name=DEMO_VIEW_NAME,
                                    filters=dict(DEMO_VIEW_FILTERS), shared=True)


async def sync_demo_listings(hub: Hub, shops: list[str]) -> None:
    """Bind the demo shops' listings by merchant code before the first order (the hourly listing
    sync would come too late for the demo's first sales). A shop that cannot be listed is logged
    and left to the hourly sync."""
    from hub.services import listings

    for shop in shops:
        try:
            report = await listings.sync_shop(hub, shop, actor="demo")
        except Exception as exc:  # the demo goes on; its orders still work without the bindings
            log.warning("demo.listing_sync_failed", shop=shop, error=f"{type(exc).__name__}: {exc}")
            continue
        log.info("demo.listings_bound", shop=shop, bound=report.bound, unmatched=len(report.unmatched),
                 skipped=report.skipped)


async def seed_demo(hub: Hub, env: DemoEnvironment) -> str:
    """Keep (or create) the demo admin key and user, seed the catalogue with stock on the first run,
    and add the demo technicians missing from the registry."""
    from sqlalchemy import select

    from hub.db import api_keys
    from hub.db.tables import SkuRow
    from hub.services.stock import adjustments, skus

    await forget_earlier_sandboxes(hub, list(env.sandboxes))
    known = env.secrets.get(ADMIN_KEY_VAR)
    async with hub.database().transaction() as session:
        kept = await api_keys.verify_key(session, known) if known else None
        if kept is not None and known is not None:
            key, env.admin_key_note = known, f"the same as the last run's, kept in {SECRETS_NAME}"
        else:
            key, _ = await api_keys.create_key(session, name="demo", role="admin")
            env.admin_key_note = f"new, kept in {SECRETS_NAME} for the next run"
        env.secrets[DEMO_USER_PASSWORD_VAR] = await _keep_demo_user(session, env.secrets.get(DEMO_USER_PASSWORD_VAR))
        await _keep_demo_view(session)
        existing = set((await session.execute(select(SkuRow.merchant_sku))).scalars())
        new_skus = [sku for sku in DEMO_SKUS if sku not in existing]
        for sku in new_skus:
            await skus.define_sku(session, sku, name=sku.replace("-", " ").title(), low_stock_threshold=20)
    if new_skus:
        await adjustments.adjust_stock(
            hub,
            [adjustments.Adjustment(warehouse="main", merchant_sku=sku, on_hand=DEMO_SKUS[sku]) for sku in new_skus],
            actor="demo",
            reference="demo-seed",
        )
        await demo_fulfilment.seed_3pl_stock(hub, new_skus)
    await demo_service_orders.seed_technicians(hub)
    await demo_operations.seed(hub)
    await sync_demo_listings(hub, list(env.sandboxes))
    await hub.close_loop_resources()
    env.admin_key = key
    env.secrets[ADMIN_KEY_VAR] = key
    write_demo_files(env)
    return key
