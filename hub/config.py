"""Configuration: one TOML file (``HUB_CONFIG``) plus environment overrides (pydantic-settings).

Describes shops (platform, settings, credentials *by environment variable name*, stock policy),
warehouses, couriers and rules. ``load_config`` validates the file; ``check_config`` also validates
every account's settings against its connector's ``Settings`` model and names every bad field.
Secrets are never in the file: ``credentials`` maps a setting name to the env var (or a file via
``*_FILE``, or a line of ``[hub] secrets_file``) holding it. Unknown keys are errors with a "did
you mean" suggestion. Not for run-time state (paused shops live in the database).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from contracts.inventory import AllocationMode, StockPolicy
from hub.console.settings import ConsoleSection
from hub.errors import ConfigError
from hub.services.aftersales.settings import AfterSalesSection
from hub.services.batch.settings import BatchSection
from hub.services.fulfilment.settings import FulfilmentSection
from hub.services.notifications.settings import NotificationsSection
from hub.services.order_edits.settings import OrderEditsSection
from hub.services.reports.settings import ReportsSection
from hub.services.search.settings import SearchSection
from hub.services.service_orders.settings import ServiceOrdersSection

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./hub.db"


class ShopStock(StockPolicy):
    """A shop's stock policy, with per-product and per-SKU overrides (SKU beats product beats shop)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    products: dict[str, StockPolicy] = Field(default_factory=dict)
    skus: dict[str, StockPolicy] = Field(default_factory=dict)


class AccountConfig(BaseModel):
    """Common to shops, couriers and warehouses: which connector, its settings and credentials."""

    model_config = ConfigDict(extra="forbid")

    platform: str = Field(min_length=1)
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Setting name → environment variable holding its value (never the value itself).",
    )
    rate_limit_per_s: float = Field(default=10.0, gt=0)
    rate_limit_burst: int = Field(default=20, ge=1)

    @field_validator("credentials")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, env in value.items():
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
                raise ValueError(
                    f"credentials.{key} must name an environment variable (UPPER_SNAKE_CASE), "
                    f"not hold a value; got {env[:3]}…"
                )
        return value


class ShopConfig(AccountConfig):
    reserve_on: Literal["paid", "created"] = Field(
        default="paid", description="When an order takes stock: platforms differ in when they do."
    )
    stock: ShopStock = Field(default_factory=ShopStock)
    poll_interval_s: float = Field(default=60.0, gt=0, description="Safety-net poll period.")
    poll_overlap_s: float = Field(default=300.0, ge=0, description="Each poll window re-reads this much.")


class WarehouseConfig(AccountConfig):
    platform: str = "manual"
    priority: int = 100
    regions: list[str] = Field(
        default_factory=list,
        description="Provinces this warehouse ships to (as the orders name them); empty: everywhere.")
    address: dict[str, str] = Field(
        default_factory=dict,
        description="The sender address printed on waybills: name, phone, province, city, district, street.")


class CourierConfig(AccountConfig):
    priority: int = 100
    courier_code: str | None = Field(
        default=None, description="The carrier this account ships with (e.g. 'zto'), when the courier rules "
                                  "do not name one; default: the account's name.")


class StockGroupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: AllocationMode = AllocationMode.SHARED
    skus: list[str] = Field(default_factory=list)


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    high_value_hold_amount: float | None = Field(default=None, gt=0, description="Hold orders above this total.")
    default_allocation_mode: AllocationMode = AllocationMode.SHARED
    stock_push_window_ms: int = Field(default=200, ge=0, le=60_000, description="Coalescing window per shop.")
    low_stock_threshold: int | None = Field(default=None, ge=0)
    stock_settle_after_s: float = Field(
        default=600.0, ge=0,
        description="Partitioned groups: how long after a moment the hub knew a shop's stock exactly it takes "
                    "every order placed before that moment to have reached it; units counted for lost answers "
                    "or cut-short decrements are given back to the group only then.")
    stock_clock_skew_s: float = Field(
        default=2.0, ge=0, le=300,
        description="How far the platforms' clocks may run ahead of the hub's, when telling whether a sale came "
                    "after a moment the hub knew a shop's stock (a larger value is safer, and slower to settle).")
    stock_unanswered_wait_s: float = Field(
        default=60.0, ge=0, le=3600,
        description="How long a stock push that got no answer (a timeout, a lost reply, a crashed job) may still "
                    "be applied by the platform: that listing is not pushed again until this long after it went "
                    "out, so an older value never lands after a newer one.")


class HubSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="Where platforms reach the webhooks.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console", "auto"] = Field(
        default="auto", description="auto: for people on a terminal, JSON lines otherwise.")
    disabled_plugins: list[str] = Field(default_factory=list)
    strict_plugins: bool = False
    worker_threads: int = Field(default=4, ge=1, le=64)
    secrets_file: str | None = Field(
        default=None,
        description="A file of NAME=value lines (relative to the config file) consulted for credentials "
                    "after the environment; keep it readable by the hub only.",
    )
    redis_namespace: str = Field(
        default="hub", pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.:-]{0,61}[A-Za-z0-9_.-])?$",
        description="Prefix of every Redis key the hub writes (queues, locks, rate limits, breakers), so two "
                    "hubs can share one Redis with different namespaces.")


class QueueSection(BaseModel):
    """The broker, intake's limits (backlog, reserved threads), recovery of work the broker lost
    (``hub.services.sweepers``) and outbox housekeeping."""

    model_config = ConfigDict(extra="forbid")

    sweep_interval_s: float = Field(default=30.0, gt=0, description="How often the leader runs the sweepers.")
    sweep_after_s: float = Field(
        default=60.0, gt=0,
        description="Work younger than this (or re-enqueued less than this ago) counts as in flight and is left "
                    "alone; older work still owed is re-enqueued. Recovery time: sweep_interval_s + sweep_after_s.")
    sweep_batch: int = Field(default=500, ge=1, le=10_000, description="At most this many items per sweeper run.")
    sweep_horizon_days: float = Field(
        default=7.0, gt=0, description="Orders changed longer ago than this are not swept (keeps each run cheap).")
    outbox_retention_days: float = Field(default=7.0, gt=0, description="Published outbox rows are kept this long.")
    broker_url: str | None = Field(
        default=None, pattern=r"^(redis|rediss|unix|amqp|amqps)://",
        description="The queue's broker (env HUB_BROKER_URL): redis://… (the default: [hub] redis_url) or amqp://… "
                    "for RabbitMQ, which still needs [hub] redis_url for coordination (leader lock, rate limits, "
                    "breakers, stock-push flags). docs/operators.md, \"Brokers and scaling out\".")
    inbox_backlog_limit: int = Field(
        default=20_000, ge=0,
        description="Inbox rows waiting to be processed above which intake holds back: message channels (TMC) "
                    "are not drained (their messages wait at the partner) and webhooks answer 503 with "
                    "Retry-After. 0: no limit.")
    intake_threads: int = Field(
        default=1, ge=0, le=16,
        description="Worker threads a `hub worker` keeps for the channels queue (message-channel intake, polls) "
                    "when it consumes other queues too, so a processing backlog never delays intake. 0: share.")


MIB = 1024 * 1024


class LimitsSection(BaseModel):
    """What one HTTP request may cost the API: body sizes per route class, how long a client may
    take to send its headers and body, how deep its JSON may nest (docs/operators.md, "Limits")."""

    model_config = ConfigDict(extra="forbid")

    api_body_bytes: int = Field(default=1 * MIB, ge=1024, description="JSON bodies of /api/ routes.")
    import_body_bytes: int = Field(default=20 * MIB, ge=1024,
                                   description="Bodies of import routes (a path ending in /import or /imports).")
    webhook_body_bytes: int = Field(default=4 * MIB, ge=1024, description="Partner pushes (/webhooks/...).")
    webhook_body_bytes_by_platform: dict[str, int] = Field(
        default_factory=dict, description="Per platform, instead of webhook_body_bytes (e.g. {douyin = 8388608}).")
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600,
                                  description="Time to receive a whole body once the headers are in (else 408).")
    header_timeout_s: float = Field(default=10.0, gt=0, le=600,
                                    description="Time to send a request's headers before the connection is closed.")
    keep_alive_s: int = Field(default=5, ge=1, le=600, description="An idle keep-alive connection is closed after.")
    max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=MIB,
                                  description="Request line and headers together; larger is refused with 400.")
    max_connections: int | None = Field(default=1000, ge=1,
                                        description="Open connections before new requests get 503 (none: no cap).")
    json_max_depth: int = Field(default=64, ge=4, le=10_000, description="Nesting of a JSON body (else 400).")

    def body_limit(self, path: str) -> int:
        """The most bytes a body sent to ``path`` may have."""
        if path.startswith("/webhooks/"):
            platform = path.split("/")[2]
            return self.webhook_body_bytes_by_platform.get(platform, self.webhook_body_bytes)
        if path.rstrip("/").endswith(("/import", "/imports")):
            return self.import_body_bytes
        return self.api_body_bytes


