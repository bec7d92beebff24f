"""Roles per shop: which shops an API key or console user may see and act on, and how every query and
write is limited to them.
"""
