"""Keeping secrets out of logs and error reports."""

from __future__ import annotations

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

# Header and parameter shapes used by the products we talk to (Shopify, ERPNext, ShipHero, …).
_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|token|basic)\s+)?)[^\s\"',}]+"),
    re.compile(r"(?i)(x-shopify-access-token[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    re.compile(r"(?i)((?:api_secret|api_key|access_token|refresh_token|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}&]+"),
]


def redact(text: str) -> str:
    """Replace credential values in a string with [redacted]."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Logging filter: credentials never reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class HubExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding settings that hold credentials under other names."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|BROKER_URL|CREDENTIAL",
        flags=re.IGNORECASE,
    )
