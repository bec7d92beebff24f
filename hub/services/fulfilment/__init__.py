"""Fulfilment: from a paid order to a parcel at the buyer's door.

One module per step: ``review`` (审单: approve or hold), ``routing`` (which warehouse and courier),
``delivery_orders`` (to a WMS or the hub's own warehouse), ``waybills`` (electronic waybills and
labels), ``shipments`` (what left, told to the channel), ``tracking`` (where a parcel is) and
``interception`` (stopping a shipment a refund overtook). ``flow`` drives an order through them.
Routes live in ``hub.api.routes``, actors in ``hub.pipeline.fulfilment_actors``.
"""