_PATH_OVERRIDE: ContextVar[Path | None] = ContextVar("hub_config_path", default=None)


def _config_path() -> Path | None:
    override = _PATH_OVERRIDE.get()
    if override is not None:
        return override
    raw = os.environ.get("HUB_CONFIG")
    return Path(raw) if raw else None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by ``HUB_CONFIG`` (lower priority than the environment)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            with self.path.open("rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {self.path} does not exist (HUB_CONFIG)") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {self.path} is not valid TOML: {exc}") from exc


class HubConfig(BaseSettings):
    """The whole configuration. Environment overrides: ``HUB_DATABASE_URL``, ``HUB_REDIS_URL``,
    ``HUB_BROKER_URL``, and any field as ``HUB_<SECTION>__<FIELD>`` (e.g. ``HUB_HUB__API_PORT=9000``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="forbid")

    hub: HubSection = Field(default_factory=HubSection)
    shops: dict[str, ShopConfig] = Field(default_factory=dict)
    warehouses: dict[str, WarehouseConfig] = Field(default_factory=dict)
    couriers: dict[str, CourierConfig] = Field(default_factory=dict)
    stock_groups: dict[str, StockGroupConfig] = Field(default_factory=dict)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    queue: QueueSection = Field(default_factory=QueueSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    console: ConsoleSection = Field(default_factory=ConsoleSection)  # hub.console.settings
    fulfilment: FulfilmentSection = Field(default_factory=FulfilmentSection)  # hub.services.fulfilment.settings
    aftersales: AfterSalesSection = Field(default_factory=AfterSalesSection)  # hub.services.aftersales.settings
    service_orders: ServiceOrdersSection = Field(  # hub.services.service_orders.settings
        default_factory=ServiceOrdersSection)
    search: SearchSection = Field(default_factory=SearchSection)  # hub.services.search.settings
    order_edits: OrderEditsSection = Field(default_factory=OrderEditsSection)  # hub.services.order_edits.settings
    batch: BatchSection = Field(default_factory=BatchSection)  # hub.services.batch.settings
    notifications: NotificationsSection = Field(  # hub.services.notifications.settings
        default_factory=NotificationsSection)
    reports: ReportsSection = Field(default_factory=ReportsSection)  # hub.services.reports.settings
    #: Where the file was read from (None: defaults and environment only).
    _path: Path | None = PrivateAttr(default=None)
    #: ``[hub] secrets_file`` read as NAME → value; the environment wins over it.
    _secrets: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def secrets(self) -> dict[str, str]:
        return self._secrets

    @field_validator("shops", "warehouses", "couriers", "stock_groups")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"name {name!r} must be lowercase letters, digits, '-' or '_' (max 63)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _ShortEnv(settings_cls), env_settings, _TomlSource(settings_cls, _config_path()))

    @property
    def database_url(self) -> str:
        return self.hub.database_url

    @property
    def broker_url(self) -> str | None:
        """The queue's broker: ``[queue] broker_url`` (``HUB_BROKER_URL``), else Redis, else None
        (the in-process broker of the embedded default)."""
        return self.queue.broker_url or self.hub.redis_url or None

    @property
    def redis_url(self) -> str | None:
        """The Redis that coordinates processes (leader lock, rate limits, breakers, flags):
        ``[hub] redis_url``, else the broker's URL when the broker is Redis. None: embedded."""
        if self.hub.redis_url:
            return self.hub.redis_url
        if self.queue.broker_url and broker_kind(self.queue.broker_url) == "redis":
            return self.queue.broker_url
        return None

    @property
    def broker_kind(self) -> Literal["redis", "rabbitmq", "in-process"]:
        return broker_kind(self.broker_url)

    @model_validator(mode="after")
    def _coordination(self) -> HubConfig:
        if self.queue.broker_url and broker_kind(self.queue.broker_url) == "rabbitmq" and not self.hub.redis_url:
            raise ValueError(
                "queue.broker_url is RabbitMQ (amqp://…): the hub still needs Redis to coordinate its processes "
                "(leader lock, rate limits, breakers, stock-push flags); set HUB_REDIS_URL or [hub] redis_url")
        return self


