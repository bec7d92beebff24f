"""``email``: the notification as a plain-text e-mail over SMTP (stdlib ``smtplib`` in a thread).

``starttls`` upgrades the connection before logging in; ``ssl`` connects with TLS from the start
(port 465). Connection faults and 4xx SMTP answers are retried; 5xx answers (bad recipient,
refused login) are permanent.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from contracts.notifications import Notification
from hub.plugin_api import PermanentError, RetryableError


class EmailSettings(BaseModel):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(min_length=3)
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    timeout_s: float = Field(default=15.0, gt=0, le=120)


def message_of(settings: EmailSettings, notification: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = notification.subject
    body = notification.text + (f"\n\n{notification.link}" if notification.link else "")
    message.set_content(body)
    return message


class EmailNotifier:
    name: ClassVar[str] = "email"
    Settings: ClassVar[type[BaseModel]] = EmailSettings

    def __init__(self, settings: Any, **_: Any) -> None:
        self.settings: EmailSettings = settings

    async def send(self, notification: Notification) -> None:
        await asyncio.to_thread(self._send, message_of(self.settings, notification))

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            if s.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with client:
                if s.starttls and not s.ssl:
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(message)
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP server {s.host} answered {exc.smtp_code}"
            if 400 <= exc.smtp_code < 500:
                raise RetryableError(text, code=str(exc.smtp_code)) from exc
            raise PermanentError(text, code=str(exc.smtp_code)) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"SMTP server {s.host} refused every recipient") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableError(f"SMTP server {s.host} unreachable: {type(exc).__name__}") from exc
