"""The ``notifiers`` plugin: registers the built-in notifiers (``webhook``, ``email``, ``dingtalk``,
``wecom``). Nothing else: the robots' emulator is a plain ASGI app in ``plugins.notifiers.sandbox``.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.notifiers.dingtalk import DingTalkNotifier
from plugins.notifiers.smtp import EmailNotifier
from plugins.notifiers.webhook import WebhookNotifier
from plugins.notifiers.wecom import WeComNotifier


@hookimpl
def register_notifiers() -> list[type[Any]]:
    return [WebhookNotifier, EmailNotifier, DingTalkNotifier, WeComNotifier]
