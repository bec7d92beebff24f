"""Exports: any filtered list (orders, lines, after-sales, stock, service orders) as CSV or XLSX,
streamed, personal data masked unless the role may see it.
"""
