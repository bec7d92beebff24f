"""The console's words for each fulfilment, after-sales and service-order screen, one module per screen, merged into the
catalogues of ``hub.console.i18n`` (each module defines ``EN`` and ``ZH`` with the same keys)."""

from __future__ import annotations

import importlib

MODULES = ("nav", "review", "delivery", "warehouse", "waybills", "tracking", "merging", "aftersales", "defective",
           "service_orders", "ops_search", "ops_tags", "ops_edits", "ops_batch", "ops_exports", "ops_notifications",
           "ops_reports", "ops_access")


def catalogues() -> tuple[dict[str, str], dict[str, str]]:
    """Every module's English and Chinese words, merged."""
    en: dict[str, str] = {}
    zh: dict[str, str] = {}
    for name in MODULES:
        module = importlib.import_module(f"hub.console.words.{name}")
        en.update(module.EN)
        zh.update(module.ZH)
    return en, zh
