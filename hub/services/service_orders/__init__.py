"""Service orders: installation, repair and other work done for a buyer after the sale, from the
platform's work card (or a person's or a rule's creation) to completed, with technicians and
service-level deadlines.

One module per job: ``classify`` (the hub's type of a platform's service code), ``intake`` (store
and advance service orders and platform alerts as platforms report them), ``records`` (reading one
stored service order, writing its history), ``technicians`` (the registry), ``assignment``
(automatic by skill, region and load, the ``assign_service_order`` hook; manual with a reason),
``lifecycle`` (a person's steps: book, check in, complete, cancel, fail), ``writeback`` (each step
sent to the platform once per key), ``sla`` (deadlines, due-soon and overdue flags, notifications),
``creation`` (service orders for orders of any shop, by a person or a rule), ``queries`` (lists,
one order with its history) and ``figures`` (per type, product and technician). ``settings`` is the
``[service_orders]`` configuration section. Routes live in ``hub.api.routes.service_orders*``,
actors in ``hub.pipeline.service_orders*``.
"""
