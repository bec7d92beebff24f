"""Pure translation between Kuaidi100 and the hub: tracking states, courier codes, event times.

No I/O. Kuaidi100's ``state`` (0–14) maps into ``contracts.TrackingState``; the hub's courier codes
(the Qimen/Cainiao style ``SF``, ``ZTO``…) map to Kuaidi100 company codes (``shunfeng``,
``zhongtong``…) and back. Times are GMT+8 wall-clock strings, converted here to aware datetimes.
Facts: §7 of ``docs/platforms/couriers-and-warehouses.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from contracts import TrackingEvent, TrackingState, canonical_courier_code, canonical_courier_map

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Kuaidi100 ``state`` → canonical state (§7 ✅ [K QueryTrackResp.java]). 8 and 9 are not defined in
#: the source: they fall back to ``UNKNOWN_STATE_FALLBACK`` with the raw value kept.
STATES: dict[str, TrackingState] = {
    "0": TrackingState.IN_TRANSIT,  # 在途
    "1": TrackingState.COLLECTED,  # 揽收
    "2": TrackingState.EXCEPTION,  # 疑难 (problem parcel)
    "3": TrackingState.DELIVERED,  # 签收 (signed)
    "4": TrackingState.RETURNED,  # 退签 (returned and signed by the sender)
    "5": TrackingState.OUT_FOR_DELIVERY,  # 派件
    "6": TrackingState.RETURNED,  # 退回 (on its way back: it will not be delivered)
    "7": TrackingState.IN_TRANSIT,  # 转投 (forwarded)
    "10": TrackingState.IN_TRANSIT,  # 待清关
    "11": TrackingState.IN_TRANSIT,  # 清关中
    "12": TrackingState.IN_TRANSIT,  # 已清关
    "13": TrackingState.EXCEPTION,  # 清关异常
    "14": TrackingState.EXCEPTION,  # 拒签 (refused by the recipient; a return usually follows)
}
UNKNOWN_STATE_FALLBACK = TrackingState.IN_TRANSIT

#: Per-event status names that Kuaidi100 adds to ``data[]`` items when ``resultv2`` is asked for.
#: ⚠️ The names are the usual Chinese names of the states above; the exact strings are not
#: confirmed in a source we hold, so an unknown name simply falls back to the waybill state.
STATE_NAMES: dict[str, str] = {
    "在途": "0", "揽收": "1", "疑难": "2", "签收": "3", "退签": "4", "派件": "5", "退回": "6",
    "转投": "7", "转单": "7", "待清关": "10", "清关中": "11", "已清关": "12", "清关异常": "13", "拒签": "14",
}

#: Hub courier code → Kuaidi100 company code (§7 ✅ [K CompanyConstant.java], except ⚠️ below).
#: Overridable per account with the ``courier_codes`` setting.
DEFAULT_COURIER_CODES: dict[str, str] = {
    "SF": "shunfeng",
    "ZTO": "zhongtong",
    "YTO": "yuantong",
    "STO": "shentong",
    "YUNDA": "yunda",
    "HTKY": "huitongkuaidi",  # 百世快递
    "EMS": "ems",
    "JD": "jd",
    "ZJS": "zhaijisong",
    "DBL": "debangkuaidi",
    "JTSD": "jtexpress",
    "SHANSONG": "shansong",
    "POSTB": "youzhengguonei",  # ⚠️ 邮政国内: company code not confirmed in [K]
}
UNCONFIRMED_COMPANY_CODES = frozenset({"youzhengguonei"})


def courier_table(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The hub→Kuaidi100 table for one account (canonical hub codes): defaults with the account's
    overrides on top."""
    table = canonical_courier_map(DEFAULT_COURIER_CODES)
    table.update(canonical_courier_map(overrides or {}))
    return table


def company_code(hub_code: str, table: Mapping[str, str]) -> str | None:
    """Kuaidi100 company code for a hub courier code in any case, or None when the table has none."""
    return table.get(canonical_courier_code(hub_code))


def hub_courier_code(company: str, table: Mapping[str, str]) -> str:
    """Canonical hub courier code for a Kuaidi100 company code. A company missing from the table
    is returned as its own code (e.g. ``kfw``), so it stays recognisable rather than guessed."""
    for hub_code, com in table.items():
        if com == company:
            return hub_code
    return canonical_courier_code(company)


def tracking_state(raw: Any) -> TrackingState:
    """Canonical state for a Kuaidi100 ``state`` value (string or number)."""
    return STATES.get(str(raw).strip(), UNKNOWN_STATE_FALLBACK)


def parse_time(text: str) -> datetime:
    """A Kuaidi100 ``time``/``ftime`` (``yyyy-MM-dd HH:mm:ss``, China time) as an aware datetime."""
    return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=CHINA_TZ)


def format_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime(TIME_FORMAT)


def _item_state(item: Mapping[str, Any]) -> str | None:
    """The per-event raw state, when Kuaidi100 gave one we can read (``resultv2``)."""
    code = str(item.get("statusCode") or "").strip()
    if code in STATES:
        return code
    name = str(item.get("status") or "").strip()
    return STATE_NAMES.get(name)


def tracking_events(result: Mapping[str, Any], courier_code: str) -> list[TrackingEvent]:
    """Canonical events of one Kuaidi100 result (query answer or callback ``lastResult``),
    oldest first.

    The newest event carries the waybill's ``state``. Older events carry their own per-event
    state when Kuaidi100 sent one (``resultv2``), and are "in transit" (raw state None) otherwise.
    """
    number = str(result.get("nu") or "")
    items: Iterable[Mapping[str, Any]] = result.get("data") or []
    rows = []
    for item in items:
        stamp = str(item.get("ftime") or item.get("time") or "")
        if not stamp:
            continue
        rows.append((parse_time(stamp), item))
    rows.sort(key=lambda row: row[0])
    waybill_state = str(result.get("state") if result.get("state") is not None else "").strip()
    events = []
    for index, (moment, item) in enumerate(rows):
        raw = waybill_state if index == len(rows) - 1 and waybill_state else _item_state(item)
        events.append(
            TrackingEvent(
                tracking_number=number,
                courier_code=courier_code,
                state=tracking_state(raw) if raw is not None else TrackingState.IN_TRANSIT,
                occurred_at=moment,
                description=str(item.get("context") or ""),
                location=(str(item.get("location") or item.get("areaName") or "") or None),
                raw_state=raw,
            )
        )
    return events
