"""Delivery channels for outbox messages. A channel sends one message or raises; it is told the
message's id so a gateway that supports idempotency keys can drop a repeat.

Log lines never carry a phone number or an e-mail address in clear (recipient_masked): logs are
kept longer and read by more people than the outbox table.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger("healthnet.notifications")


class Channel(Protocol):
    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None: ...


_PHONE = re.compile(r"^\+?[\d\s-]{7,20}$")


def recipient_masked(recipient: str) -> str:
    """A recipient fit for a log line: a phone number keeps its first 3 and last 4 digits
    (138****5678, as Chinese apps show them); an e-mail address its first character and domain;
    anything else its first 2 characters."""
    value = recipient.strip()
    if _PHONE.match(value):
        digits = re.sub(r"\D", "", value)
        if len(digits) == 13 and digits.startswith("86"):  # +86 and a mobile number
            digits = digits[2:]
        if len(digits) >= 8:
            return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
        return "*" * len(digits)
    local, at, domain = value.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return f"{value[:2]}***" if value else ""


class LogChannel:
    """Writes the message to the log: the embedded default, and a record in any deployment."""

    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None:
        logger.info(
            "notification %s to %s: %s | %s", message_id, recipient_masked(recipient), subject, body
        )


class EmailChannel:
    def send(self, *, message_id: str, recipient: str, subject: str, body: str) -> None:
        send_mail(subject or "HealthNet", body, settings.DEFAULT_FROM_EMAIL, [recipient])


class SmsGateway(Protocol):
    """What an SMS provider adapter implements (settings.SMS_GATEWAY names the class)."""

    def send_sms(self, *, idempotency_key: str, phone: str, text: str) -> None: ...


class LoggingSmsGateway:
    """Stand-in until a city's SMS provider is contracted: logs instead of sending, with the
    number masked. Refused in production (config/settings.py)."""

    def send_sms(self, *, idempotency_key: str, phone: str, text: str) -> None:
        logger.info("sms %s to %s: %s", idempotency_key, recipient_masked(phone), text)


class SmsNotConfigured(RuntimeError):
    pass


class DisabledSmsGateway:
    """For a deployment without SMS: every message fails (the outbox marks it failed after its
    attempts), so nothing pretends to have been sent."""

    def send_sms(self, *, idempotency_key: str, phone: str, text: str) -> None:
        raise SmsNotConfigured(
            "SMS is disabled (SMS_GATEWAY=healthnet.channels.DisabledSmsGateway)"
        )


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
