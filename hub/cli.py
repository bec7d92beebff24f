"""The ``hub`` command line: run the processes, check the config, and the operator's chores
(migrations, dead letters, API keys, installed plugins).

Every failure is a message, never a traceback: exit code 2 for bad input or configuration (the
message names the field or option), 1 for run-time failures (a database that cannot be reached,
a missing module). ``hub serve``, ``hub worker`` and ``hub run`` only parse options and hand over
to ``hub.runner``. Not for business logic: commands call the same services as the API.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click
import typer
from rich.console import Console
from rich.table import Table

from hub.errors import BadInputError, ConfigError, HubError, NotFoundError
from hub.logging import scrub_text
from hub.shop_cli import shop_app

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.context import Hub
    from hub.db.engine import Database
    from hub.plugins import HubPlugins

P = ParamSpec("P")
T = TypeVar("T")

app = typer.Typer(
    name="hub",
    help="Connector Hub: orders, stock, fulfilment and after-sales across your shops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The hub's database schema.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: messages that failed for good.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(apikey_app, name="apikey")
app.add_typer(shop_app, name="shop")

EXIT_RUNTIME = 1
EXIT_BAD_INPUT = 2


def _out() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = 200  # piped or captured: do not fold table cells at 80 columns
    return console


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


class CliFailure(Exception):
    """A failure already phrased for the user; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_RUNTIME, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or []


def _fail(message: str, code: int, details: list[str] | None = None) -> NoReturn:
    err = _err()
    err.print(f"error: {scrub_text(message)}", markup=False)
    for line in details or []:
        err.print(f"  {scrub_text(line)}", markup=False)
    raise typer.Exit(code)


def _report_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn every exception into a one-line message (plus details) and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except CliFailure as exc:
            _fail(str(exc), exc.code, exc.details)
        except ConfigError as exc:
            _fail(f"configuration: {exc}", EXIT_BAD_INPUT, [f"{path}: {msg}" for path, msg in exc.problems])
        except (BadInputError, NotFoundError) as exc:
            field = getattr(exc, "field", None)
            _fail(f"{field}: {exc}" if field else str(exc), EXIT_BAD_INPUT)
        except ImportError as exc:
            _fail(
                f"a module the hub needs is missing ({exc}); reinstall connector-hub and its plugins "
                "(pip install -e .)",
                EXIT_RUNTIME,
            )
        except HubError as exc:
            _fail(str(exc), EXIT_RUNTIME)
        except Exception as exc:
            _fail(_describe_runtime_error(exc), EXIT_RUNTIME)

    return wrapper


def _describe_runtime_error(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
    except ImportError:  # pragma: no cover
        return text
    if isinstance(exc, OperationalError | ProgrammingError) and (
        "no such table" in str(exc) or "does not exist" in str(exc)
    ):
        return f"the database schema is missing or old ({text}); run `hub db upgrade`"
    if isinstance(exc, DBAPIError):
        return f"database error: {text}"
    if isinstance(exc, OSError):
        return f"cannot connect: {text}"
    return f"unexpected error: {text}"


@dataclass
class CliState:
    """What the global options chose; the config and hub are loaded on first use."""

    config_path: Path | None = None
    _config: HubConfig | None = None

    def config(self) -> HubConfig:
        from hub.config import load_config

        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def plugins(self) -> HubPlugins:
        from hub.plugins import build_plugin_manager

        config = self.config()
        return build_plugin_manager(disabled=config.hub.disabled_plugins, strict=config.hub.strict_plugins)

    def hub(self) -> Hub:
        from hub.context import build_hub

        return build_hub(self.config())


def _state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def _run_async(hub: Hub, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh loop and close the loop's resources (engines, clients) after."""

    async def main() -> T:
        try:
            return await work()
        finally:
            await hub.close_loop_resources()

    return asyncio.run(main())


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="The hub.toml to use (default: $HUB_CONFIG).", dir_okay=False
    ),
) -> None:
    ctx.obj = CliState(config_path=config)
    if ctx.invoked_subcommand not in ("serve", "worker", "run"):
        # Management commands report every failure themselves; library logs would only repeat them.
        from hub.logging import configure_logging

        configure_logging("critical", "console")


