"""Batch operations: one request over many orders with a result per order, run as background jobs with
progress when large.
"""
