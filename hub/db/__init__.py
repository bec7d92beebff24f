"""The hub's storage: engine per loop, migrations, and one small repository module per table group.

``tables`` is the schema; ``engine`` connects; ``upsert`` builds ``INSERT … ON CONFLICT``;
``bindings``, ``inbox``, ``outbox``, ``dead_letters``, ``api_keys``, ``shops``, ``shop_state`` and
``idempotency`` hold the queries. Nothing here knows a platform by name.
"""
