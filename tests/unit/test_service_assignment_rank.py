"""Automatic assignment's ranking of technicians (``assignment.rank``): only active technicians
with the order's skill who serve its region; the most specific region first (district, city,
province, everywhere), then the lightest open load, then code; anyone at their daily capacity of
appointments today after everyone under it. And why nobody fits, in a person's words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.service_orders import ServiceOrderType, ServiceRegion, Technician
from hub.services.service_orders.assignment import at_capacity, rank, why_nobody
from hub.testing.service_orders import make_technician

INSTALL, REPAIR = ServiceOrderType.INSTALLATION, ServiceOrderType.REPAIR
WEST_LAKE = ServiceRegion(province="浙江省", city="杭州市", district="西湖区")


def _tech(code: str, *, regions: tuple[str, ...] = (), skills: tuple[ServiceOrderType, ...] = (INSTALL,),
          open_load: int = 0, today_load: int = 0, capacity: int = 4, active: bool = True) -> Technician:
    return make_technician(code, skills=skills, regions=regions, open_load=open_load, today_load=today_load,
                           daily_capacity=capacity, active=active)


@pytest.mark.parametrize(("technicians", "region", "expected"), [
    pytest.param([_tech("A", regions=("浙江省",)), _tech("B", regions=("西湖区",)), _tech("C", regions=("杭州市",)),
                  _tech("D")], WEST_LAKE, ["B", "C", "A", "D"], id="district-city-province-everywhere"),
    pytest.param([_tech("A", regions=("杭州市",), open_load=3), _tech("B", regions=("杭州市",), open_load=1),
                  _tech("C", regions=("杭州市",), open_load=1)], WEST_LAKE, ["B", "C", "A"], id="load-then-code"),
    pytest.param([_tech("A", regions=("西湖区",), today_load=4), _tech("B", open_load=9)], WEST_LAKE, ["B", "A"],
                 id="at-capacity-goes-last-even-if-nearer"),
    pytest.param([_tech("A", regions=("宁波市",)), _tech("B", skills=(REPAIR,)), _tech("C", active=False),
                  _tech("D", regions=("浙江省",))], WEST_LAKE, ["D"], id="skill-region-and-active-filter"),
    pytest.param([_tech("A", regions=("杭州市",)), _tech("B")], ServiceRegion(), ["B"],
                 id="unknown-region-only-everywhere"),
    pytest.param([_tech("A", capacity=0)], WEST_LAKE, ["A"], id="capacity-zero-still-listed"),
])
def test_rank_orders_by_skill_region_capacity_load_and_code(technicians: list[Technician], region: ServiceRegion,
                                                            expected: list[str]) -> None:
    assert [t.code for t in rank(INSTALL, region, technicians)] == expected


def test_why_nobody_fits_names_the_missing_skill_or_region() -> None:
    assert why_nobody(REPAIR, WEST_LAKE, [_tech("A")]) == "no active technician has the skill repair"
    assert why_nobody(INSTALL, WEST_LAKE, [_tech("A", regions=("宁波市",))]) == (
        "no active technician with the skill installation serves 浙江省 / 杭州市 / 西湖区")


_technicians = st.lists(
    st.builds(lambda i, skills, regions, open_load, today_load, capacity, active: _tech(
        f"T{i:03d}", skills=tuple(skills), regions=tuple(regions), open_load=open_load, today_load=today_load,
        capacity=capacity, active=active),
        st.integers(0, 999), st.sets(st.sampled_from(list(ServiceOrderType)), max_size=3),
        st.lists(st.sampled_from(["浙江省", "杭州市", "西湖区", "宁波市", "江苏省"]), max_size=2, unique=True),
        st.integers(0, 20), st.integers(0, 6), st.integers(0, 5), st.booleans()),
    max_size=8, unique_by=lambda t: t.code)


@given(technicians=_technicians, kind=st.sampled_from(list(ServiceOrderType)))
def test_rank_chooses_a_skilled_active_technician_and_puts_capacity_last(technicians: list[Technician],
                                                                         kind: ServiceOrderType) -> None:
    ranked = rank(kind, WEST_LAKE, technicians)
    assert all(t.active and kind in t.skills for t in ranked)
    seen_full = False
    for t in ranked:
        seen_full = seen_full or at_capacity(t)
        assert at_capacity(t) or not seen_full, "a technician under capacity came after one at capacity"
    skilled = [t for t in technicians if t.active and kind in t.skills and not t.regions]
    assert {t.code for t in skilled} <= {t.code for t in ranked}, "a technician serving everywhere was left out"
