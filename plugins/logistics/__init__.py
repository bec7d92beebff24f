"""Built-in courier connectors (tracking and, later, waybills). One sub-package per partner:
``kuaidi100`` today. Not for channel shipment confirmation: channel plugins do that."""
