"""``hub.testing``: a pytest plugin (entry point ``pytest11``) for the hub's tests and plugin authors.

Installed with the hub, so every project that tests a plugin gets, without a conftest:

- database fixtures (``hub.testing.db``): ``database_url`` — a fresh migrated database, once on
  SQLite and once on PostgreSQL — and ``database`` (connected on the test's loop);
- queue fixtures (``hub.queue.testing``): ``redis_url``, ``redis_namespace`` (a key namespace of
  the test's own, deleted afterwards), ``redis_client``, ``queue_runtimes``;
- ``respx_router``: a respx router for mocking *outbound* HTTP to partners (prefer the sandboxes);
- helpers to import: ``hub.testing.hub.running_hub`` / ``hub_config`` (a hub with a fresh broker
  and real workers), ``hub.testing.api`` (in-process API client, API keys),
  ``hub.testing.factories`` (contract factories), ``hub.testing.context.make_context`` (build a
  connector without a hub) and ``hub.testing.conformance.ChannelConformance`` (the suite every
  channel connector must pass); ``hub.testing.faults`` (a ``redis-server`` of the test's own that
  can crash and restart empty, and partner faults fed to sandboxes at a steady rate);
  ``hub.testing.waybill_requests`` (e-waybill requests between two addresses every courier takes,
  for ``create_waybill`` tests), ``hub.testing.aftersales_channel`` (a channel that follows the
  after-sales decision contract, with stale and timeout faults, for hub-side tests) and
  ``hub.testing.cli`` (a runner for the ``hub`` command and an autouse fixture unsetting
  ``HUB_CONFIG``/``HUB_DATABASE_URL``/``HUB_REDIS_URL``);
- under pytest-xdist, a PostgreSQL connection budget shared by the run's workers
  (``hub.testing.pg_budget``; ``@pytest.mark.postgres_connections(n)`` reserves more).
"""

from collections.abc import Iterator

import pytest

from hub.queue.testing import queue_runtimes, redis_client, redis_namespace, redis_url  # noqa: F401
from hub.testing.db import *  # noqa: F403
from hub.testing.pg_budget import pytest_runtest_protocol  # noqa: F401


@pytest.fixture
def respx_router() -> Iterator[object]:
    """A respx router active for the test; unmatched requests fail loudly."""
    import respx

    with respx.mock(assert_all_called=False) as router:
        yield router
