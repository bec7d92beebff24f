"""The hub's Prometheus metrics: one dedicated registry, the counters and histograms the pipeline updates.

Import the metric objects by name (``metrics.WEBHOOK_REQUESTS.labels(platform, outcome).inc()``);
``/metrics`` renders ``REGISTRY`` with ``render()``. Labels are low-cardinality by design: platform,
outcome, reason, kind — never a shop-, order- or buyer-specific value. Not for logging (``hub.logging``).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

#: The hub's own registry, so tests and multiple apps in one process never clash with the default one.
REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_REQUESTS = Counter(
    "hub_webhook_requests_total",
    "Webhook requests received, by platform and outcome (accepted, rejected, not_found, error).",
    ["platform", "outcome"],
    registry=REGISTRY,
)
PUSH_REJECTED = Counter(
    "hub_push_rejected_total",
    "Pushes refused before anything was stored, by platform and reason (bad_signature, malformed, ...).",
    ["platform", "reason"],
    registry=REGISTRY,
)
MESSAGES_INGESTED = Counter(
    "hub_messages_ingested_total",
    "Inbound messages handed to the inbox, by platform, source (push, message_channel, poll, manual) and kind.",
    ["platform", "source", "kind"],
    registry=REGISTRY,
)
ORDERS_CHANGED = Counter(
    "hub_orders_changed_total",
    "Orders created or changed by the order service, by platform and change.",
    ["platform", "change"],
    registry=REGISTRY,
)
STOCK_PUSHES = Counter(
    "hub_stock_pushes_total",
    "Stock values pushed to channels, by platform and outcome.",
    ["platform", "outcome"],
    registry=REGISTRY,
)
STOCK_SYNC_LAG = Histogram(
    "hub_stock_sync_lag_seconds",
    "Seconds from a stock change to the channel showing it (docs/architecture.md §6: p99 under 1 s in shared mode).",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
PARTNER_CALLS = Counter(
    "hub_partner_calls_total",
    "Calls to partner APIs, by platform and outcome (ok, retryable, permanent, throttled, auth).",
    ["platform", "outcome"],
    registry=REGISTRY,
)
POLL_WINDOWS_CARRIED = Counter(
    "hub_poll_windows_carried_over_total",
    "Poll runs that spent their page limit inside a window and left the rest of it to the next run "
    "(a window needing more than one run), by platform.",
    ["platform"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "hub_dead_letters_total",
    "Messages that landed in dead letters, by actor.",
    ["actor"],
    registry=REGISTRY,
)

#: Deadline alerts raised (``hub.services.aftersales.rules``), by platform (never a shop or case).
AFTERSALE_DEADLINE_ALERTS = Counter(
    "hub_aftersale_deadline_alerts_total",
    "After-sale cases whose platform reply deadline entered [aftersales] deadline_alert_hours, by platform.",
    ["platform"],
    registry=REGISTRY,
)
SERVICE_ORDER_SLA_FLAGS = Counter(
    "hub_service_order_sla_flags_total",
    "Service orders flagged due soon or overdue on a service-level milestone, by platform, milestone and level.",
    ["platform", "milestone", "level"],
    registry=REGISTRY,
)
SERVICE_ALERTS = Counter(
    "hub_service_alerts_total",
    "Platform service-level alerts on service orders, by platform and level.",
    ["platform", "level"],
    registry=REGISTRY,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def render() -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)


__all__ = [
    "AFTERSALE_DEADLINE_ALERTS",
    "CONTENT_TYPE",
    "DEAD_LETTERS",
    "MESSAGES_INGESTED",
    "ORDERS_CHANGED",
    "PARTNER_CALLS",
    "POLL_WINDOWS_CARRIED",
    "PUSH_REJECTED",
    "REGISTRY",
    "SERVICE_ALERTS",
    "SERVICE_ORDER_SLA_FLAGS",
    "STOCK_PUSHES",
    "STOCK_SYNC_LAG",
    "WEBHOOK_REQUESTS",
    "render",
]