def broker_kind(url: str | None) -> Literal["redis", "rabbitmq", "in-process"]:
    """What a broker URL names: ``amqp(s)://`` RabbitMQ, any other URL Redis, none in-process."""
    if not url:
        return "in-process"
    return "rabbitmq" if url.split("://", 1)[0] in ("amqp", "amqps") else "redis"


class _ShortEnv(PydanticBaseSettingsSource):
    """``HUB_DATABASE_URL``, ``HUB_REDIS_URL`` and ``HUB_BROKER_URL``, the overrides every deployment uses."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        hub: dict[str, Any] = {}
        if os.environ.get("HUB_DATABASE_URL"):
            hub["database_url"] = os.environ["HUB_DATABASE_URL"]
        if os.environ.get("HUB_REDIS_URL"):
            hub["redis_url"] = os.environ["HUB_REDIS_URL"]
        found: dict[str, Any] = {"hub": hub} if hub else {}
        if os.environ.get("HUB_BROKER_URL"):
            found["queue"] = {"broker_url": os.environ["HUB_BROKER_URL"]}
        return found


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def did_you_mean(word: str, known: typing.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or a list of the known names."""
    names = sorted(known)
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known: {', '.join(names)}" if names else "nothing is allowed here"


def _model_at(model: Any, path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class whose fields sit at ``path`` inside ``model`` (dict keys skipped)."""
    current: Any = model
    parts = list(path)
    while parts:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(parts.pop(0)))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin is dict:
            parts.pop(0)
            current = args[1]
        elif origin in (typing.Union, types.UnionType):
            current = next((a for a in args if a is not type(None)), None)
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _problems(err: Any) -> list[tuple[str, str]]:
    """One validation error as (field, problem) pairs: usually one; a section's validator that
    checks several fields at once passes them as ``ctx["problems"]`` (e.g. unknown channels)."""
    carried = (err.get("ctx") or {}).get("problems")
    return [(str(where), str(what)) for where, what in carried] if carried else [_problem(err)]


def _problem(err: Any) -> tuple[str, str]:
    where = _loc(err["loc"])
    if err["type"] == "extra_forbidden" and err["loc"]:
        owner = _model_at(HubConfig, tuple(err["loc"][:-1]))
        if owner is not None:
            name = str(err["loc"][-1])
            return where, f"unknown key {name!r}; {did_you_mean(name, owner.model_fields)}"
    return where, err["msg"]


def _read_secrets(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments and blank lines skipped)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"hub.secrets_file: cannot read {path}: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name.strip()):
            raise ConfigError(f"hub.secrets_file: {path} line {number} is not NAME=value")
        values[name.strip()] = value.strip()
    return values


def load_config(path: str | Path | None = None, **overrides: Any) -> HubConfig:
    """Load and validate the config; raise ``ConfigError`` listing every bad field with its path."""
    token = _PATH_OVERRIDE.set(Path(path)) if path is not None else None
    try:
        config = HubConfig(**overrides)
        config._path = _config_path()
    except ValidationError as exc:
        problems = [p for err in exc.errors() for p in _problems(err)]
        raise ConfigError(f"{len(problems)} problem(s) in the configuration", problems) from exc
    finally:
        if token is not None:
            _PATH_OVERRIDE.reset(token)
    if config.hub.secrets_file:
        secrets_path = Path(config.hub.secrets_file)
        if not secrets_path.is_absolute() and config.path is not None:
            secrets_path = config.path.parent / secrets_path
        config._secrets = _read_secrets(secrets_path)
    return config


class CredentialHolder(typing.Protocol):
    """What has ``settings`` and ``credentials`` (variable names): an account or a notification channel."""

    @property
    def settings(self) -> dict[str, Any]: ...

    @property
    def credentials(self) -> dict[str, str]: ...


def resolve_credentials(
    account: CredentialHolder, prefix: str, environ: typing.Mapping[str, str] | None = None,
    secrets: typing.Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Merge ``settings`` with credential values read from the environment (or ``<VAR>_FILE``),
    then from ``secrets`` (the config's ``secrets_file``)."""
    env = {**(secrets or {}), **(os.environ if environ is None else environ)}
    merged = dict(account.settings)
    problems: list[tuple[str, str]] = []
    for key, var in account.credentials.items():
        if var in env:
            merged[key] = env[var]
        elif f"{var}_FILE" in env:
            try:
                merged[key] = Path(env[f"{var}_FILE"]).read_text().strip()
            except OSError as exc:
                problems.append((f"{prefix}.credentials.{key}", f"cannot read {var}_FILE: {exc.strerror}"))
        else:
            problems.append((f"{prefix}.credentials.{key}", f"environment variable {var} is not set"))
    return merged, problems


def validate_accounts(config: HubConfig, plugins: Any, environ: dict[str, str] | None = None) -> list[
    tuple[str, str]
]:
    """Check every enabled account against its connector's ``Settings``; return (path, problem)."""
    problems: list[tuple[str, str]] = []
    sections: list[tuple[str, str, dict[str, Any]]] = [
        ("shops", "channel", dict(config.shops)),
        ("couriers", "courier", dict(config.couriers)),
        ("warehouses", "warehouse", dict(config.warehouses)),
    ]
    for section, kind, accounts in sections:
        for name, account in accounts.items():
            prefix = f"{section}.{name}"
            if not account.enabled:
                continue
            cls = plugins.connector_class(kind, account.platform)
            if cls is None:
                known = sorted(p for (k, p) in plugins.connectors() if k == kind)
                problems.append(
                    (f"{prefix}.platform", f"no {kind} connector for platform {account.platform!r}; known: {known}")
                )
                continue
            problems += settings_problems(cls.Settings, account, prefix, f"platform {account.platform!r}",
                                          environ, config.secrets)
    for group, cfg in config.stock_groups.items():
        for sku in cfg.skus:
            if not sku.strip():
                problems.append((f"stock_groups.{group}.skus", "empty SKU code"))
    return problems


def settings_problems(settings_model: type[BaseModel], owner: CredentialHolder, prefix: str, label: str,
                      environ: typing.Mapping[str, str] | None = None,
                      secrets: typing.Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``owner``'s settings and credentials (an account, or a notification channel) against the
    plugin's ``Settings``: credentials whose variable is not set, keys the model does not know
    (``label`` says whose, e.g. ``platform 'taobao'``) and what the model refuses, each as
    (``<prefix>.settings|credentials.<field>``, problem): the model's message, never the input value."""
    values, problems = resolve_credentials(owner, prefix, environ, secrets)
    problems += _unknown_settings(settings_model, owner, prefix, label)
    try:
        settings_model.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "extra_forbidden":
                continue  # reported by _unknown_settings, with a suggestion
            field = _loc(err["loc"])
            where = "credentials" if field.split(".")[0] in owner.credentials else "settings"
            if err["type"] == "missing" and field in owner.credentials:
                continue  # already reported as a missing environment variable
            problems.append((f"{prefix}.{where}.{field}", err["msg"]))
    return problems


def _unknown_settings(settings_model: type[BaseModel], owner: CredentialHolder, prefix: str,
                      label: str) -> list[tuple[str, str]]:
    """Keys in ``settings``/``credentials`` the plugin does not know (its Settings would ignore them)."""
    if settings_model.model_config.get("extra") == "allow":
        return []
    known = set(settings_model.model_fields)
    known |= {f.alias for f in settings_model.model_fields.values() if f.alias}
    problems = []
    for where, keys in (("settings", owner.settings), ("credentials", owner.credentials)):
        for key in keys:
            if key not in known:
                problems.append((f"{prefix}.{where}.{key}", f"unknown setting for {label}; {did_you_mean(key, known)}"))
    return problems
