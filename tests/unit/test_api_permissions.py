"""The role → permission table: roles are not a ladder, and each role may do exactly what the
merchant's organisation expects of it."""

from __future__ import annotations

import pytest

from hub.api.auth import PERMISSION_ROLES, ROLE_PERMISSIONS, ROLES, Permission, Principal
from hub.db import api_keys

P = Permission
EXPECTED: dict[str, set[Permission]] = {
    "admin": set(Permission),
    "operator": {P.ORDERS_READ, P.ORDERS_WRITE, P.SHIPMENTS_WRITE, P.STOCK_READ, P.SHOPS_READ, P.PLUGINS_READ,
                 P.CATALOGUE_WRITE, P.SERVICE_ORDERS_WRITE, P.ORDERS_EDIT, P.ORDERS_TRIAGE, P.TAGS_MANAGE,
                 P.DATA_EXPORT, P.JOBS_RUN, P.NOTIFICATIONS_READ, P.REPORTS_READ},
    "service": {P.ORDERS_READ, P.ORDERS_READ_PII, P.STOCK_READ, P.SHOPS_READ, P.PLUGINS_READ,
                P.SERVICE_ORDERS_WRITE, P.TECHNICIANS_MANAGE, P.ORDERS_EDIT, P.ORDERS_TRIAGE, P.DATA_EXPORT,
                P.JOBS_RUN, P.NOTIFICATIONS_READ},
    "warehouse": {P.ORDERS_READ, P.SHIPMENTS_WRITE, P.STOCK_READ, P.STOCK_ADJUST, P.SHOPS_READ, P.PLUGINS_READ,
                  P.DATA_EXPORT, P.JOBS_RUN},
    # Finance approves money changes and reads profit; it neither edits orders nor moves stock.
    "finance": {P.ORDERS_READ, P.STOCK_READ, P.SHOPS_READ, P.PLUGINS_READ, P.ORDERS_APPROVE, P.DATA_EXPORT,
                P.JOBS_RUN, P.REPORTS_READ, P.REPORTS_PROFIT, P.COSTS_WRITE},
    "viewer": {P.ORDERS_READ, P.STOCK_READ, P.SHOPS_READ, P.PLUGINS_READ, P.REPORTS_READ},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_has_exactly_its_permissions(role: str) -> None:
    assert set(ROLE_PERMISSIONS[role]) == EXPECTED[role]


def test_roles_are_not_a_ladder() -> None:
    warehouse, operator = ROLE_PERMISSIONS["warehouse"], ROLE_PERMISSIONS["operator"]
    assert P.STOCK_ADJUST in warehouse and P.STOCK_ADJUST not in operator
    assert P.ORDERS_WRITE in operator and P.ORDERS_WRITE not in warehouse
    assert P.ORDERS_READ_PII in ROLE_PERMISSIONS["service"] and P.ORDERS_READ_PII not in operator
    finance = ROLE_PERMISSIONS["finance"]
    assert P.ORDERS_APPROVE in finance and P.ORDERS_APPROVE not in operator and P.ORDERS_EDIT not in finance


def test_table_covers_every_permission_and_only_known_roles() -> None:
    assert set(PERMISSION_ROLES) == set(Permission)
    assert ROLES == api_keys.ROLES
    assert all(roles <= set(ROLES) for roles in PERMISSION_ROLES.values())


def test_principal_attribution_names_the_key_and_fits_the_history_column() -> None:
    principal = Principal(key_id=1, name="x" * 200, prefix="AbCd1234", role="operator")
    assert principal.actor.startswith("apikey:AbCd1234:") and len(principal.actor) <= 100
    assert principal.may(P.ORDERS_WRITE) and not principal.may(P.DEAD_LETTERS)
    assert not Principal(key_id=2, name="old", prefix="p", role="retired-role").may(P.ORDERS_READ)
