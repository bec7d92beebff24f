"""After-sales: refunds, returns, exchanges and reissues, from the buyer's request to closed.

One module per job: ``intake`` (store and advance cases as platforms report them, with lines and
history), ``local_cases`` (cases a person opens in the hub), ``queries`` (lists, one case, the actions
allowed now), ``decisions`` (a merchant's decision and its write-back to the platform, once per
key; with ``decision_checks``, ``case_records`` and ``writeback``), ``returns`` (returned goods back into
stock through the ledger, damaged ones to the defective location), ``replacements`` (an
exchange's replacement or a reissue as a new delivery through fulfilment), ``rules`` (auto-approve,
deadline alerts; ``refund_release``: stock released on a refund before shipment) and ``figures`` (refund and return
rates, reasons ranked). ``settings`` is the ``[aftersales]`` configuration section. Routes live in
``hub.api.routes.aftersales*``, actors in ``hub.pipeline.aftersales``.
"""
