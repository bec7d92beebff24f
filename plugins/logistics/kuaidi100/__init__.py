"""Kuaidi100 (快递100): tracking queries, tracking subscriptions and their signed callbacks.

Wire facts: ``docs/platforms/couriers-and-warehouses.md`` §7. Not for waybill creation: Kuaidi100
is used here as a tracking aggregator only.
"""