# --------------------------------------------------------------------------- processes


def _runner() -> Any:
    try:
        from hub import runner
    except ImportError as exc:
        raise CliFailure(
            f"the process runner (hub.runner) cannot be imported: {exc}; this installation is incomplete"
        ) from exc
    return runner


def _host_option() -> Any:
    return typer.Option(None, "--host", help="Address the API listens on (default: the config's api_host).")


def _port_option() -> Any:
    return typer.Option(None, "--port", min=1, max=65535, help="Port the API listens on (default: the config's "
                                                                 "api_port, 8000).")


def _listen_on(hub: Hub, host: str | None, port: int | None) -> Hub:
    if host is not None:
        hub.config.hub.api_host = host
    if port is not None:
        hub.config.hub.api_port = port
    return hub


@app.command()
@_report_errors
def serve(ctx: typer.Context, host: str | None = _host_option(), port: int | None = _port_option()) -> None:
    """Run the HTTP API (webhooks, /api/v1, /healthz, /metrics). Workers run in-process without a broker."""
    hub = _listen_on(_state(ctx).hub(), host, port)
    _runner().serve(hub)


@app.command()
@_report_errors
def worker(
    ctx: typer.Context,
    queues: list[str] | None = typer.Option(
        None, "--queues", "-q", help="Queues to consume (repeat or comma-separate); default: all."
    ),
    threads: int | None = typer.Option(None, "--threads", "-t", min=1, max=64, help="Worker threads."),
    intake_threads: int | None = typer.Option(
        None, "--intake-threads", min=0, max=16,
        help="Extra threads kept for the channels queue when this worker also consumes others "
             "(default [queue] intake_threads, 1; 0: share the --threads)."),
) -> None:
    """Run a worker: actors on the chosen queues, plus the leader-elected scheduler."""
    chosen = _parse_queues(queues)
    hub = _state(ctx).hub()
    if threads is not None:
        hub.config.hub.worker_threads = threads
    if intake_threads is not None:
        hub.config.queue.intake_threads = intake_threads
    _runner().work(hub, chosen)


def _parse_queues(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    try:
        from hub.queue.actors import QUEUES
    except ImportError:  # pragma: no cover - the runner will say what is missing
        return names
    unknown = [n for n in names if n not in QUEUES]
    if unknown:
        raise CliFailure(
            f"--queues: unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(QUEUES)}", EXIT_BAD_INPUT
        )
    return names


@app.command()
@_report_errors
def run(
    ctx: typer.Context,
    demo: bool = typer.Option(False, "--demo", help="Start partner sandboxes and keep demo orders flowing."),
    host: str | None = _host_option(),
    port: int | None = _port_option(),
) -> None:
    """Run everything in one process (API, workers, scheduler) on the embedded default."""
    hub = _listen_on(_state(ctx).hub(), host, port)
    _runner().run_all(hub, demo=demo)


# --------------------------------------------------------------------------- config & plugins


@app.command("check-config")
@_report_errors
def check_config(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="The file to check (default: --config or $HUB_CONFIG)."),
) -> None:
    """Validate the config file, every account against its connector's settings, what [fulfilment]
    names (courier rules' couriers and warehouses, the tracking courier) and every notification
    channel against its notifier (kind, settings, credentials); name every bad field."""
    from hub.config import load_config
    from hub.config_checks import config_problems
    from hub.plugins import build_plugin_manager

    target = path or _state(ctx).config_path or (Path(os.environ["HUB_CONFIG"]) if os.environ.get("HUB_CONFIG")
                                                 else None)
    if target is None:
        raise CliFailure("no config file given: pass PATH, --config PATH or set HUB_CONFIG", EXIT_BAD_INPUT)
    config = load_config(target)
    plugins = build_plugin_manager(disabled=config.hub.disabled_plugins, strict=config.hub.strict_plugins)
    problems = config_problems(config, plugins)
    out = _out()
    for failed in plugins.failed:
        _err().print(f"warning: plugin {failed.name} failed to load: {failed.error}", markup=False)
    if problems:
        raise CliFailure(
            f"{len(problems)} problem(s) in {target}", EXIT_BAD_INPUT, [f"{where}: {what}" for where, what in problems]
        )
    platforms = sorted({shop.platform for shop in config.shops.values()})
    out.print(f"config OK: {target}", markup=False)
    out.print(
        f"  {len(config.shops)} shop(s) ({', '.join(platforms) or 'none'}), {len(config.warehouses)} warehouse(s), "
        f"{len(config.couriers)} courier account(s), {len(config.stock_groups)} stock group(s); "
        f"database {scrub_text(config.database_url)}, broker {config.broker_kind}"
        f"{' (coordination: Redis)' if config.broker_kind == 'rabbitmq' else ''}",
        markup=False,
    )


