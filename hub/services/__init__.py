"""The hub's business services: orders, after-sales, inventory, ingest. They take a database
session (and sometimes the ``Hub``), speak contracts, and never import a plugin."""
