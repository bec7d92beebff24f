"""Every documented operation, fed generated input by schemathesis from ``/openapi.json``, as admin
(``ADMIN_EXAMPLES`` says why not other roles; the webhook routes, answered by ``WebhookFastPath``,
are documented and so fuzzed too): never a 5xx, and every answer is one the schema documents
(status, content type, body). In-process on SQLite, a bounded
and derandomized number of examples per operation, so the run is repeatable; it is a net for 500s,
not a proof of their absence."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from schemathesis.config import SchemathesisConfig

from hub.api import create_app
from hub.testing.db import run_in_fresh_loop
from tests.integration.test_api_support import bearer, make_hub, new_key, push_shop

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


@pytest.fixture
def api_schema(database_url: str, role: str, request: pytest.FixtureRequest) -> Any:
    from hub.queue.runtime import QueueRuntime
    from hub.runner import import_actor_modules

    hub = make_hub(database_url, **{"fp-main": push_shop()})
    import_actor_modules()
    # As `hub serve` has: a queue to send to (in-process; no worker consumes it here).
    hub.runtime = QueueRuntime.create(redis_url=None, database_url=database_url)

    async def key() -> str:
        from hub.db.engine import dispose_all_for_loop

        try:
            return await new_key(hub, role)
        finally:
            await dispose_all_for_loop()

    request.node.key = run_in_fresh_loop(key)  # type: ignore[attr-defined]
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(hub), config=CONFIG)


#: Schemathesis's defaults, with two cuts to the coverage phase, which sent ~5,500 of the run's
#: calls (80 of its 99 s alone):
#: * one undocumented method per path instead of up to eight: every path answers a method it does
#:   not document from the same router (or the webhook fast path), and the other seven cost ~800 calls;
#: * its negative cases only (wrong types, missing and out-of-range values: 56 s of the 99): the
#:   positive ones it adds (25 s) are valid values at the schema's edges, which the fuzzing phase
#:   also draws. Bad input must get a 4xx, never a 5xx: that is what this test guards.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"unexpected-methods": ["put"],
                                                               "generation": {"mode": "negative"}}}})
schema = schemathesis.pytest.from_fixture("api_schema")


#: Examples per operation, as admin (the key that reaches every handler). Kept small so CI stays
#: inside ten minutes as operations grow (over 150 of them): the bad-input tests
#: (tests/integration/test_api_bad_input.py) hold the edges each handler must refuse. Other roles
#: are not fuzzed: a role's refusal comes from the permission dependency before any input is read,
#: and tests/integration/test_roles_every_write.py sends every write route as every role that may
#: not use it (403, nothing changed), failing when a new write route is not in its table.
ADMIN_EXAMPLES = 3
_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture]


def _call_and_validate(case: Any, request: pytest.FixtureRequest) -> None:
    response = case.call(headers=bearer(request.node.key))
    case.validate_response(response, checks=CHECKS)


# Generous: the run's time grows with the operations, and the machine may be shared; no assertion is on speed.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", ["admin"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@schema.parametrize()
@settings(max_examples=ADMIN_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
def test_no_operation_answers_5xx_or_off_schema(case: Any, role: str, request: pytest.FixtureRequest) -> None:
    _call_and_validate(case, request)