@app.command()
@_report_errors
def plugins(ctx: typer.Context) -> None:
    """List installed plugins: distribution, version, hooks, connectors and their capabilities."""
    rows = _state(ctx).plugins().describe()
    table = Table(title="Connector Hub plugins")
    for column in ("plugin", "distribution", "version", "hooks", "connectors (capabilities)", "status"):
        table.add_column(column, overflow="fold")
    for row in rows:
        connectors = "\n".join(
            f"{c['kind']} {c['platform']}: {', '.join(c['capabilities']) or '-'}" for c in row.get("connectors", [])
        )
        status = row["status"] if row["status"] != "failed" else f"failed: {row.get('error', '')}"
        table.add_row(
            row["name"], row.get("distribution") or "-", row.get("version") or "-",
            ", ".join(row.get("hooks", [])) or "-", connectors or "-", status,
        )
    _out().print(table)


# --------------------------------------------------------------------------- database


@db_app.command("upgrade")
@_report_errors
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the database ($HUB_DATABASE_URL, else the config's) to the newest schema."""
    from hub.db.migrate import current_revision, upgrade

    url = os.environ.get("HUB_DATABASE_URL") or _state(ctx).config().database_url
    upgrade(url)
    _out().print(f"database {scrub_text(url)} is at revision {current_revision(url)}", markup=False)


# --------------------------------------------------------------------------- dead letters


def _with_database(ctx: typer.Context, work: Callable[[Database], Awaitable[T]]) -> T:
    hub = _state(ctx).hub()
    return _run_async(hub, lambda: work(hub.database()))


def _guarded_change(ctx: typer.Context, change: Callable[[Database], Awaitable[bool]], *,
                    guard: type[Exception], anyway: str, missing: str) -> None:
    """Run ``change``, which may refuse to leave a shop without an admin (``guard``: the message
    then says ``or <anyway> anyway with --force``) and returns False when its object is not there
    (``missing`` is said)."""
    try:
        done = _with_database(ctx, change)
    except guard as exc:
        raise CliFailure(f"{exc}; or {anyway} anyway with --force", EXIT_BAD_INPUT) from exc
    if not done:
        raise CliFailure(missing, EXIT_BAD_INPUT)


@dlq_app.command("list")
@_report_errors
def dlq_list(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    include_replayed: bool = typer.Option(False, "--all", help="Include dead letters already replayed."),
) -> None:
    """List dead letters, newest first."""
    from hub.db import dead_letters

    async def fetch(database: Database) -> list[Any]:
        async with database.session() as session:
            return await dead_letters.list_dead_letters(session, limit=limit, include_replayed=include_replayed)

    rows = _with_database(ctx, fetch)
    if not rows:
        _out().print("no dead letters", markup=False)
        return
    table = Table(title="Dead letters")
    for column in ("id", "actor", "queue", "attempts", "created", "replayed", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), r.actor, r.queue, str(r.attempts), r.created_at.isoformat(timespec="seconds"),
                      r.replayed_at.isoformat(timespec="seconds") if r.replayed_at else "-",
                      scrub_text(r.reason.splitlines()[0] if r.reason else "")[:120])
    _out().print(table)


