"""Configuration: one TOML file (``HUB_CONFIG``) plus environment overrides (pydantic-settings).

Describes shops (platform, settings, credentials *by environment variable name*, stock policy),
warehouses, couriers and rules. ``load_config`` validates the file; ``check_config`` also validates
every account's settings against its connector's ``Settings`` model and names every bad field.
Secrets are never in the file: ``credentials`` maps a setting name to the env var (or a file via
``*_FILE``) holding it. Not for run-time state (paused shops live in the database).
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from contracts.inventory import AllocationMode, StockPolicy
from hub.console.settings import ConsoleSection
from hub.errors import ConfigError

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


class CourierConfig(AccountConfig):
    priority: int = 100


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


class HubSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="Where platforms reach the webhooks.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    disabled_plugins: list[str] = Field(default_factory=list)
    strict_plugins: bool = False
    worker_threads: int = Field(default=4, ge=1, le=64)


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
    and any field as ``HUB_<SECTION>__<FIELD>`` (e.g. ``HUB_HUB__API_PORT=9000``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="forbid")

    hub: HubSection = Field(default_factory=HubSection)
    shops: dict[str, ShopConfig] = Field(default_factory=dict)
    warehouses: dict[str, WarehouseConfig] = Field(default_factory=dict)
    couriers: dict[str, CourierConfig] = Field(default_factory=dict)
    stock_groups: dict[str, StockGroupConfig] = Field(default_factory=dict)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    console: ConsoleSection = Field(default_factory=ConsoleSection)  # hub.console.settings

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
    def redis_url(self) -> str | None:
        return self.hub.redis_url or None


class _ShortEnv(PydanticBaseSettingsSource):
    """``HUB_DATABASE_URL`` and ``HUB_REDIS_URL``, the two overrides every deployment uses."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        hub: dict[str, Any] = {}
        if os.environ.get("HUB_DATABASE_URL"):
            hub["database_url"] = os.environ["HUB_DATABASE_URL"]
        if os.environ.get("HUB_REDIS_URL"):
            hub["redis_url"] = os.environ["HUB_REDIS_URL"]
        return {"hub": hub} if hub else {}


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def load_config(path: str | Path | None = None, **overrides: Any) -> HubConfig:
    """Load and validate the config; raise ``ConfigError`` listing every bad field with its path."""
    token = _PATH_OVERRIDE.set(Path(path)) if path is not None else None
    try:
        return HubConfig(**overrides)
    except ValidationError as exc:
        problems = [(_loc(err["loc"]), err["msg"]) for err in exc.errors()]
        raise ConfigError(f"{len(problems)} problem(s) in the configuration", problems) from exc
    finally:
        if token is not None:
            _PATH_OVERRIDE.reset(token)


def resolve_credentials(account: AccountConfig, prefix: str, environ: dict[str, str] | None = None) -> tuple[
    dict[str, Any], list[tuple[str, str]]
]:
    """Merge ``settings`` with credential values read from the environment (or ``<VAR>_FILE``)."""
    env = os.environ if environ is None else environ
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
            values, missing = resolve_credentials(account, prefix, environ)
            problems += missing
            try:
                cls.Settings.model_validate(values)
            except ValidationError as exc:
                for err in exc.errors():
                    field = _loc(err["loc"])
                    where = "credentials" if field.split(".")[0] in account.credentials else "settings"
                    if err["type"] == "missing" and field in account.credentials:
                        continue  # already reported as a missing environment variable
                    problems.append((f"{prefix}.{where}.{field}", err["msg"]))
    for group, cfg in config.stock_groups.items():
        for sku in cfg.skus:
            if not sku.strip():
                problems.append((f"stock_groups.{group}.skus", "empty SKU code"))
    return problems
