"""Built-in warehouse connectors: ``manual`` (stock kept by people through the hub) and ``qimen``
(the Qimen ERP↔WMS protocol). Not for stock arithmetic: the hub's inventory service does that."""
