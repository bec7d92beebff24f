"""Stock: what there is, what orders hold, what each shop should show, and getting it there
(docs/architecture.md §6).

The flow, one job per module; each imports only modules above it in this list (no cycles):

- ``allocation`` — pure arithmetic: a shop's effective policy, the two modes, partitioned moves.
- ``inflight`` — at most one push per listing outstanding (``pending_key``/``pending_at`` marks).
- ``skus`` — the catalogue as stock sees it: SKUs, bundles' components, whole-number quantities.
- ``levels`` — on hand and reserved per warehouse, and available (``stock_of``).
- ``channel_listings`` — which shop listing sells which SKU (``add_listing``, ``find_listing``).
- ``reservations`` — what orders hold: reserve, release, consume, each exactly once.
- ``targets`` — what every shop should show now (``compute_targets``).
- ``exposure`` — partitioned groups: what each shop can still sell, so the group never oversells.
- ``scheduling`` — dirty marks and the coalesced per-shop push job; what the dirty sweep finds.
- ``push`` — the push job: claim dirty listings, send values or moves, record the answers.
- ``reconcile`` — read back what shops show, repair drift.
- ``effects`` — what an order change does to stock, and the follow-ups of any stock change.
- ``adjustments`` — changes by a person or client: checked, applied all or nothing, idempotent.
- ``csv_file`` — the stock file: decoded and parsed, every bad row named.
- ``batches`` — many rows of a file applied set-based, a batch at a time.
- ``import_jobs`` — a stock file as a job on the ``bulk`` queue, with progress and resume.

A change (an adjustment, an import batch, an order's reservation) writes stock and the ledger
and marks the affected listings dirty in one transaction; after commit ``scheduling`` enqueues
one ``push`` job per shop and ``effects`` notifies ``stock_changed``. Callers import the module
they need (``from hub.services.stock import push``); this package re-exports nothing.
"""
