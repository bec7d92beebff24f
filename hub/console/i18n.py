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
    "nav.shops": "Shops",
    "nav.plugins": "Plugins",
    "nav.api_keys": "API keys",
    "nav.users": "Users",
    "shops.title": "Shops",
    "shops.hint": "Health as the hub sees it now; this list refreshes every {seconds} s.",
    "shops.none": "No shops are configured.",
    "shops.status_active": "healthy",
    "shops.status_degraded": "degraded",
    "shops.status_paused": "paused",
    "shops.status_disabled": "disabled",
    "shops.status_unknown": "unknown",
    "shops.paused": "Paused",
    "shops.until": "until {time}",
    "shops.until_resumed": "until someone resumes it",
    "shops.channel": "Message channel",
    "shops.channel_none": "none (this platform is polled or pushes to the hub)",
    "shops.channel_open": "open",
    "shops.channel_closed": "not open",
    "shops.since": "since {time}",
    "shops.topics": "{count} topics",
    "shops.all_topics": "every topic the app subscribes to",
    "shops.ago": "{ago} ago",
    "shops.last_intake": "Last intake",
    "shops.last_error": "Last error",
    "shops.next_retry": "Next try",
    "shops.breaker": "Circuit breaker",
    "shops.breaker_open": "open",
    "shops.breaker_closed": "closed",
    "shops.authorisation": "Authorisation",
    "shops.auth_lost": "Lost: re-authorise the shop, then resume it",
    "shops.auth_code": "Authorised with a code; the hub refreshes the token",
    "shops.auth_config": "Credentials from the configuration",
    "shops.auth_none": "No connector installed",
    "shops.authorised_at": "last authorised {time}",
    "shops.last_poll": "Last good poll",
    "shops.poll_failed": "last poll failed",
    "shops.resume": "Resume",
    "shops.resumed": "Shop {shop} resumed. Its message channel is opened again before its next intake.",
    "shops.sync": "Sync listings",
    "shops.synced": "Listings of {shop}: {seen} seen, {bound} newly bound, {already} already bound, "
                    "{unmatched} without a matching SKU.",
    "shops.sync_skipped": "Listings of {shop} not synced: {reason}",
    "shops.sync_failed": "Listing sync of {shop} failed, nothing changed: {detail}",
    "plugins.title": "Plugins",
    "plugins.hint": "Installed with the hub's Python environment; shops, couriers and warehouses are in the "
                    "config file.",
    "plugins.none": "No plugins are installed.",
    "plugins.status_loaded": "loaded",
    "plugins.status_failed": "failed to load",
    "plugins.status_disabled": "disabled",
    "plugins.distribution": "Package",
    "plugins.module": "Module",
    "plugins.hooks": "Hooks",
    "plugins.kind": "Kind",
    "plugins.kind_channel": "Sales channel",
    "plugins.kind_courier": "Courier",
    "plugins.kind_warehouse": "Warehouse",
    "plugins.platform": "Platform",
    "plugins.capabilities": "Capabilities",
    "plugins.used_by": "Used by",
    "plugins.unused": "not configured",
    "plugins.no_connectors": "This plugin adds no connectors.",
    "keys.title": "API keys",
    "keys.name": "Name",
    "keys.role": "Role",
    "keys.prefix": "Prefix",
    "keys.created": "Created",
    "keys.last_used": "Last used",
    "keys.revoked": "Revoked",
    "keys.create": "Create key",
    "keys.revoke": "Revoke…",
    "keys.problem_name": "give the key a name (1 to 100 characters) saying who or what uses it",
    "keys.problem_role": "choose one of: {roles}",
    "keys.created_title": "New API key",
    "keys.created_ok": "Key {prefix} created for {name} with role {role}.",
    "keys.the_key": "The key",
    "keys.shown_once": "This is the only time the key is shown: the hub keeps only its hash.",
    "keys.copy_hint": "Select it (one click selects it all), copy it and store it in the application's "
                      "secret store now.",
    "keys.back": "Back to API keys",
    "keys.revoke_title": "Revoke API key {prefix}",
    "keys.revoke_warning": "Anything using this key gets 401 from its next request, and consoles signed in "
                           "with it are signed out. This cannot be undone.",
    "keys.confirm_revoke": "Revoke the key",
    "keys.cancel": "Cancel",
    "keys.revoked_ok": "Key {prefix} revoked.",
    "keys.not_found": "No active API key with prefix {prefix}.",
    "keys.last_admin": "Key {prefix} was not revoked: it is the last active admin key. Create another admin "
                       "key first.",
    "users.title": "Users",
    "users.name": "User name",
    "users.role": "Role",
    "users.password": "Password",
    "users.password_again": "Password again",
    "users.password_hint": "At least {min} characters.",
    "users.add": "Add user",
    "users.state": "State",
    "users.active": "active",
    "users.inactive": "deactivated",
    "users.created": "Added",
    "users.password_changed": "Password set",
    "users.none": "No users yet: people sign in with API keys only.",
    "users.problem_name": "letters, digits, '.', '_', '@' or '-' (at most 100), starting with a letter or digit",
    "users.problem_name_taken": "a user named {name} already exists",
    "users.problem_role": "choose one of: {roles}",
    "users.problem_password": "at least {min} characters",
    "users.problem_password_again": "the two passwords differ",
    "users.user_title": "User {name}",
    "users.back": "Back to users",
    "users.reset_password": "Reset the password",
    "users.set_password": "Set password",
    "users.deactivate": "Deactivate",
    "users.deactivate_hint": "A deactivated user cannot sign in, and their open sessions end at their next "
                             "request. They can be reactivated later.",
    "users.reactivate": "Reactivate",
    "users.done_created": "User {name} added. Give them their password through a safe channel.",
    "users.done_password": "Password of {name} changed.",
    "users.done_deactivated": "User {name} deactivated.",
    "users.done_reactivated": "User {name} reactivated.",
    "users.not_found": "No user named {name}.",
    "users.last_admin": "{name} stays active: they are the last active admin user. Add another admin user first.",
    "users.already_inactive": "{name} is already deactivated.",
    "users.already_active": "{name} is already active.",
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
    "nav.shops": "店铺",
    "nav.plugins": "插件",
    "nav.api_keys": "API 密钥",
    "nav.users": "用户",
    "shops.title": "店铺",
    "shops.hint": "中台当前看到的运行状况；本列表每 {seconds} 秒刷新一次。",
    "shops.none": "尚未配置店铺。",
    "shops.status_active": "正常",
    "shops.status_degraded": "降级",
    "shops.status_paused": "已暂停",
    "shops.status_disabled": "已停用",
    "shops.status_unknown": "未知",
    "shops.paused": "暂停",
    "shops.until": "至 {time}",
    "shops.until_resumed": "直到有人恢复",
    "shops.channel": "消息通道",
    "shops.channel_none": "无（该平台通过轮询或推送接入）",
    "shops.channel_open": "已开通",
    "shops.channel_closed": "未开通",
    "shops.since": "自 {time}",
    "shops.topics": "{count} 个主题",
    "shops.all_topics": "应用订阅的全部主题",
    "shops.ago": "{ago}前",
    "shops.last_intake": "最近接收",
    "shops.last_error": "最近错误",
    "shops.next_retry": "下次重试",
    "shops.breaker": "熔断器",
    "shops.breaker_open": "已熔断",
    "shops.breaker_closed": "正常",
    "shops.authorisation": "授权",
    "shops.auth_lost": "已失效：请重新授权店铺，然后恢复",
    "shops.auth_code": "已通过授权码授权；令牌由中台自动刷新",
    "shops.auth_config": "凭证来自配置文件",
    "shops.auth_none": "未安装连接器",
    "shops.authorised_at": "最近授权于 {time}",
    "shops.last_poll": "最近成功轮询",
    "shops.poll_failed": "最近一次轮询失败",
    "shops.resume": "恢复",
    "shops.resumed": "店铺 {shop} 已恢复。下次接收消息前会重新开通其消息通道。",
    "shops.sync": "同步商品",
    "shops.synced": "{shop} 的商品：共 {seen} 个，新绑定 {bound} 个，已绑定 {already} 个，"
                    "{unmatched} 个没有匹配的 SKU。",
    "shops.sync_skipped": "{shop} 的商品未同步：{reason}",
    "shops.sync_failed": "{shop} 的商品同步失败，未做任何更改：{detail}",
    "plugins.title": "插件",
    "plugins.hint": "插件随中台的 Python 环境安装；店铺、快递和仓库在配置文件中设置。",
    "plugins.none": "未安装任何插件。",
    "plugins.status_loaded": "已加载",
    "plugins.status_failed": "加载失败",
    "plugins.status_disabled": "已停用",
    "plugins.distribution": "软件包",
    "plugins.module": "模块",
    "plugins.hooks": "钩子",
    "plugins.kind": "类型",
    "plugins.kind_channel": "销售渠道",
    "plugins.kind_courier": "快递",
    "plugins.kind_warehouse": "仓库",
    "plugins.platform": "平台",
    "plugins.capabilities": "能力",
    "plugins.used_by": "使用者",
    "plugins.unused": "未配置",
    "plugins.no_connectors": "该插件不提供连接器。",
    "keys.title": "API 密钥",
    "keys.name": "名称",
    "keys.role": "角色",
    "keys.prefix": "前缀",
    "keys.created": "创建时间",
    "keys.last_used": "最近使用",
    "keys.revoked": "已吊销",
    "keys.create": "创建密钥",
    "keys.revoke": "吊销…",
    "keys.problem_name": "请填写名称（1 到 100 个字符），说明由谁或什么系统使用",
    "keys.problem_role": "请选择其一：{roles}",
    "keys.created_title": "新 API 密钥",
    "keys.created_ok": "已为 {name} 创建密钥 {prefix}，角色 {role}。",
    "keys.the_key": "密钥",
    "keys.shown_once": "密钥只显示这一次：中台只保存其哈希值。",
    "keys.copy_hint": "请立即选中（单击即可全选）并复制，保存到应用的密钥存储中。",
    "keys.back": "返回 API 密钥",
    "keys.revoke_title": "吊销 API 密钥 {prefix}",
    "keys.revoke_warning": "使用该密钥的系统从下一次请求起会收到 401，用它登录的控制台会被登出。此操作不可撤销。",
    "keys.confirm_revoke": "吊销密钥",
    "keys.cancel": "取消",
    "keys.revoked_ok": "密钥 {prefix} 已吊销。",
    "keys.not_found": "没有前缀为 {prefix} 的有效 API 密钥。",
    "keys.last_admin": "密钥 {prefix} 未被吊销：这是最后一个有效的管理员密钥。请先创建另一个管理员密钥。",
    "users.title": "用户",
    "users.name": "用户名",
    "users.role": "角色",
    "users.password": "密码",
    "users.password_again": "再次输入密码",
    "users.password_hint": "至少 {min} 个字符。",
    "users.add": "添加用户",
    "users.state": "状态",
    "users.active": "启用",
    "users.inactive": "已停用",
    "users.created": "添加时间",
    "users.password_changed": "密码设置时间",
    "users.none": "还没有用户：目前只能用 API 密钥登录。",
    "users.problem_name": "只能包含字母、数字、'.'、'_'、'@' 或 '-'（最多 100 个），以字母或数字开头",
    "users.problem_name_taken": "用户 {name} 已存在",
    "users.problem_role": "请选择其一：{roles}",
    "users.problem_password": "至少 {min} 个字符",
    "users.problem_password_again": "两次输入的密码不一致",
    "users.user_title": "用户 {name}",
    "users.back": "返回用户列表",
    "users.reset_password": "重置密码",
    "users.set_password": "设置密码",
    "users.deactivate": "停用",
    "users.deactivate_hint": "停用的用户无法登录，已打开的会话在下一次请求时结束。之后可以重新启用。",
    "users.reactivate": "重新启用",
    "users.done_created": "已添加用户 {name}。请通过安全渠道告知其密码。",
    "users.done_password": "{name} 的密码已更改。",
    "users.done_deactivated": "用户 {name} 已停用。",
    "users.done_reactivated": "用户 {name} 已重新启用。",
    "users.not_found": "没有名为 {name} 的用户。",
    "users.last_admin": "{name} 仍保持启用：这是最后一个启用的管理员用户。请先添加另一个管理员用户。",
    "users.already_inactive": "{name} 已经是停用状态。",
    "users.already_active": "{name} 已经是启用状态。",
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
