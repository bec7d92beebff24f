"""``hub.plugin_api.bulk_listing_pays``: when ``get_orders`` reads past the first page of a list call."""

from __future__ import annotations

import pytest

from hub.plugin_api import BULK_OVERFETCH, bulk_listing_pays


@pytest.mark.parametrize(("listed", "asked", "missing", "reads_on"), [
    (80, 5, 5, False),  # one page holds the whole window: nothing left to read
    (130, 65, 15, True),  # 1 more call instead of 15
    (130, 65, 0, False),  # all found on the first page
    (150, 3, 3, False),  # 150 listed for 3 asked: past the overfetch bound
    (300, 100, 2, False),  # 2 pages left cost as many calls as 2 fetches, with more data: fetch alone
    (300, 100, 3, True),  # 2 pages instead of 3 fetches
    (301, 100, 90, False),  # more than 3x the asked count
])
def test_reads_on_only_when_cheaper_than_fetching_alone(listed: int, asked: int, missing: int,
                                                       reads_on: bool) -> None:
    assert bulk_listing_pays(listed, 100, asked, missing) is reads_on


def test_the_bound_is_a_few_times_the_asked_count() -> None:
    assert 2 <= BULK_OVERFETCH <= 5
