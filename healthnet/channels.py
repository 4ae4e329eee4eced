"""Delivery channels for outbox messages. A channel sends one message or raises; it is told the
message's id so a gateway that supports idempotency keys can drop a repeat."""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger("healthnet.notifications")


class Channel(Protocol):
    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None: ...


class LogChannel:
    """Writes the message to the log: the embedded default, and a record in any deployment."""

    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None:
        logger.info("notification %s to %s: %s | %s", message_id, recipient, subject, body)


class EmailChannel:
    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None:
        send_mail(subject or "HealthNet", body, settings.DEFAULT_FROM_EMAIL, [recipient])


class SmsGateway(Protocol):
    """What an SMS provider adapter implements (settings.SMS_GATEWAY names the class)."""

    def send_sms(self, *, idempotency_key: str, phone: str, text: str) -> None: ...


class LoggingSmsGateway:
    """Stand-in until a city's SMS provider is contracted: logs instead of sending."""

    def send_sms(self, *, idempotency_key: str, phone: str, text: str) -> None:
        logger.info("sms %s to %s: %s", idempotency_key, phone, text)


class SmsChannel:
    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None:
        gateway: SmsGateway = import_string(settings.SMS_GATEWAY)()
        gateway.send_sms(idempotency_key=message_id, phone=recipient, text=body)


def channel_for(name: str) -> Channel:
    try:
        path = settings.NOTIFICATION_CHANNELS[name]
    except KeyError:
        raise ValueError(f"unknown notification channel {name!r}") from None
    return import_string(path)()
