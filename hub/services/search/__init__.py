"""Finding orders: by platform order number, recipient name, phone (full or last four) and buyer nick,
personal data through keyed hashes only; sorting and the on-hold filter; user tags, priority and
manual holds (triage).
"""
