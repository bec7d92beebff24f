"""``hub.plugin_api.bulk_listing_pays``: when ``get_orders`` reads past the first page of a list call."""

from __future__ import annotations

import pytest

from hub.plugin_api import BULK_MAX_PAGES, bulk_listing_pays


@pytest.mark.parametrize(("listed", "asked", "missing", "reads_on"), [
    (80, 5, 5, False),  # one page holds the whole window: nothing left to read
    (130, 65, 15, True),  # 1 more call instead of 15
    (130, 65, 0, False),  # all found on the first page
    (150, 3, 3, True),  # 1 more page instead of 3 fetches
    (500, 3, 3, False),  # 4 more pages cost more than 3 fetches
    (300, 100, 2, False),  # 2 pages left cost as many calls as 2 fetches, with more data: fetch alone
    (300, 100, 3, True),  # 2 pages instead of 3 fetches
    (2_000, 100, 90, True),  # a busy night: 19 more pages instead of 90 fetches
    (2_200, 100, 95, False),  # more pages than one batch may read
])
def test_reads_on_only_when_cheaper_than_fetching_alone(listed: int, asked: int, missing: int,
                                                       reads_on: bool) -> None:
    assert bulk_listing_pays(listed, 100, asked, missing) is reads_on


def test_one_batch_reads_a_bounded_number_of_pages() -> None:
    assert 5 <= BULK_MAX_PAGES <= 50
