"""Edits of an order with a record (before, after, who, why): address, remarks, the seller's flag,
price and quantity before payment (money changes wait for approval), merchant cancellation of an
unshipped order, and their write-back to the platform.
"""
