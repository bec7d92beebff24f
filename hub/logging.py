"""Structured logging for every hub process: structlog JSON lines (or a console rendering), with
secrets and buyers' personal data masked in every event, the standard library's loggers included.

``configure_logging(level, fmt)`` is called once per process by ``hub.runner`` and the CLI; ``auto``
(the default) renders for people (coloured) when the log stream is a terminal and JSON lines
otherwise. JSON lines never carry terminal colour codes.
Events are named ``noun.verb`` (``order.ingested``, ``push.rejected``) with ids as fields.
``mask_event`` is the last line of defence, not a licence: code should not pass secrets or
personal data to a logger in the first place. Not for metrics (``hub.metrics``).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from contracts.privacy import mask_name, mask_phone, mask_text

MASK = "***"

# Keys whose values are credentials. Matched on word boundaries (start, '_', '-', '.') so that
# "app_secret", "access_token", "X-Api-Key" and "sign_method" match but "assignee" does not.
_SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:secret|token|password|passwd|session|sign|signature|authorization|api[_\-]?key|apikey"
    r"|cookie|credential)",
    re.IGNORECASE,
)
_PHONE_KEY = re.compile(r"phone|mobile|(?:^|[_\-.])tel(?:ephone)?(?:$|[_\-.])", re.IGNORECASE)
_ADDRESS_KEY = re.compile(r"address|street|receiver|consignee|recipient", re.IGNORECASE)
# Keys ending in "name" that name things, not people; any other *name key is treated as a person's.
_SAFE_NAME_KEYS = frozenset(
    {
        "logger", "logger_name", "func_name", "filename", "file_name", "hostname", "host_name", "module_name",
        "shop_name", "platform_name", "plugin_name", "actor_name", "queue_name", "key_name", "table_name",
        "column_name", "job_name", "courier_name", "warehouse_name", "product_name", "sku_name", "item_name",
        "app_name", "task_name", "thread_name", "process_name", "event_name", "field_name", "dist_name",
    }
)
_ID_KEY = re.compile(r"(?:^|_)ids?$", re.IGNORECASE)

# Phone-number-like runs in free text: CN mobiles (11 digits, 1[3-9]…), optionally +86 and spaced.
_PHONE_IN_TEXT = re.compile(r"(?<![\d.])(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?![\d.])")
# Credentials that leak into free text: URLs with query strings, header dumps.
_SECRET_IN_TEXT = re.compile(
    r"(?P<key>\b(?:app_secret|secret|access_token|refresh_token|token|password|session|sign|api_key)\b"
    r"(?:\s*=\s*|[\"']\s*:\s*[\"']))"  # key=value (URLs, headers) or "key": "value" (JSON); not prose
    r"(?P<value>[^\s&\"',;]+)",
    re.IGNORECASE,
)
_BEARER_IN_TEXT = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
# Passwords in connection URLs (postgresql://user:pass@host, redis://:pass@host).
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/\s@]*:)[^@\s]+@")
# Terminal escape sequences (colours, cursor moves): never part of a log line meant for machines.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# Extras libraries add only for coloured terminals (uvicorn's ``color_message``).
_COLOUR_KEYS = ("color_message",)


def _is_person_name_key(key: str) -> bool:
    lowered = key.lower()
    return lowered.endswith("name") and lowered not in _SAFE_NAME_KEYS


def scrub_text(text: str) -> str:
    """Mask phone numbers and inline credentials in free text."""
    text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)) or MASK, text)
    text = _SECRET_IN_TEXT.sub(lambda m: m.group("key") + MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
    return _BEARER_IN_TEXT.sub(lambda m: f"{m.group(1)} {MASK}", text)


def _mask_personal(value: Any, masker: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value if value is None else MASK
    if isinstance(value, str):
        return masker(value)
    return _mask_value(None, value)


def _mask_value(key: str | None, value: Any) -> Any:
    """Mask one value, knowing the key it sits under (``None`` inside lists)."""
    if key is not None:
        if _SECRET_KEY.search(key):
            return MASK if value not in (None, "") else value
        if _PHONE_KEY.search(key):
            return _mask_personal(value, mask_phone)
        if _is_person_name_key(key):
            return _mask_personal(value, mask_name)
        if _ADDRESS_KEY.search(key) and isinstance(value, str):
            return mask_text(value)
    masked = getattr(value, "masked", None)
    if callable(masked):  # contracts models (Order, Address, Buyer) know their own masked rendering
        value = masked()
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump(mode="json")
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(None, v) for v in value]
    if isinstance(value, str):
        if key is not None and _ID_KEY.search(key):
            return value  # platform ids may be 11-digit runs; never mistake them for phones
        return scrub_text(value)
    return value


def mask_event(logger: WrappedLogger | None, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secrets → ``***``, phones/names/addresses masked, free text scrubbed."""
    return {key: _mask_value(key, value) for key, value in event_dict.items()}


def strip_colour(logger: WrappedLogger | None, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: drop colour-only extras and escape sequences from every string value."""
    for key in _COLOUR_KEYS:
        event_dict.pop(key, None)
    return {key: _ANSI.sub("", value) if isinstance(value, str) else value for key, value in event_dict.items()}


def resolve_format(fmt: str, stream: TextIO | None = None) -> Literal["json", "console"]:
    """``auto`` → ``console`` when ``stream`` (default: stderr) is a terminal, else ``json``."""
    if fmt != "auto":
        return "console" if fmt == "console" else "json"
    target = stream or sys.stderr
    isatty = getattr(target, "isatty", None)
    return "console" if callable(isatty) and isatty() else "json"


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time (test runners and the CLI swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _shared_processors() -> list[Processor]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(
    level: str = "info", fmt: Literal["json", "console", "auto"] | str = "json", *, stream: TextIO | None = None
) -> None:
    """Route structlog and the standard library (uvicorn, dramatiq, httpx) through one masked renderer.

    :param level: debug, info, warning or error.
    :param fmt: ``json`` (one JSON object per line), ``console`` (for people, coloured on a
        terminal) or ``auto`` (console on a terminal, JSON otherwise).
    :param stream: where to write (default: the current ``sys.stderr``, looked up at each write).
    """
    if fmt not in ("json", "console", "auto"):
        raise ValueError(f"log format must be 'json', 'console' or 'auto', got {fmt!r}")
    fmt = resolve_format(fmt, stream)
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"log level must be debug, info, warning or error, got {level!r}")

    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False, ensure_ascii=False)
    else:
        target = stream or sys.stderr
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(target, "isatty", lambda: False)()), exception_formatter=structlog.dev.plain_traceback
        )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # tracebacks become text, so they are masked too
            mask_event,
            strip_colour,  # the console renderer adds its own colours after this, on a terminal only
            renderer,
        ],
    )
    handler: logging.Handler = logging.StreamHandler(stream or _CurrentStderr())
    handler.setFormatter(formatter)
    handler.set_name("hub")

    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "hub" or not isinstance(old, logging.FileHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn and dramatiq install their own handlers (and levels) when left alone: send them through
    # ours, at our level, even after an earlier ``fileConfig`` or uvicorn config changed them.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq", "httpx", "httpcore"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
        lib.disabled = False
        lib.setLevel(logging.NOTSET)
    for noisy in ("httpx", "httpcore", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Loggers are created at import time, before this runs: never cache the old configuration.
        cache_logger_on_first_use=False,
    )


__all__ = ["MASK", "configure_logging", "mask_event", "resolve_format", "scrub_text", "strip_colour"]