@dlq_app.command("show")
@_report_errors
def dlq_show(ctx: typer.Context, dead_letter_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Show one dead letter: actor, input, reason and replay history."""
    from hub.db import dead_letters

    async def fetch(database: Database) -> Any:
        async with database.session() as session:
            return await dead_letters.get(session, dead_letter_id)

    row = _with_database(ctx, fetch)
    if row is None:
        raise NotFoundError(f"dead letter {dead_letter_id} does not exist; list them with `hub dlq list`")
    out = _out()
    for label, value in (
        ("id", row.id), ("actor", row.actor), ("queue", row.queue), ("error", row.error_class),
        ("attempts", row.attempts), ("inbox id", row.inbox_id or "-"), ("created", row.created_at.isoformat()),
        ("replayed", row.replayed_at.isoformat() if row.replayed_at else "never"), ("replays", row.replay_count),
        ("by", row.replayed_by or "-"),
        ("args", json.dumps(row.args, ensure_ascii=False)), ("kwargs", json.dumps(row.kwargs, ensure_ascii=False)),
    ):
        out.print(f"{label:>9}: {value}", markup=False)
    out.print(f"   reason: {scrub_text(row.reason)}", markup=False)


@dlq_app.command("replay")
@_report_errors
def dlq_replay(
    ctx: typer.Context,
    dead_letter_id: int | None = typer.Argument(None, metavar="[ID]", min=1, help="The dead letter to replay."),
    actor: str | None = typer.Option(None, "--actor", help="Instead of one ID: every open dead letter of this "
                                                           "actor (as `hub dlq list` shows it), oldest first."),
    up_to: int | None = typer.Option(None, "--up-to", min=1, help="With --actor: only letters up to this id "
                                                                  "(default: the newest now)."),
) -> None:
    """Send a dead letter, or every open one of an actor, to its actor again (fix the cause first)."""
    from hub.queue.dead_letter_replay import replay_dead_letter

    if (dead_letter_id is None) == (actor is None):
        raise CliFailure("give either a dead letter ID or --actor NAME", EXIT_BAD_INPUT)
    if up_to is not None and actor is None:
        raise CliFailure("--up-to goes with --actor", EXIT_BAD_INPUT)
    if actor is not None and not 0 < len(actor.strip()) <= 100:
        raise CliFailure("--actor: name the actor (at most 100 characters), as `hub dlq list` shows it",
                         EXIT_BAD_INPUT)
    hub = _state(ctx).hub()
    runtime = _start_queue(hub)
    sent: list[int] = []
    try:
        if runtime.embedded:
            # No Redis: nobody else can consume this process's queue, so work the message off here.
            runtime.start_workers()
        if actor is not None:
            sent = _run_async(hub, lambda: _replay_actor(hub, runtime, actor.strip(), up_to))
        else:
            assert dead_letter_id is not None
            _run_async(hub, lambda: replay_dead_letter(hub.database(), runtime, dead_letter_id, actor=_cli_actor()))
        if runtime.embedded:
            runtime.join(60_000)
    finally:
        _stop_queue(hub, runtime)
    where = "processed in this process" if runtime.embedded else "queued for the workers"
    if actor is None:
        _out().print(f"dead letter {dead_letter_id} replayed ({where})", markup=False)
    elif not sent:
        _out().print(f"no open dead letter of {actor.strip()!r}", markup=False)
    else:
        _out().print(f"{len(sent)} dead letter(s) of {actor.strip()!r} replayed ({where}): "
                     f"{', '.join(map(str, sent))}", markup=False)


async def _replay_actor(hub: Hub, runtime: Any, actor: str, up_to: int | None) -> list[int]:
    """Every open dead letter of ``actor`` up to ``up_to`` (default: the newest now), in batches as
    the console's and the API's "replay all of this actor" send them; returns the ids sent."""
    from sqlalchemy import func, select

    from hub.db.tables import DeadLetterRow
    from hub.queue.dead_letter_replay import replay_dead_letters_of

    if up_to is None:
        async with hub.database().session() as session:
            up_to = int(await session.scalar(select(func.max(DeadLetterRow.id))) or 0)
    sent: list[int] = []
    while up_to:
        batch = await replay_dead_letters_of(hub.database(), runtime, actor, up_to_id=up_to, actor=_cli_actor())
        sent += batch
        if not batch:
            break
    return sent


#: Modules whose import registers actors; a replayed letter may name any of them.
ACTOR_MODULES = ("hub.pipeline.actors", "hub.pipeline.orders", "hub.pipeline.stock_actors",
                 "hub.pipeline.fulfilment_actors", "hub.pipeline.sweep_actors",
                 "hub.pipeline.aftersales", "hub.pipeline.service_orders", "hub.pipeline.operations")


def _start_queue(hub: Hub) -> Any:
    """The broker and actors as ``hub serve``/``hub worker`` build them, bound to this hub."""
    import importlib

    from hub.context import set_current_hub
    from hub.queue.runtime import QueueRuntime, set_current_runtime

    start = getattr(_runner(), "start_runtime", None)
    if start is not None:
        return start(hub)
    for module in ACTOR_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    runtime = QueueRuntime.create(broker_url=hub.config.broker_url, database_url=hub.config.database_url,
                                  namespace=hub.config.hub.redis_namespace,
                                  worker_threads=hub.config.hub.worker_threads)
    runtime.on_worker_shutdown(hub.close_loop_resources)
    hub.runtime = runtime
    set_current_runtime(runtime)
    set_current_hub(hub)
    return runtime


def _stop_queue(hub: Hub, runtime: Any) -> None:
    from hub.context import set_current_hub
    from hub.queue.runtime import set_current_runtime

    runtime.close()
    hub.runtime = None
    set_current_runtime(None)
    set_current_hub(None)


# --------------------------------------------------------------------------- API keys


def _cli_actor() -> str:
    """How the CLI attributes a write: the operating-system user who ran the command."""
    import getpass

    return f"cli:{getpass.getuser()}"[:100]


def shops_label(shops: list[str] | None) -> str:
    """How lists show a key's or user's shops: the names, or ``all``."""
    return ", ".join(shops) if shops else "all"


def _cli_shops(ctx: typer.Context, shop: list[str] | None) -> list[str] | None:
    """``--shop`` values checked against the configured shops (None when none were given)."""
    from hub.db.api_keys import normalise_shops
    from hub.errors import BadInputError

    if not shop:
        return None
    try:
        return normalise_shops(shop, list(_state(ctx).config().shops))
    except BadInputError as exc:
        raise CliFailure(f"--shop: {exc}", EXIT_BAD_INPUT) from exc


def _cli_shop_limit(ctx: typer.Context, shop: list[str] | None, all_shops: bool) -> list[str] | None:
    """The shops of ``--shop S`` (repeated, checked) or None for ``--all-shops``; exactly one is given."""
    if bool(shop) == all_shops:
        raise CliFailure("--shop: give the shops (--shop S, repeated) or --all-shops, not both or neither",
                         EXIT_BAD_INPUT)
    return _cli_shops(ctx, shop)


@apikey_app.command("create")
@_report_errors
def apikey_create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Who or what uses the key (shown in lists and audit trails)."),
    role: str = typer.Option(..., "--role", help="admin, operator, service, warehouse, finance or viewer."),
    shop: list[str] | None = typer.Option(None, "--shop", help="Limit the key to this shop (repeat for more); "
                                                               "omit for every shop."),
) -> None:
    """Create an API key and print it once."""
    from hub.db import api_keys

    if role not in api_keys.ROLES:
        raise CliFailure(f"--role: {role!r} is not a role; allowed roles: {', '.join(api_keys.ROLES)}", EXIT_BAD_INPUT)
    if not name.strip():
        raise CliFailure("--name: give the key a name saying who or what uses it", EXIT_BAD_INPUT)
    shops = _cli_shops(ctx, shop)

    async def create(database: Database) -> tuple[str, Any]:
        async with database.transaction() as session:
            return await api_keys.create_key(session, name=name, role=role, actor=_cli_actor(), shops=shops)

    plaintext, row = _with_database(ctx, create)
    limited = f", shops {', '.join(row.shops)}" if row.shops else ""
    _err().print(f"API key {row.prefix} for {row.name!r}, role {row.role}{limited}:", markup=False)
    typer.echo(plaintext)
    _err().print("Store it now: it will not be shown again (only a hash is kept).", markup=False)


@apikey_app.command("list")
@_report_errors
def apikey_list(ctx: typer.Context) -> None:
    """List API keys (never the keys themselves)."""
    from hub.db import api_keys

    async def fetch(database: Database) -> list[Any]:
        async with database.session() as session:
            return await api_keys.list_keys(session)

    rows = _with_database(ctx, fetch)
    table = Table(title="API keys")
    for column in ("prefix", "name", "role", "shops", "created", "created by", "last used", "revoked", "revoked by"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r.prefix, r.name, r.role, shops_label(r.shops), r.created_at.isoformat(timespec="seconds"),
                      r.created_by or "-",
                      r.last_used_at.isoformat(timespec="seconds") if r.last_used_at else "never",
                      r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-", r.revoked_by or "-")
    _out().print(table)


@apikey_app.command("shops")
@_report_errors
def apikey_shops(
    ctx: typer.Context,
    prefix: str = typer.Argument(..., help="The key's prefix (see `hub apikey list`)."),
    shop: list[str] | None = typer.Option(None, "--shop", help="Limit the key to this shop (repeat for more)."),
    all_shops: bool = typer.Option(False, "--all-shops", help="Lift the limit: the key reaches every shop."),
    force: bool = typer.Option(False, "--force", help="Even the last admin key of every shop (nobody could then "
                                                      "manage keys over the API)."),
) -> None:
    """Set the shops an API key is limited to (--shop, repeated) or lift the limit (--all-shops)."""
    from hub.db import api_keys

    shops = _cli_shop_limit(ctx, shop, all_shops)

    async def change(database: Database) -> bool:
        async with database.transaction() as session:
            row = await api_keys.set_shops(session, prefix, shops, actor=_cli_actor(), allow_last_admin=force)
            return row is not None

    _guarded_change(ctx, change, guard=api_keys.LastAdminKeyError, anyway="limit it",
                    missing=f"no active API key with prefix {prefix!r}; see `hub apikey list`")
    _out().print(f"API key {prefix} now reaches: {shops_label(shops)}", markup=False)


@apikey_app.command("revoke")
@_report_errors
def apikey_revoke(
    ctx: typer.Context,
    prefix: str = typer.Argument(..., help="The key's prefix (see `hub apikey list`)."),
    force: bool = typer.Option(False, "--force", help="Revoke it even if it is the last active admin key "
                                                      "(nobody can then manage keys over the API)."),
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    from hub.db import api_keys

    async def revoke(database: Database) -> bool:
        async with database.transaction() as session:
            return await api_keys.revoke_key(session, prefix, actor=_cli_actor(), allow_last_admin=force)

    _guarded_change(ctx, revoke, guard=api_keys.LastAdminKeyError, anyway="revoke it",
                    missing=f"no active API key with prefix {prefix!r}; see `hub apikey list`")
    _out().print(f"API key {prefix} revoked", markup=False)


def _add_stock_commands() -> None:
    # `hub stock import|reconcile` live with the inventory code; a missing module must not break the CLI.
    try:
        from hub.stock_cli import stock_app
    except ImportError:  # pragma: no cover
        return
    __import__("hub.stock_defective_cli", fromlist=["register"]).register(stock_app)  # defective, dispose
    app.add_typer(stock_app, name="stock")


_add_stock_commands()
__import__("hub.catalogue_cli", fromlist=["register"]).register(app)  # `hub catalogue …` and `hub listings …`
__import__("hub.user_cli", fromlist=["register"]).register(app)  # `hub user …`
__import__("hub.fulfilment_cli", fromlist=["register"]).register(app)  # review, delivery, labels, tracking …
__import__("hub.aftersales_cli", fromlist=["register"]).register(app)  # `hub aftersales …`
__import__("hub.service_orders_cli", fromlist=["register"]).register(app)
__import__("hub.operations_cli", fromlist=["register"]).register(app)  # `hub orders …`, tags, export, reports


def main() -> None:
    """Console-script entry point (``hub``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
