"""Kuaidi100 (快递100): tracking queries, tracking subscriptions and their signed callbacks
(``connector.Kuaidi100Courier``, platform ``kuaidi100``), and electronic waybills through its label
API (``label.Kuaidi100LabelCourier``, platform ``kuaidi100_label``).

Wire facts: ``docs/platforms/couriers-and-warehouses.md`` §7 (tracking) and §7b (e-waybills).
"""
