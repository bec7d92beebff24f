"""Navigation words of the fulfilment screens: the main nav's entry and the sub-navigation shared
by every fulfilment screen (its links, and what each link's number counts)."""

from __future__ import annotations

EN: dict[str, str] = {
    "fulfilment.nav": "Fulfilment",
    "fulfilment.subnav": "Fulfilment screens",
    "fulfilment.subnav.review": "Review",
    "fulfilment.subnav.review_hint": "Orders held by the review or waiting for a person",
    "fulfilment.subnav.delivery": "Delivery orders",
    "fulfilment.subnav.delivery_hint": "Delivery orders pending or failed",
    "fulfilment.subnav.warehouse": "Own warehouse pick list",
    "fulfilment.subnav.warehouse_hint": "Own-warehouse delivery orders to pick",
    "fulfilment.subnav.parcels": "Parcels & labels",
    "fulfilment.subnav.parcels_hint": "Parcels whose labels are not printed yet",
    "fulfilment.subnav.merges": "Merges",
    "fulfilment.subnav.merges_hint": "Orders waiting for a merge decision",
    "fulfilment.subnav.exceptions": "Stuck parcels",
    "fulfilment.subnav.exceptions_hint": "Open fulfilment exceptions",
}

ZH: dict[str, str] = {
    "fulfilment.nav": "发货",
    "fulfilment.subnav": "发货页面",
    "fulfilment.subnav.review": "审单",
    "fulfilment.subnav.review_hint": "审单拦截或等待人工处理的订单",
    "fulfilment.subnav.delivery": "发货单",
    "fulfilment.subnav.delivery_hint": "待发送或失败的发货单",
    "fulfilment.subnav.warehouse": "自有仓拣货单",
    "fulfilment.subnav.warehouse_hint": "自有仓待拣货的发货单",
    "fulfilment.subnav.parcels": "包裹与面单",
    "fulfilment.subnav.parcels_hint": "面单尚未打印的包裹",
    "fulfilment.subnav.merges": "合单",
    "fulfilment.subnav.merges_hint": "等待合单决定的订单",
    "fulfilment.subnav.exceptions": "异常包裹",
    "fulfilment.subnav.exceptions_hint": "未处理的发货异常",
}
