"""The console's words in English and Simplified Chinese, and how numbers, money and times read.

A catalogue is a plain dict per language; every string a person reads on a page is a key here
(``tests/unit/test_console_i18n.py`` checks both catalogues have the same keys and placeholders).
The language comes from the ``hub_lang`` cookie (the switcher sets it), else the browser's
``Accept-Language``, else English. Times are shown in the merchant's zone (``[console] time_zone``).
Not for API messages, which stay English for machines and logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "hub_lang"

_CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "US$", "EUR": "€", "HKD": "HK$", "GBP": "£", "JPY": "JP¥"}

EN: dict[str, str] = {
    "app.name": "Connector Hub",
    "nav.overview": "Overview",
    "nav.orders": "Orders",
    "nav.sign_out": "Sign out",
    "nav.language": "中文",
    "nav.signed_in_as": "{name} ({role})",
    "login.title": "Sign in",
    "login.with_key": "With an API key",
    "login.api_key": "API key",
    "login.with_password": "With a user name and password",
    "login.user": "User name",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed_key": "That API key is unknown or revoked.",
    "login.failed_password": "Wrong user name or password, or the user is deactivated.",
    "login.expired": "Your session expired. Sign in again.",
    "login.signed_out": "You are signed out.",
    "login.key_hint": "`hub run --demo` prints an admin key; `hub apikey create` makes more.",
    "error.title": "Something stopped this page",
    "error.csrf": "This form was out of date (its security token did not match your session). "
                  "Nothing was changed. Reload the page and try again.",
    "error.session": "Your session ended, so nothing was changed. Sign in again and repeat the action.",
    "error.forbidden": "Your role ({role}) may not do this ({permission}). Nothing was changed.",
    "error.not_found": "Not found: {detail}",
    "error.conflict": "Not done: {detail}",
    "error.bad_input": "Please correct: {detail}",
    "error.back": "Back to the overview",
    "overview.title": "Overview",
    "overview.today": "Today ({date})",
    "overview.orders_today": "Orders today",
    "overview.sales_today": "Sales today",
    "overview.per_channel": "Per channel",
    "overview.channel": "Channel",
    "overview.orders": "Orders",
    "overview.sales": "Sales",
    "overview.per_hour": "Orders per hour",
    "overview.status_shares": "Status today",
    "overview.held": "Held orders",
    "overview.latest": "Latest orders",
    "overview.held_link": "See held orders",
    "overview.failing_shops": "Shops needing attention",
    "overview.no_failing_shops": "All shops are healthy.",
    "overview.paused": "Paused: {reason}",
    "overview.failed_messages": "{count} messages failing",
    "overview.dead_messages": "{count} messages given up",
    "overview.sync_lag": "Sync per shop",
    "overview.shop": "Shop",
    "overview.last_message": "Last message",
    "overview.stock_waiting": "Stock pushes waiting",
    "overview.oldest_wait": "Oldest waiting",
    "overview.low_stock": "Low stock",
    "overview.no_low_stock": "No SKU is below its threshold.",
    "overview.sku": "SKU",
    "overview.available": "Available",
    "overview.threshold": "Threshold",
    "overview.updated": "Updated {time}",
    "overview.never": "never",
    "orders.title": "Orders",
    "orders.filter": "Filter",
    "orders.clear": "Clear",
    "orders.status": "Status",
    "orders.any": "Any",
    "orders.shop": "Shop",
    "orders.platform": "Channel",
    "orders.date": "Day placed",
    "orders.buyer": "Buyer nick",
    "orders.sku": "SKU",
    "orders.held_only": "Held only",
    "orders.id": "Order",
    "orders.external_id": "Channel order id",
    "orders.placed": "Placed",
    "orders.total": "Total",
    "orders.none": "No orders match these filters.",
    "orders.next": "Next page",
    "orders.first": "First page",
    "orders.on_hold": "held",
    "order.title": "Order {id}",
    "order.summary": "Summary",
    "order.fulfilment": "Fulfilment",
    "order.raw_status": "Channel status",
    "order.paid": "Paid",
    "order.buyer": "Buyer",
    "order.address": "Ship to",
    "order.pii_masked": "Buyer details are masked for your role.",
    "order.lines": "Lines",
    "order.title_col": "Item",
    "order.quantity": "Qty",
    "order.unit_price": "Unit price",
    "order.holds": "Holds",
    "order.no_holds": "No holds.",
    "order.hold_since": "since {time}",
    "order.hold_released": "released {time} by {who}",
    "order.release": "Release",
    "order.released_ok": "Hold {code} released.",
    "order.history": "History",
    "order.shipments": "Shipments",
    "order.no_shipments": "Nothing shipped yet.",
    "order.tracking": "Tracking",
    "order.sources": "Source messages",
    "order.no_sources": "No source messages.",
    "order.received": "Received",
    "order.back": "Back to orders",
    "status.pending_payment": "Awaiting payment",
    "status.paid": "Paid",
    "status.partially_shipped": "Partly shipped",
    "status.shipped": "Shipped",
    "status.delivered": "Delivered",
    "status.completed": "Completed",
    "status.cancelled": "Cancelled",
    "status.closed": "Closed",
    "status.refunded": "Refunded",
    # orders screen: saved views, search, per-field problems (con-orders)
    "orders.hold": "Hold reason",
    "orders.page": "Page",
    "orders.starts_with": "starts with…",
    "orders.search_hint": "Buyer and SKU find those that start with what you type (case-sensitive). "
                          "Hold reason finds orders still held for it.",
    "orders.problem.summary": "Some values need correcting:",
    "orders.problem.unknown_status": "Choose a status from the list.",
    "orders.problem.bad_date": "A day reads YYYY-MM-DD, e.g. 2026-11-11.",
    "orders.problem.too_long": "Too long: shorten it.",
    "orders.problem.bad_cursor": "This page link is out of date; start again from the first page.",
    "orders.problem.name_empty": "Give the view a name.",
    "orders.problem.name_too_long": "A view's name has at most {most} characters.",
    "orders.problem.name_duplicate": "You already have a view with this name; choose another.",
    "orders.problem.name_too_many": "You have {views} saved views; delete one first.",
    "orders.views.title": "Saved views",
    "orders.views.none": "None yet: filter the list, then save the filters below.",
    "orders.views.shared": "shared",
    "orders.views.shared_by": "Shared by {name}",
    "orders.views.delete": "Delete the view “{name}”",
    "orders.views.saved": "Saved the view “{name}”.",
    "orders.views.deleted": "Deleted the view “{name}”.",
    "orders.views.save_summary": "Save these filters as a view",
    "orders.views.name": "View name",
    "orders.views.name_example": "e.g. Held Tmall orders",
    "orders.views.share": "Share with everyone",
    "orders.views.save": "Save view",
    "orders.views.not_yours": "Someone else shared this view; only they or an admin may delete it. "
                              "Nothing was changed.",
    "orders.hold_code.high_value": "High value",
    "orders.hold_code.stock_short": "Stock short",
    "orders.hold_code.cancel_requested": "Cancel requested",
    "orders.hold_code.forbid_consign": "Channel forbids shipping",
    "orders.hold_code.cancel_requested_by_buyer": "Buyer asked to cancel",
    "orders.hold_code.risk_control": "Risk control",
}

ZH: dict[str, str] = {
    "app.name": "Connector Hub 中台",
    "nav.overview": "概览",
    "nav.orders": "订单",
    "nav.sign_out": "退出登录",
    "nav.language": "English",
    "nav.signed_in_as": "{name}（{role}）",
    "login.title": "登录",
    "login.with_key": "使用 API 密钥",
    "login.api_key": "API 密钥",
    "login.with_password": "使用用户名和密码",
    "login.user": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed_key": "该 API 密钥不存在或已吊销。",
    "login.failed_password": "用户名或密码错误，或该用户已停用。",
    "login.expired": "会话已过期，请重新登录。",
    "login.signed_out": "您已退出登录。",
    "login.key_hint": "`hub run --demo` 会打印一个管理员密钥；用 `hub apikey create` 创建更多。",
    "error.title": "此页面无法继续",
    "error.csrf": "此表单已过期（安全令牌与会话不符），未做任何更改。请刷新页面后重试。",
    "error.session": "会话已结束，未做任何更改。请重新登录后再操作。",
    "error.forbidden": "您的角色（{role}）无权执行此操作（{permission}），未做任何更改。",
    "error.not_found": "未找到：{detail}",
    "error.conflict": "未执行：{detail}",
    "error.bad_input": "请更正：{detail}",
    "error.back": "返回概览",
    "overview.title": "概览",
    "overview.today": "今日（{date}）",
    "overview.orders_today": "今日订单",
    "overview.sales_today": "今日销售额",
    "overview.per_channel": "各渠道",
    "overview.channel": "渠道",
    "overview.orders": "订单数",
    "overview.sales": "销售额",
    "overview.per_hour": "每小时订单",
    "overview.status_shares": "今日状态分布",
    "overview.held": "挂起订单",
    "overview.latest": "最新订单",
    "overview.held_link": "查看挂起订单",
    "overview.failing_shops": "需要关注的店铺",
    "overview.no_failing_shops": "所有店铺运行正常。",
    "overview.paused": "已暂停：{reason}",
    "overview.failed_messages": "{count} 条消息处理失败",
    "overview.dead_messages": "{count} 条消息已放弃",
    "overview.sync_lag": "各店铺同步",
    "overview.shop": "店铺",
    "overview.last_message": "最近消息",
    "overview.stock_waiting": "待推送库存",
    "overview.oldest_wait": "最久等待",
    "overview.low_stock": "低库存",
    "overview.no_low_stock": "没有低于阈值的 SKU。",
    "overview.sku": "SKU",
    "overview.available": "可用",
    "overview.threshold": "阈值",
    "overview.updated": "更新于 {time}",
    "overview.never": "从未",
    "orders.title": "订单",
    "orders.filter": "筛选",
    "orders.clear": "清除",
    "orders.status": "状态",
    "orders.any": "全部",
    "orders.shop": "店铺",
    "orders.platform": "渠道",
    "orders.date": "下单日期",
    "orders.buyer": "买家昵称",
    "orders.sku": "SKU",
    "orders.held_only": "仅挂起",
    "orders.id": "订单",
    "orders.external_id": "平台订单号",
    "orders.placed": "下单时间",
    "orders.total": "金额",
    "orders.none": "没有符合条件的订单。",
    "orders.next": "下一页",
    "orders.first": "第一页",
    "orders.on_hold": "挂起",
    "order.title": "订单 {id}",
    "order.summary": "摘要",
    "order.fulfilment": "履约状态",
    "order.raw_status": "平台状态",
    "order.paid": "付款时间",
    "order.buyer": "买家",
    "order.address": "收货地址",
    "order.pii_masked": "您的角色看不到买家个人信息（已脱敏）。",
    "order.lines": "商品明细",
    "order.title_col": "商品",
    "order.quantity": "数量",
    "order.unit_price": "单价",
    "order.holds": "挂起原因",
    "order.no_holds": "无挂起。",
    "order.hold_since": "自 {time}",
    "order.hold_released": "{time} 由 {who} 释放",
    "order.release": "释放",
    "order.released_ok": "已释放挂起 {code}。",
    "order.history": "历史记录",
    "order.shipments": "发货",
    "order.no_shipments": "尚未发货。",
    "order.tracking": "运单号",
    "order.sources": "来源消息",
    "order.no_sources": "没有来源消息。",
    "order.received": "接收时间",
    "order.back": "返回订单列表",
    "status.pending_payment": "待付款",
    "status.paid": "已付款",
    "status.partially_shipped": "部分发货",
    "status.shipped": "已发货",
    "status.delivered": "已签收",
    "status.completed": "已完成",
    "status.cancelled": "已取消",
    "status.closed": "已关闭",
    "status.refunded": "已退款",
    # orders screen: saved views, search, per-field problems (con-orders)
    "orders.hold": "挂起原因",
    "orders.page": "页码",
    "orders.starts_with": "开头匹配…",
    "orders.search_hint": "买家和 SKU 按开头匹配（区分大小写）。挂起原因筛选仍因该原因挂起的订单。",
    "orders.problem.summary": "以下内容需要更正：",
    "orders.problem.unknown_status": "请从列表中选择状态。",
    "orders.problem.bad_date": "日期格式为 YYYY-MM-DD，例如 2026-11-11。",
    "orders.problem.too_long": "内容太长，请缩短。",
    "orders.problem.bad_cursor": "此分页链接已失效，请从第一页重新开始。",
    "orders.problem.name_empty": "请为视图命名。",
    "orders.problem.name_too_long": "视图名称最多 {most} 个字符。",
    "orders.problem.name_duplicate": "您已有同名视图，请换一个名称。",
    "orders.problem.name_too_many": "您已保存 {views} 个视图，请先删除一个。",
    "orders.views.title": "已保存的视图",
    "orders.views.none": "暂无：先筛选列表，再在下方保存筛选条件。",
    "orders.views.shared": "共享",
    "orders.views.shared_by": "由 {name} 共享",
    "orders.views.delete": "删除视图“{name}”",
    "orders.views.saved": "已保存视图“{name}”。",
    "orders.views.deleted": "已删除视图“{name}”。",
    "orders.views.save_summary": "将当前筛选保存为视图",
    "orders.views.name": "视图名称",
    "orders.views.name_example": "例如：天猫挂起订单",
    "orders.views.share": "与所有人共享",
    "orders.views.save": "保存视图",
    "orders.views.not_yours": "此视图由他人共享，只有共享者或管理员可以删除。未做任何更改。",
    "orders.hold_code.high_value": "高金额",
    "orders.hold_code.stock_short": "缺货",
    "orders.hold_code.cancel_requested": "申请取消",
    "orders.hold_code.forbid_consign": "平台禁止发货",
    "orders.hold_code.cancel_requested_by_buyer": "买家申请取消",
    "orders.hold_code.risk_control": "风控",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "zh-CN": ZH}


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in: the switcher's cookie, else the browser's first match, else English."""
    if cookie in CATALOGUES:
        return cookie
    ranked: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()))
    for _, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """Words and formats for one page view: ``t("order.title", id=5)``, ``money(amount, "CNY")``."""

    language: str
    zone: ZoneInfo

    @property
    def catalogue(self) -> Mapping[str, str]:
        return CATALOGUES[self.language]

    def t(self, key: str, **values: object) -> str:
        text = self.catalogue.get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    def status(self, status: str | None) -> str:
        if not status:
            return "-"
        return self.catalogue.get(f"status.{status}", status)

    def number(self, value: int | float | Decimal | None) -> str:
        if value is None:
            return "-"
        return f"{value:,}"

    def money(self, amount: Decimal | float | None, currency: str) -> str:
        """``¥1,234.50``: the currency's symbol (or code), thousands separators, two decimals."""
        if amount is None:
            return "-"
        symbol = _CURRENCY_SYMBOLS.get(currency.upper())
        text = f"{Decimal(amount):,.2f}"
        return f"{symbol}{text}" if symbol else f"{currency.upper()} {text}"

    def time(self, moment: datetime | None, *, seconds: bool = False) -> str:
        """The moment in the merchant's zone, ``2026-12-10 14:05``; '-' when unknown."""
        if moment is None:
            return "-"
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

    def ago(self, moment: datetime | None, now: datetime) -> str:
        """How long before ``now``: ``45 s``, ``12 min``, ``3 h``, ``2 d``; the catalogue's 'never' when unknown."""
        if moment is None:
            return self.t("overview.never")
        seconds = max(0, int((now - moment).total_seconds()))
        if seconds < 60:
            return f"{seconds} s"
        if seconds < 3600:
            return f"{seconds // 60} min"
        if seconds < 86400:
            return f"{seconds // 3600} h"
        return f"{seconds // 86400} d"
