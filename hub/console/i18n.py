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
    "exceptions.nav": "Exceptions",
    "exceptions.title": "Exceptions",
    "exceptions.holds": "Held orders",
    "exceptions.holds_hint": "Orders waiting for a person, grouped by why they are held. Releasing a hold lets "
                             "the order go on once no other hold remains.",
    "exceptions.all_reasons": "All reasons",
    "exceptions.oldest": "oldest held {age}",
    "exceptions.held_for": "Held for",
    "exceptions.reason": "Reason",
    "exceptions.release": "Release",
    "exceptions.show_all": "All {count} with this reason",
    "exceptions.first": "First page",
    "exceptions.next": "Next page",
    "exceptions.release_shown": "Release all {count} shown",
    "exceptions.release_shown_confirm": "Release the {code} hold on the {count} orders shown?",
    "exceptions.no_holds": "No order is held.",
    "exceptions.no_holds_code": "No order has an open {code} hold.",
    "exceptions.released_one": "Hold {code} on order {order} released.",
    "exceptions.released_many": "Holds {code} released: {count}.",
    "exceptions.released_none": "Nothing was released: those holds had been released already.",
    "exceptions.letters": "Dead letters",
    "exceptions.letters_hint": "Messages the hub gave up on, with the reason. Fix the cause, then replay: the "
                               "message goes to its actor again.",
    "exceptions.letters_admin_only": "Dead letters are shown to roles with the right {permission}.",
    "exceptions.actor": "Actor",
    "exceptions.include_replayed": "Include replayed",
    "exceptions.filter": "Filter",
    "exceptions.clear": "Clear",
    "exceptions.letter_title": "Dead letter {id}",
    "exceptions.replayed_at": "replayed {time} by {who}",
    "exceptions.attempts_n": "attempts: {count}",
    "exceptions.no_letters": "No dead letter is waiting.",
    "exceptions.replay_all": "Replay all of {actor} (up to #{id})",
    "exceptions.replay_all_confirm": "Send every open dead letter of {actor} up to #{id} to its actor again?",
    "exceptions.replayed_many": "Dead letters of {actor} sent again: {count}.",
    "exceptions.back": "Back to exceptions",
    "exceptions.queue": "Queue",
    "exceptions.error_class": "Error",
    "exceptions.attempts": "Attempts",
    "exceptions.when": "Given up",
    "exceptions.replays": "Replays",
    "exceptions.never_replayed": "Not replayed yet.",
    "exceptions.replay": "Replay",
    "exceptions.replay_again": "Replay again",
    "exceptions.replay_hint": "Fix the cause first; replaying a message twice does no harm.",
    "exceptions.replayed_one": "Sent to {actor} again. If it fails again, it comes back as a new dead letter.",
    "exceptions.input": "Input",
    "exceptions.input_masked": "Personal data in the input is masked for your role.",
    "exceptions.source": "Source message",
    "exceptions.source_id": "Message",
    "exceptions.source_status": "Status now",
    "exceptions.inbox_pending": "waiting",
    "exceptions.inbox_done": "done",
    "exceptions.inbox_failed": "failed, will retry",
    "exceptions.inbox_dead": "given up",
    "exceptions.reload_hint": "Reload this page to see whether the replay got it done.",
    "exceptions.replay_unavailable": "The queue does not run in this process, so nothing was sent. "
                                     "Replay from a shell with `{command}`.",
    "exceptions.queue_down": "The queue's broker cannot be reached, so nothing was sent. Try again once it is back.",
    "exceptions.bad_batch": "The list of orders to release was not understood, so nothing was changed. "
                            "Reload the page and try again.",
    "exceptions.bad_replay_all": "Which dead letters to replay was not understood, so nothing was sent. "
                                 "Reload the page and try again.",
    "exceptions.see_letters": "See dead letters",
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
    "exceptions.nav": "异常",
    "exceptions.title": "异常队列",
    "exceptions.holds": "挂起订单",
    "exceptions.holds_hint": "等待人工处理的订单，按挂起原因分组。释放挂起后，若订单没有其他挂起，即继续处理。",
    "exceptions.all_reasons": "全部原因",
    "exceptions.oldest": "最久挂起 {age}",
    "exceptions.held_for": "已挂起",
    "exceptions.reason": "原因",
    "exceptions.release": "释放",
    "exceptions.show_all": "查看此原因的全部 {count} 单",
    "exceptions.first": "第一页",
    "exceptions.next": "下一页",
    "exceptions.release_shown": "释放本页显示的 {count} 单",
    "exceptions.release_shown_confirm": "释放本页显示的 {count} 单的 {code} 挂起？",
    "exceptions.no_holds": "没有挂起的订单。",
    "exceptions.no_holds_code": "没有订单处于 {code} 挂起。",
    "exceptions.released_one": "已释放订单 {order} 的挂起 {code}。",
    "exceptions.released_many": "已释放 {count} 个 {code} 挂起。",
    "exceptions.released_none": "未释放任何挂起：这些挂起已被释放。",
    "exceptions.letters": "死信",
    "exceptions.letters_hint": "中台已放弃处理的消息及其原因。先排除原因，再重放：消息会再次交给其任务处理。",
    "exceptions.letters_admin_only": "只有拥有 {permission} 权限的角色可以查看死信。",
    "exceptions.actor": "任务（actor）",
    "exceptions.include_replayed": "包含已重放",
    "exceptions.filter": "筛选",
    "exceptions.clear": "清除",
    "exceptions.letter_title": "死信 {id}",
    "exceptions.replayed_at": "{time} 由 {who} 重放",
    "exceptions.attempts_n": "尝试 {count} 次",
    "exceptions.no_letters": "没有待处理的死信。",
    "exceptions.replay_all": "重放 {actor} 的全部死信（至 #{id}）",
    "exceptions.replay_all_confirm": "将 {actor} 至 #{id} 的全部未重放死信重新发送？",
    "exceptions.replayed_many": "已重新发送 {actor} 的 {count} 条死信。",
    "exceptions.back": "返回异常队列",
    "exceptions.queue": "队列",
    "exceptions.error_class": "错误",
    "exceptions.attempts": "尝试次数",
    "exceptions.when": "放弃时间",
    "exceptions.replays": "重放",
    "exceptions.never_replayed": "尚未重放。",
    "exceptions.replay": "重放",
    "exceptions.replay_again": "再次重放",
    "exceptions.replay_hint": "请先排除原因；同一消息重放两次不会造成问题。",
    "exceptions.replayed_one": "已重新发送给 {actor}。若再次失败，会作为新的死信出现。",
    "exceptions.input": "输入",
    "exceptions.input_masked": "您的角色看不到输入中的个人信息（已脱敏）。",
    "exceptions.source": "来源消息",
    "exceptions.source_id": "消息",
    "exceptions.source_status": "当前状态",
    "exceptions.inbox_pending": "等待处理",
    "exceptions.inbox_done": "已完成",
    "exceptions.inbox_failed": "失败，将重试",
    "exceptions.inbox_dead": "已放弃",
    "exceptions.reload_hint": "刷新本页查看重放是否已完成。",
    "exceptions.replay_unavailable": "本进程未运行队列，未发送任何消息。请在命令行执行 `{command}` 重放。",
    "exceptions.queue_down": "无法连接队列服务，未发送任何消息。请在其恢复后重试。",
    "exceptions.bad_batch": "无法识别要释放的订单列表，未做任何更改。请刷新页面后重试。",
    "exceptions.bad_replay_all": "无法识别要重放的死信，未发送任何消息。请刷新页面后重试。",
    "exceptions.see_letters": "查看死信",
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
