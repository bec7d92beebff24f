"""Notifications that reach people: notifiers (plugins and built-ins), the rules that raise them,
deliveries retried, deduplicated and recorded, the daily summary and unpaid-order reminders.
"""
